"""The harness proven against the SDK alone, and what the SDK answers.

A bare `MCPServer` whose own auth (`AuthSettings` and a `TokenVerifier`
checking the local authorization server's JWTs) protects `/mcp`. The real
SDK client runs the whole OAuth flow against it; the raw-HTTP cases record
what the SDK's server answers without authhygiene, the reference the
middleware tests improve on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.shared.exceptions import MCPError

from .harness import (
    ADMIN,
    MODES,
    TOOLS,
    AuthorizationServer,
    Proxy,
    Recorder,
    Running,
    ScopeGate,
    mcp_server,
    run_flow,
    scopes_in_token,
    serving,
    without_resource_metadata,
)


class JwksVerifier:
    """The SDK's `TokenVerifier`: RS256 JWTs from the authorization server,
    its key read once from its `/jwks`."""

    def __init__(self, auth_server: AuthorizationServer, audience: str) -> None:
        keys = httpx.get(auth_server.jwks_url(), timeout=10).json()["keys"]
        self.key = jwt.PyJWK(keys[0]).key
        self.issuer = auth_server.issuer
        self.audience = audience

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = jwt.decode(
                token, self.key, algorithms=["RS256"], issuer=self.issuer, audience=self.audience
            )
        except jwt.PyJWTError:
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id", "")),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=claims.get("sub"),
            claims={"iss": claims["iss"]},
        )


async def sdk_insufficient_scope(scope: Any, receive: Any, send: Any) -> None:
    """A 403 as the SDK's `RequireAuthMiddleware` writes it: no `scope`."""
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (
                    b"www-authenticate",
                    b'Bearer error="insufficient_scope", '
                    b'error_description="Required scope: mcp:admin"',
                ),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b'{"error":"insufficient_scope"}'})


def sdk_app(auth_server: AuthorizationServer, port: int) -> Any:
    resource = f"http://127.0.0.1:{port}/mcp"
    server = mcp_server(
        token_verifier=JwksVerifier(auth_server, resource),
        auth=AuthSettings(
            issuer_url=auth_server.issuer,  # type: ignore[arg-type]
            resource_server_url=resource,  # type: ignore[arg-type]
            required_scopes=[TOOLS],
            validate_token_resource=True,
        ),
    )
    app = server.streamable_http_app(host="127.0.0.1")
    return ScopeGate(app, scopes_of=scopes_in_token, refuse=sdk_insufficient_scope)


@pytest.fixture
def sdk_server(auth_server: AuthorizationServer) -> Iterator[Running]:
    with serving(lambda port: Recorder(sdk_app(auth_server, port)), name="mcp-e2e-sdk") as running:
        yield running


@pytest.mark.parametrize("mode", MODES)
def test_the_sdk_client_completes_the_flow(
    auth_server: AuthorizationServer, sdk_server: Running, mode: str
) -> None:
    url = sdk_server.url("/mcp")

    flow = run_flow(url, mode=mode)

    tools, echoed = flow.results
    assert tools == ["admin_reset", "echo"]
    assert not echoed.is_error
    assert echoed.content[0].text == "hello"
    # The client discovered the AS from the SDK's PRM, registered, and asked
    # for the PRM's scopes for this resource (RFC 8707).
    # (`/jwks` is the server's verifier reading the key, not the client.)
    assert [s.path for s in auth_server.seen if s.path != "/jwks"][:2] == [
        "/.well-known/oauth-authorization-server",
        "/register",
    ]
    assert flow.browser.scopes_asked() == [TOOLS]
    assert flow.browser.resources_asked() == [url]
    (token_request,) = auth_server.requests("/token")
    assert token_request.params["grant_type"] == "authorization_code"
    assert token_request.params["resource"] == url
    first = sdk_server.app.answered()[0]
    assert (first.path, first.status, first.authorized) == ("/mcp", 401, False)
    last = sdk_server.app.answered()[-1]
    assert last.authorized


def test_the_sdk_client_falls_back_to_the_well_known(auth_server: AuthorizationServer) -> None:
    """The gateway the fallback tests put in front strips `resource_metadata`:
    the SDK client then finds the metadata at the path-based well-known URL."""

    def build(port: int) -> Recorder:
        return Recorder(without_resource_metadata(sdk_app(auth_server, port)))

    with serving(build, name="mcp-e2e-sdk-gateway") as server:
        flow = run_flow(server.url("/mcp"), mode="legacy")
        answered = server.app.answered()

    assert flow.results[1].content[0].text == "hello"
    assert answered[0].status == 401
    assert answered[0].challenge is not None
    assert "resource_metadata" not in answered[0].challenge
    assert (answered[1].path, answered[1].status) == (
        "/.well-known/oauth-protected-resource/mcp",
        200,
    )


# id, Authorization header (None: none): what the SDK answers on its own
SDK_ANSWERS = [
    pytest.param(None, id="anonymous"),
    pytest.param("Bearer not-a-jwt-garbage-0001", id="garbage-token"),
    pytest.param("Basic bWNwOm5vdC1hLXNlY3JldA==", id="basic"),
]


@pytest.mark.parametrize("authorization", SDK_ANSWERS)
def test_the_sdk_says_invalid_token_to_everyone(
    sdk_server: Running, authorization: str | None
) -> None:
    """The reference: the SDK's 401 carries `error="invalid_token"` whether
    or not a token was sent (RFC 6750 §3.1 says no error code when the
    request had no authentication), no `scope`, and a plain JSON body."""
    headers = {"Authorization": authorization} if authorization else {}
    reply = httpx.post(sdk_server.url("/mcp"), headers=headers, json={}, timeout=10)

    assert reply.status_code == 401
    challenge = reply.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert "scope=" not in challenge
    assert "resource_metadata=" in challenge
    assert reply.headers["content-type"] == "application/json"
    assert "no-store" not in reply.headers.get("cache-control", "")


def test_the_sdk_403_without_scope_cannot_step_up(
    auth_server: AuthorizationServer, sdk_server: Running
) -> None:
    """python-sdk#3103: a 403 `insufficient_scope` without `scope` leaves the
    client to guess; it re-asks for what it already has and the call fails."""
    flow = run_flow(sdk_server.url("/mcp"), calls=[("admin_reset", {})])

    _, reset = flow.results
    assert isinstance(reset, MCPError)
    # It re-authorized, asking for the PRM's scopes again: never mcp:admin.
    assert flow.browser.scopes_asked() == [TOOLS, TOOLS]
    assert ADMIN not in " ".join(s.params.get("scope", "") for s in auth_server.seen)
    assert [a.status for a in sdk_server.app.answered() if a.status == 403] == [403, 403]


def test_the_proxy_carries_a_whole_session(auth_server: AuthorizationServer) -> None:
    """The reverse proxy the forwarded-header tests use streams both ways:
    a whole SDK session (its SSE answers included) passes through it."""
    seen: list[dict[str, str]] = []

    def forwarded(request: Any) -> dict[str, str]:
        seen.append({"x-forwarded-host": request.headers["host"]})
        return seen[-1]

    def open_app(port: int) -> Recorder:
        return Recorder(mcp_server().streamable_http_app(host="127.0.0.1"))

    with (
        serving(open_app, name="mcp-e2e-open") as backend,
        serving(lambda port: Proxy(backend.url(), forwarded), name="mcp-e2e-proxy") as proxy,
    ):
        flow = run_flow(proxy.url("/mcp"), mode="legacy")

    tools, echoed = flow.results
    assert tools == ["admin_reset", "echo"]
    assert echoed.content[0].text == "hello"
    assert seen
    assert {headers["x-forwarded-host"] for headers in seen} == {f"127.0.0.1:{proxy.port}"}
    answered = backend.app.answered()
    assert all(answer.status < 400 for answer in answered)
    assert any((a.content_type or "").startswith("text/event-stream") for a in answered)
