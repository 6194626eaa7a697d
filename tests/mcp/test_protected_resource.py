"""Issue 16 end to end: the real MCP SDK client against an MCP server behind
`AuthHygiene(profile="mcp", protected_resource=ProtectedResource(...))`.

The SDK's `OAuthClientProvider` discovers everything from what the
middleware answers: the 401's `resource_metadata` and `scope` (RFC 9728
§5.1, the MCP authorization spec), the RFC 9728 metadata document, the 403
`insufficient_scope` challenge that lists every required scope (step-up).
Every run ends with the tool call answered. The raw-HTTP tables pin what
the SDK's own server gets wrong (see test_sdk_baseline.py) and the
middleware answers right."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mcp.shared.auth_utils import check_resource_allowed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount
from werkzeug.datastructures import WWWAuthenticate

import authhygiene
from authhygiene import AuthFailure, AuthHygiene, Reason, Scopes
from authhygiene.verify import JWT

from .harness import (
    ADMIN,
    MODES,
    TOOLS,
    Answered,
    AuthorizationServer,
    Flow,
    Proxy,
    Recorder,
    Running,
    ScopeGate,
    mcp_server,
    reserve,
    run_flow,
    scopes_in_auth,
    serving,
    without_resource_metadata,
)

ProtectedResource: Any = getattr(authhygiene, "ProtectedResource", None)
pytestmark = pytest.mark.skipif(
    ProtectedResource is None, reason="authhygiene.ProtectedResource has not landed yet"
)

PRM = "/.well-known/oauth-protected-resource"
TIMEOUT_S = 10.0


# --- the server under test -------------------------------------------------------


async def refuse_without_admin(scope: Any, receive: Any, send: Any) -> None:
    """The app's own rule, as it would write it: admin_reset needs both scopes."""
    raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope=[TOOLS, ADMIN])


@dataclass(frozen=True)
class Setup:
    """One way of deploying the MCP server behind the middleware."""

    mount: str = ""  # the MCP app mounted under this prefix of an outer Starlette app
    trusted_proxies: Sequence[str] = ("127.0.0.1",)
    # What the client's server URL is, given the server's own port (a
    # proxy in front answers on another one).
    public_base: Callable[[int], str] | None = None
    # An ASGI layer between the wire and the middleware (a gateway).
    outer: Callable[[Any], Any] | None = None

    @property
    def path(self) -> str:
        return f"{self.mount}/mcp"


def build_protected(auth_server: AuthorizationServer, setup: Setup, port: int) -> Recorder:
    base = setup.public_base(port) if setup.public_base else f"http://127.0.0.1:{port}"
    server = mcp_server()
    inner = server.streamable_http_app(host="127.0.0.1")
    if setup.mount:
        app: Any = Starlette(
            routes=[Mount(setup.mount, app=inner)],
            lifespan=lambda _: server.session_manager.run(),
        )
    else:
        app = inner
    gated = ScopeGate(app, scopes_of=scopes_in_auth, refuse=refuse_without_admin)
    options: dict[str, Any] = {}
    if setup.trusted_proxies:
        options["trusted_proxies"] = list(setup.trusted_proxies)
    hygiene = AuthHygiene(
        gated,
        realm="mcp",
        profile="mcp",
        protected_resource=ProtectedResource(
            authorization_servers=[auth_server.issuer],
            scopes_supported=[TOOLS, ADMIN],
            paths={setup.path: [TOOLS]},
        ),
        mode="enforce",
        verify=JWT(
            algorithms=["RS256"],
            jwks_url=auth_server.jwks_url(),
            issuer=auth_server.issuer,
            audience=f"{base}{setup.path}",
        ),
        require=[("*", f"{setup.path}*", Scopes(TOOLS))],
        **options,
    )
    return Recorder(setup.outer(hygiene) if setup.outer else hygiene)


@contextlib.contextmanager
def protected(
    auth_server: AuthorizationServer, setup: Setup = Setup(), sock: socket.socket | None = None
) -> Iterator[Running]:
    with serving(
        lambda port: build_protected(auth_server, setup, port), name="mcp-e2e-rs", sock=sock
    ) as running:
        yield running


@pytest.fixture
def server(auth_server: AuthorizationServer) -> Iterator[Running]:
    with protected(auth_server) as running:
        yield running


# --- checks -------------------------------------------------------------------------


def parsed(challenge: str | None) -> WWWAuthenticate:
    assert challenge is not None
    value = WWWAuthenticate.from_header(challenge)  # werkzeug, the oracle
    assert value is not None
    return value


def bearer_challenges(reply: httpx.Response) -> list[WWWAuthenticate]:
    values = [parsed(v) for v in reply.headers.get_list("www-authenticate")]
    return [v for v in values if v.type == "bearer"]


def assert_flow_answered(flow: Flow, *, expect: Sequence[str] = ("hello",)) -> None:
    tools, *calls = flow.results
    assert tools == ["admin_reset", "echo"]
    assert len(calls) == len(expect)
    for result, text in zip(calls, expect, strict=True):
        assert not isinstance(result, Exception), type(result).__name__
        assert not result.is_error
        assert result.content[0].text == text


def assert_authorized_answers_pass(answered: Sequence[Answered]) -> None:
    """Once the client holds a token, every request it sends is answered."""
    last = answered[-1]
    assert last.authorized
    assert last.status < 400


def first_after(answered: Sequence[Answered], index: int) -> Answered:
    return answered[index + 1]


# --- discovery ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_discovery_from_the_challenge(
    auth_server: AuthorizationServer, server: Running, mode: str
) -> None:
    url = server.url("/mcp")

    flow = run_flow(url, mode=mode)

    assert_flow_answered(flow)
    answered = server.app.answered()
    first = answered[0]
    assert (first.method, first.path, first.status, first.authorized) == (
        "POST",
        "/mcp",
        401,
        False,
    )
    challenge = parsed(first.challenge)
    assert challenge.type == "bearer"
    assert challenge.parameters.get("resource_metadata") == server.url(f"{PRM}/mcp")
    assert challenge.parameters.get("scope") == TOOLS
    assert "error" not in challenge.parameters  # RFC 6750 §3.1: nothing was presented
    # The client fetched exactly the URL the challenge named, first.
    assert (answered[1].method, answered[1].path, answered[1].status) == ("GET", f"{PRM}/mcp", 200)
    # ... and asked the AS for the challenge's scope, for this resource (RFC 8707).
    assert flow.browser.scopes_asked() == [TOOLS]
    assert flow.browser.resources_asked() == [url]
    (token_request,) = auth_server.requests("/token")
    assert token_request.params["resource"] == url
    assert_authorized_answers_pass(answered)
    assert [a.status for a in answered if a.authorized and a.status >= 400] == []


# id, whether the path-based well-known is hidden, the PRM paths the client
# fetches in order (with the status each got)
FALLBACK_CASES = [
    pytest.param(False, [(f"{PRM}/mcp", 200)], id="path-based"),
    pytest.param(True, [(f"{PRM}/mcp", 404), (PRM, 200)], id="root-based"),
]


@pytest.mark.parametrize(("hide_path_metadata", "fetched"), FALLBACK_CASES)
def test_discovery_from_the_well_known_fallback(
    auth_server: AuthorizationServer, hide_path_metadata: bool, fetched: list[tuple[str, int]]
) -> None:
    """No `resource_metadata` reaches the client (the planned API always
    sends it, so a gateway in front strips it): the SDK falls back to the
    RFC 9728 §3.1 well-known URLs, which the middleware serves."""
    setup = Setup(
        outer=lambda app: without_resource_metadata(app, hide_path_metadata=hide_path_metadata)
    )
    with protected(auth_server, setup) as server:
        url = server.url("/mcp")
        flow = run_flow(url, mode="legacy")
        answered = server.app.answered()

    assert_flow_answered(flow)
    assert "resource_metadata" not in parsed(answered[0].challenge).parameters
    assert [(a.path, a.status) for a in answered if a.path.startswith(PRM)] == fetched
    assert flow.browser.scopes_asked() == [TOOLS]  # from the challenge's scope
    # The resource the client asked a token for is the one the server verifies.
    assert flow.browser.resources_asked() == [url]
    assert_authorized_answers_pass(answered)


# --- step-up ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_step_up_to_the_union_of_scopes(
    auth_server: AuthorizationServer, server: Running, mode: str
) -> None:
    flow = run_flow(
        server.url("/mcp"), [("echo", {"text": "hello"}), ("admin_reset", {})], mode=mode
    )

    assert_flow_answered(flow, expect=("hello", "reset done"))
    answered = server.app.answered()
    refusals = [a for a in answered if a.status == 403]
    assert len(refusals) == 1
    challenge = parsed(refusals[0].challenge)
    assert challenge.type == "bearer"
    assert challenge.parameters.get("error") == "insufficient_scope"
    assert set(challenge.parameters.get("scope", "").split()) == {TOOLS, ADMIN}
    assert challenge.parameters.get("resource_metadata") == server.url(f"{PRM}/mcp")
    first, second = flow.browser.scopes_asked()
    assert first == TOOLS
    assert set(second.split()) == {TOOLS, ADMIN}  # SEP-2350: the union, not just the new one
    assert [s.params["grant_type"] for s in auth_server.requests("/token")] == [
        "authorization_code",
        "authorization_code",
    ]
    assert_authorized_answers_pass(answered)


# --- deployments ------------------------------------------------------------------------


def test_mounted_under_a_path_prefix(auth_server: AuthorizationServer) -> None:
    """`Mount("/api", mcp_app)`: the MCP endpoint is `/api/mcp`."""
    with protected(auth_server, Setup(mount="/api")) as server:
        url = server.url("/api/mcp")
        flow = run_flow(url, mode="legacy")
        answered = server.app.answered()
        metadata = httpx.get(server.url(f"{PRM}/api/mcp"), timeout=TIMEOUT_S)

    assert_flow_answered(flow)
    challenge = parsed(answered[0].challenge)
    assert challenge.parameters.get("resource_metadata") == server.url(f"{PRM}/api/mcp")
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == url
    assert flow.browser.resources_asked() == [url]
    assert_authorized_answers_pass(answered)


def test_behind_a_trusted_proxy(auth_server: AuthorizationServer) -> None:
    """The client talks to a reverse proxy on its own port; the proxy names
    itself in X-Forwarded-Host/-Proto and the server trusts 127.0.0.1."""
    proxy_sock = reserve()
    proxy_port = proxy_sock.getsockname()[1]
    proxy_base = f"http://127.0.0.1:{proxy_port}"

    def forwarded(request: Request) -> Mapping[str, str]:
        return {"X-Forwarded-Host": f"127.0.0.1:{proxy_port}", "X-Forwarded-Proto": "http"}

    setup = Setup(public_base=lambda _: proxy_base)
    with (
        protected(auth_server, setup) as backend,
        serving(
            lambda _: Proxy(backend.url(), forwarded), name="mcp-e2e-proxy", sock=proxy_sock
        ) as proxy,
    ):
        url = proxy.url("/mcp")
        flow = run_flow(url, mode="legacy")
        answered = backend.app.answered()
        via_proxy = httpx.get(proxy.url(f"{PRM}/mcp"), timeout=TIMEOUT_S)
        direct = httpx.get(backend.url(f"{PRM}/mcp"), timeout=TIMEOUT_S)

    assert_flow_answered(flow)
    challenge = parsed(answered[0].challenge)
    assert challenge.parameters.get("resource_metadata") == f"{proxy_base}{PRM}/mcp"
    assert via_proxy.json()["resource"] == url
    assert direct.json()["resource"] == backend.url("/mcp")  # per request, not per process
    assert flow.browser.resources_asked() == [url]
    assert_authorized_answers_pass(answered)


# id, whether the peer (127.0.0.1) is a trusted proxy, forwarded headers,
# the resource origin expected (None: the server's own)
FORWARDED_CASES = [
    pytest.param(
        True,
        {"X-Forwarded-Host": "mcp.example.test:8443", "X-Forwarded-Proto": "https"},
        "https://mcp.example.test:8443",
        id="trusted-x-forwarded",
    ),
    pytest.param(
        True,
        {"Forwarded": 'proto=https;host="mcp.example.test:8443"'},
        "https://mcp.example.test:8443",
        id="trusted-forwarded",
    ),
    pytest.param(
        False,
        {"X-Forwarded-Host": "mcp.example.test:8443", "X-Forwarded-Proto": "https"},
        None,
        id="untrusted-x-forwarded",
    ),
    pytest.param(
        False,
        {"Forwarded": 'proto=https;host="mcp.example.test:8443"'},
        None,
        id="untrusted-forwarded",
    ),
]


@pytest.mark.parametrize(("trusted", "headers", "origin"), FORWARDED_CASES)
def test_forwarded_headers_only_from_trusted_proxies(
    auth_server: AuthorizationServer, trusted: bool, headers: dict[str, str], origin: str | None
) -> None:
    setup = Setup(trusted_proxies=("127.0.0.1",) if trusted else ())
    with protected(auth_server, setup) as server:
        metadata = httpx.get(server.url(f"{PRM}/mcp"), headers=headers, timeout=TIMEOUT_S)
        refused = httpx.post(server.url("/mcp"), headers=headers, json={}, timeout=TIMEOUT_S)
    expected = origin or server.url()

    assert metadata.status_code == 200
    assert metadata.json()["resource"] == f"{expected}/mcp"
    assert refused.status_code == 401
    (challenge,) = bearer_challenges(refused)
    assert challenge.parameters.get("resource_metadata") == f"{expected}{PRM}/mcp"


# --- what the SDK's own server gets wrong, on the wire --------------------------------

Headers = Callable[[AuthorizationServer, str], dict[str, str]]


def bearer(scope: str, *, audience: str | None = None, lifetime: int = 300) -> Headers:
    def headers(auth_server: AuthorizationServer, url: str) -> dict[str, str]:
        token = auth_server.issue(scope, audience or url, lifetime=lifetime)
        return {"Authorization": f"Bearer {token}"}

    return headers


def fixed(**values: str) -> Headers:
    return lambda _as, _url: {k.replace("_", "-"): v for k, v in values.items()}


def tools_call(name: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name}}


@dataclass(frozen=True)
class Wire:
    headers: Headers
    status: int
    reason: str
    error: str | None  # the challenge's RFC 6750 code (None: no error param)
    scope: frozenset[str] | None  # the challenge's scope (None: no Bearer challenge checked)
    query: str = ""
    tool: str = "echo"  # the tool the JSON-RPC tools/call names


WIRE_CASES = [
    pytest.param(
        Wire(fixed(), 401, "credentials_missing", None, frozenset({TOOLS})), id="anonymous"
    ),
    pytest.param(
        Wire(
            fixed(Authorization="Bearer mcp-garbage-token-0001"),
            401,
            "credentials_invalid",
            "invalid_token",
            frozenset({TOOLS}),
        ),
        id="garbage-token",
    ),
    pytest.param(
        Wire(
            bearer(TOOLS, audience="http://127.0.0.1:1/another-resource"),
            401,
            "token_audience_mismatch",
            "invalid_token",
            frozenset({TOOLS}),
        ),
        id="token-for-another-resource",
    ),
    pytest.param(
        Wire(
            bearer(TOOLS, lifetime=-600), 401, "token_expired", "invalid_token", frozenset({TOOLS})
        ),
        id="expired-token",
    ),
    pytest.param(
        Wire(
            fixed(Authorization="Basic bWNwOm5vdC1hLXNlY3JldC1hdC1hbGw="),
            401,
            "scheme_not_accepted",
            None,
            frozenset({TOOLS}),
        ),
        id="basic-credentials",
    ),
    pytest.param(
        Wire(
            bearer("profile:read"),
            403,
            "insufficient_scope",
            "insufficient_scope",
            frozenset({TOOLS}),
        ),
        id="token-without-mcp-tools",
    ),
    pytest.param(
        Wire(
            bearer(TOOLS),
            403,
            "insufficient_scope",
            "insufficient_scope",
            frozenset({TOOLS, ADMIN}),
            tool="admin_reset",
        ),
        id="admin-tool-without-mcp-admin",
    ),
    pytest.param(
        Wire(
            fixed(),
            400,
            "token_in_query",
            "invalid_request",
            None,
            query="?access_token=mcp-url-token-0001",
        ),
        id="token-in-query",
    ),
    pytest.param(
        Wire(
            lambda auth_server, url: {
                **bearer(TOOLS)(auth_server, url),
                "Origin": "http://evil.example",
            },
            403,
            "origin_not_allowed",
            None,
            None,
        ),
        id="foreign-origin",
    ),
]


@pytest.mark.parametrize("case", WIRE_CASES)
def test_failures_on_the_wire(
    auth_server: AuthorizationServer, server: Running, case: Wire
) -> None:
    url = server.url("/mcp")
    headers = {"Accept": "application/json, text/event-stream", **case.headers(auth_server, url)}

    reply = httpx.post(
        url + case.query, headers=headers, json=tools_call(case.tool), timeout=TIMEOUT_S
    )

    assert reply.status_code == case.status
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.json()["reason"] == case.reason
    if case.scope is None:
        return
    (challenge,) = bearer_challenges(reply)
    assert challenge.parameters.get("error") == case.error
    assert set(challenge.parameters.get("scope", "").split()) == case.scope
    assert challenge.parameters.get("resource_metadata") == server.url(f"{PRM}/mcp")
    assert challenge.parameters.get("realm") == "mcp"


# --- the metadata document ----------------------------------------------------------------

# id, method, path, request headers
METADATA_CASES = [
    pytest.param("GET", f"{PRM}/mcp", {}, id="path-based"),
    pytest.param(
        "GET", f"{PRM}/mcp", {"Authorization": "Bearer mcp-garbage-token-0002"}, id="bad-token"
    ),
    pytest.param(
        "GET", f"{PRM}/mcp", {"Authorization": "Basic bm90OmEtc2VjcmV0LTAwMDI="}, id="basic"
    ),
    pytest.param("GET", f"{PRM}/mcp", {"Origin": "https://inspector.example"}, id="any-origin"),
    pytest.param("GET", PRM, {}, id="root"),
]


@pytest.mark.parametrize(("method", "path", "headers"), METADATA_CASES)
def test_metadata_is_public(
    auth_server: AuthorizationServer,
    server: Running,
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    reply = httpx.request(method, server.url(path), headers=headers, timeout=TIMEOUT_S)

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.headers.get("access-control-allow-origin") == "*"
    cache = [part.strip() for part in reply.headers.get("cache-control", "").split(",")]
    assert "public" in cache
    assert any(part.startswith("max-age=") for part in cache)
    assert "www-authenticate" not in reply.headers
    document = reply.json()
    # RFC 9728 §3.3: the resource is the identifier the client used (a
    # parent of it at the root, which the SDK accepts as well).
    assert check_resource_allowed(
        requested_resource=server.url("/mcp"), configured_resource=document["resource"]
    )
    if path != PRM:
        assert document["resource"] == server.url("/mcp")
    assert document["authorization_servers"] == [auth_server.issuer]
    assert document["scopes_supported"] == [TOOLS, ADMIN]
    assert "header" in document["bearer_methods_supported"]


def test_metadata_answers_a_preflight(server: Running) -> None:
    reply = httpx.options(
        server.url(f"{PRM}/mcp"),
        headers={
            "Origin": "https://inspector.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "mcp-protocol-version",
        },
        timeout=TIMEOUT_S,
    )

    assert reply.status_code in (200, 204)
    assert reply.headers.get("access-control-allow-origin") == "*"
    assert "GET" in reply.headers.get("access-control-allow-methods", "")
    assert "www-authenticate" not in reply.headers


def test_an_expired_token_is_refreshed(auth_server: AuthorizationServer, server: Running) -> None:
    """Tokens that live one second: before the tool call the SDK refreshes
    its token (refresh_token grant) and the middleware accepts the new one."""
    auth_server.expires_in = 1

    flow = run_flow(server.url("/mcp"), mode="legacy", pause=1.5)

    assert_flow_answered(flow)
    grants = [s.params["grant_type"] for s in auth_server.requests("/token")]
    assert grants[0] == "authorization_code"
    assert "refresh_token" in grants[1:]
    assert [a.status for a in server.app.answered() if a.authorized and a.status >= 400] == []
