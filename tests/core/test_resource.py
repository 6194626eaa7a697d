"""RFC 9728 protected-resource metadata (`core.resource`) and the `mcp`
profile (`core.mcp`), as tables: the option, where a request falls, the
URL a client reached us at, the well-known answers, the challenges that
point to them, and the profile's refusals.

Rows cite RFC-CHECKLIST.md: R14, R27 (metadata), R26 (parameter order),
R28 (MCP), R11 (no token in the URL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import WWWAuthenticate

from authhygiene import CORS, ProtectedResource, Scopes
from authhygiene.core.clients import trusted_proxies
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide
from authhygiene.core.diagnose import AppAnswer
from authhygiene.core.mcp import profile_refusal
from authhygiene.core.origin_check import origin_refused
from authhygiene.core.policy import Policy, PolicyError
from authhygiene.core.reasons import Reason
from authhygiene.core.resource import (
    WELL_KNOWN,
    metadata_answer,
    place_of,
    request_origin_url,
)
from authhygiene.core.shape_cache import Decider
from authhygiene.verify import JWT

AS = "https://auth.example"
NOW = 1_800_000_000
NO_PROXIES = trusted_proxies(())
PROXY = trusted_proxies(["10.0.0.1"])


def resource(**options: Any) -> ProtectedResource:
    return ProtectedResource(authorization_servers=[AS], **options)


def view(
    path: str = "/mcp",
    headers: tuple[tuple[str, str], ...] = (("host", "api.example"),),
    *,
    method: str = "GET",
    query: str = "",
    client: str = "192.0.2.7",
    scheme: str | None = "https",
) -> RequestView:
    return RequestView(method, path, query, headers, client, scheme=scheme)


# --- the option ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"authorization_servers": []}, "needs authorization_servers"),
        ({"authorization_servers": AS}, "must be a list of URLs"),
        ({"authorization_servers": ["http://auth.example"]}, "absolute https:// URL"),
        ({"authorization_servers": ["https://auth.example/?tenant=1"]}, "without query"),
        ({"authorization_servers": ["https://auth.example/#x"]}, "without query or fragment"),
        ({"authorization_servers": ["/relative"]}, "absolute https:// URL"),
        ({"authorization_servers": ["https://a.example/\r\nx"]}, "absolute https:// URL"),
        ({"authorization_servers": ["https://" + "a" * 600]}, "absolute URL string"),
        ({"authorization_servers": [AS] * 17}, "at most 16"),
        ({"scopes_supported": ["a b"]}, "RFC 6749"),
        ({"scopes_supported": "mcp:tools"}, "list of scope names"),
        ({"paths": "/mcp"}, "list of path prefixes"),
        ({"paths": ["mcp"]}, "not a path prefix"),
        ({"paths": ["/items/*"]}, "not a path prefix"),
        ({"paths": ["/a/../b"]}, "not a path prefix"),
        ({"paths": ["/a//b"]}, "not a path prefix"),
        ({"paths": ["/a?x=1"]}, "not a path prefix"),
        ({"paths": ["/mcp", "/mcp/"]}, "twice"),
        ({"paths": []}, "from 1 to 64"),
        ({"paths": [f"/p{n}" for n in range(65)]}, "from 1 to 64"),
        (
            {"scopes_supported": ["mcp:tools"], "paths": {"/mcp": ["mcp:admin"]}},
            "scopes_supported does not list",
        ),
        ({"resource": "https://api.example/mcp", "paths": ["/other"]}, "paths does not list"),
        ({"resource": "ftp://api.example"}, "absolute https:// URL"),
        ({"bearer_methods_supported": ["cookie"]}, "RFC 6750 defines"),
        ({"max_age": -1}, "from 0 to 604800"),
        ({"max_age": True}, "whole seconds"),
        ({"resource_name": ""}, "human-readable name"),
        ({"jwks_uri": "http://keys.example/jwks"}, "absolute https:// URL"),
        ({"dpop_bound_access_tokens_required": "yes"}, "True or False"),
    ],
)
def test_a_wrong_option_fails_at_construction_saying_what_to_write(
    options: dict[str, Any], says: str
) -> None:
    given = {"authorization_servers": [AS], **options}
    with pytest.raises(PolicyError, match=says.replace("?", r"\?").replace("*", r"\*")):
        ProtectedResource(**given)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"profile": "mcp"}, "needs protected_resource"),
        ({"profile": "MCP"}, "is not a profile"),
        (
            {"profile": "mcp", "protected_resource": resource(bearer_methods_supported=["query"])},
            "lists 'query'",
        ),
        (
            {"protected_resource": resource(), "resource_metadata": "https://a.example/m"},
            "Configure one of them",
        ),
        ({"protected_resource": resource(), "schemes": ["Basic"]}, "add 'Bearer'"),
        ({"protected_resource": {"authorization_server": [AS]}}, "Did you mean"),
        ({"protected_resource": "https://auth.example"}, "ProtectedResource"),
        (
            {
                "profile": "mcp",
                "protected_resource": resource(),
                "verify": JWT(algorithms=["HS256"], keys="k" * 32),
            },
            "has no audience",
        ),
    ],
)
def test_a_wrong_policy_fails_at_start_up(options: dict[str, Any], says: str) -> None:
    with pytest.raises(PolicyError, match=says):
        Policy.from_options({"realm": "mcp", **options})


def test_django_settings_give_the_options_as_a_dict() -> None:
    policy = Policy.from_options(
        {
            "realm": "mcp",
            "protected_resource": {"authorization_servers": [AS], "paths": {"/mcp": []}},
        }
    )
    assert policy.protected_resource == resource(paths=["/mcp"])


def test_the_option_is_frozen_hashable_and_normalised() -> None:
    configured = resource(paths={"/mcp/": ["mcp:tools"], "/admin": []})
    assert configured.paths == (("/mcp", ("mcp:tools",)), ("/admin", ()))
    assert configured.authorization_servers == (AS,)
    hash(configured)
    assert resource(paths=configured.paths) == configured  # a normalised value reads back


def test_the_mcp_profile_allows_and_exposes_the_transport_headers_in_cors() -> None:
    policy = Policy.from_options(
        {
            "realm": "mcp",
            "profile": "mcp",
            "protected_resource": resource(),
            "cors": CORS(allow_origins=["https://app.example"], allow_headers=["X-Trace"]),
        }
    )
    assert policy.cors is not None
    assert {"Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID", "Authorization"} <= set(
        policy.cors.allow_headers
    )
    assert {"Mcp-Session-Id", "MCP-Protocol-Version"} <= set(policy.cors.expose_headers)
    assert {"GET", "POST", "DELETE"} <= set(policy.cors.allow_methods)


# --- where a request falls ------------------------------------------------------


@pytest.mark.parametrize(
    ("paths", "path", "expected"),
    [
        (None, "/anything", "/"),
        (["/mcp"], "/mcp", "/mcp"),
        (["/mcp"], "/mcp/", "/mcp"),
        (["/mcp"], "/mcp/messages", "/mcp"),
        (["/mcp"], "/mcpx", None),
        (["/mcp"], "/", None),
        (["/api", "/api/mcp"], "/api/mcp/x", "/api/mcp"),  # the longest prefix
        (["/api", "/api/mcp"], "/api/other", "/api"),
        (["/", "/mcp"], "/other", "/"),
    ],
)
def test_a_path_falls_under_its_longest_protected_prefix(
    paths: list[str] | None, path: str, expected: str | None
) -> None:
    found = resource(paths=paths).prefix_of(path)
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize(
    ("trusted", "headers", "scheme", "expected"),
    [
        (NO_PROXIES, (("host", "api.example"),), "https", "https://api.example"),
        (NO_PROXIES, (("host", "API.Example:8443"),), "https", "https://api.example:8443"),
        (NO_PROXIES, (("host", "api.example:443"),), "https", "https://api.example"),
        (NO_PROXIES, (("host", "api.example:80"),), "http", "http://api.example"),
        (NO_PROXIES, (("host", "127.0.0.1:8000"),), "http", "http://127.0.0.1:8000"),
        (NO_PROXIES, (("host", "[::1]:8000"),), "http", "http://[::1]:8000"),
        (NO_PROXIES, (("host", "api.example"),), "wss", "https://api.example"),
        (NO_PROXIES, (("host", "api.example"),), None, "http://api.example"),
        (NO_PROXIES, (), "https", None),
        (NO_PROXIES, (("host", ""),), "https", None),
        (NO_PROXIES, (("host", "a.example/evil"),), "https", None),
        (NO_PROXIES, (("host", 'a.example"x'),), "https", None),
        (NO_PROXIES, (("host", "a.example\r\nx: y"),), "https", None),
        (NO_PROXIES, (("host", "user@a.example"),), "https", None),
        (NO_PROXIES, (("host", "a.example:99999999"),), "https", None),
        (NO_PROXIES, (("host", "a.example:99999"),), "https", None),
        (NO_PROXIES, (("host", "[::1]"),), "https", "https://[::1]"),
        (NO_PROXIES, (("host", "a" * 300),), "https", None),
        (NO_PROXIES, (("host", "a.example"),), "ftp", None),
        # Forwarded headers from a peer we do not trust prove nothing.
        (
            NO_PROXIES,
            (("host", "api.example"), ("x-forwarded-host", "evil.example")),
            "https",
            "https://api.example",
        ),
        (
            PROXY,
            (("host", "backend:8000"), ("x-forwarded-host", "evil.example")),
            "http",
            "http://backend:8000",  # the peer is not 10.0.0.1 (see test below)
        ),
    ],
)
def test_the_origin_is_the_one_the_client_reached(
    trusted: Any, headers: tuple[tuple[str, str], ...], scheme: str | None, expected: str | None
) -> None:
    assert request_origin_url(trusted, view(headers=headers, scheme=scheme)) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            (("x-forwarded-proto", "https"), ("x-forwarded-host", "public.example")),
            "https://public.example",
        ),
        ((("x-forwarded-host", "a.example, public.example:8443"),), "http://public.example:8443"),
        (
            (("forwarded", 'for=1.2.3.4;proto=https;host="public.example"'),),
            "https://public.example",
        ),
        (
            (("forwarded", "host=a.example, proto=https;host=b.example"),),
            "https://b.example",  # the last element: the one our proxy wrote
        ),
        ((("x-forwarded-host", "evil.example/x"),), None),  # no host: no URL at all
        # Both kinds, disagreeing: one came from the client; neither counts.
        (
            (
                ("x-forwarded-host", "api.example"),
                ("x-forwarded-proto", "https"),
                ("forwarded", "host=evil.example;proto=http"),
            ),
            "http://backend:8000",
        ),
        (
            (("x-forwarded-host", "api.example"), ("forwarded", 'host="API.example";proto=https')),
            "https://api.example",
        ),
        ((("x-forwarded-proto", "gopher"),), None),
        # An oversized Forwarded is not read: the socket's own host stands.
        ((("forwarded", "proto=https;host=" + "a" * 5000),), "http://backend:8000"),
    ],
)
def test_a_trusted_proxy_says_how_the_client_reached_it(
    headers: tuple[tuple[str, str], ...], expected: str | None
) -> None:
    request = view(headers=(("host", "backend:8000"), *headers), scheme="http", client="10.0.0.1")
    assert request_origin_url(PROXY, request) == expected


# --- the well-known answers -----------------------------------------------------


def served(
    path: str, *, method: str = "GET", headers: tuple[tuple[str, str], ...] = (), **options: Any
) -> Any:
    configured = resource(scopes_supported=["mcp:tools", "mcp:admin"], **options)
    request = view(path, (("host", "api.example"), *headers), method=method)
    return metadata_answer(configured, NO_PROXIES, request)


@pytest.mark.parametrize(
    ("paths", "path", "status", "resource_url"),
    [
        (None, WELL_KNOWN, 200, "https://api.example"),
        (None, WELL_KNOWN + "/", 200, "https://api.example"),
        (["/mcp"], WELL_KNOWN + "/mcp", 200, "https://api.example/mcp"),
        (["/api/mcp"], WELL_KNOWN + "/api/mcp", 200, "https://api.example/api/mcp"),
        # The root describes the one resource there is (the MCP clients'
        # last fallback), and none when there are several.
        (["/mcp"], WELL_KNOWN, 200, "https://api.example/mcp"),
        (["/mcp", "/admin"], WELL_KNOWN, 404, None),
        (["/mcp"], WELL_KNOWN + "/mcp/x", 404, None),
        (["/mcp"], WELL_KNOWN + "/mcp/", 200, "https://api.example/mcp"),  # path("mcp/")
        (["/mcp"], WELL_KNOWN + "/other", 404, None),
        (["/mcp"], WELL_KNOWN + "/../mcp", 404, None),  # traversal names nothing
        (["/mcp"], WELL_KNOWN + "/%2e%2e/mcp", 404, None),
        (["/mcp"], WELL_KNOWN + "//mcp", 404, None),
        (["/mcp"], "/mcp" + WELL_KNOWN, None, None),  # after the path: not ours
        (["/mcp"], WELL_KNOWN + "x", None, None),
    ],
)
def test_the_document_is_served_at_each_resource_s_well_known_url(
    paths: list[str] | None, path: str, status: int | None, resource_url: str | None
) -> None:
    answer = served(path, paths=paths)
    if status is None:
        assert answer is None
        return
    assert answer.status == status
    headers = dict(answer.headers)
    assert headers["access-control-allow-origin"] == "*"
    if status == 200:
        document = json.loads(answer.body)
        assert document == {
            "resource": resource_url,
            "authorization_servers": [AS],
            "scopes_supported": ["mcp:tools", "mcp:admin"],
            "bearer_methods_supported": ["header"],
        }
        assert headers["content-type"] == "application/json"
        assert headers["cache-control"] == "public, max-age=3600"
        assert "access-control-allow-credentials" not in headers
    else:
        assert headers["content-type"] == "application/problem+json"
        assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "status", "body"),
    [("GET", 200, True), ("HEAD", 200, False), ("POST", 405, False), ("DELETE", 405, False)],
)
def test_the_document_answers_get_and_head(method: str, status: int, body: bool) -> None:
    answer = served(WELL_KNOWN, method=method)
    assert (answer.status, bool(answer.body)) == (status, body)
    if status == 405:
        assert dict(answer.headers)["allow"] == "GET, HEAD, OPTIONS"


def test_a_preflight_for_the_document_is_allowed_from_any_origin() -> None:
    answer = served(
        WELL_KNOWN,
        method="OPTIONS",
        headers=(
            ("origin", "https://inspector.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "mcp-protocol-version, x\r\ny, authorization"),
        ),
    )
    headers = dict(answer.headers)
    assert answer.status == 204
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-headers"] == "mcp-protocol-version, authorization"


def test_a_preflight_never_echoes_a_credential_as_a_header_name() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    answer = served(
        WELL_KNOWN,
        method="OPTIONS",
        headers=(
            ("authorization", f"Bearer {token}"),
            ("origin", "https://inspector.example"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", f"{token}, mcp-protocol-version"),
        ),
    )
    assert dict(answer.headers)["access-control-allow-headers"] == "mcp-protocol-version"


def test_every_rfc_9728_member_configured_is_in_the_document() -> None:
    configured = resource(
        resource="https://api.example/mcp",
        resource_name="Example MCP",
        jwks_uri="https://api.example/jwks",
        resource_documentation="https://docs.example/mcp",
        resource_policy_uri="https://docs.example/policy",
        resource_tos_uri="https://docs.example/tos",
        resource_signing_alg_values_supported=["RS256"],
        dpop_signing_alg_values_supported=["ES256"],
        dpop_bound_access_tokens_required=True,
        tls_client_certificate_bound_access_tokens=True,
        bearer_methods_supported=["header", "body"],
        max_age=60,
    )
    # A configured resource fixes scheme and host whatever the request says.
    request = view(WELL_KNOWN + "/mcp", (("host", "internal:8000"),), scheme="http")
    answer = metadata_answer(configured, NO_PROXIES, request)
    assert answer is not None
    assert json.loads(answer.body) == {
        "resource": "https://api.example/mcp",
        "authorization_servers": [AS],
        "bearer_methods_supported": ["header", "body"],
        "jwks_uri": "https://api.example/jwks",
        "resource_signing_alg_values_supported": ["RS256"],
        "dpop_signing_alg_values_supported": ["ES256"],
        "resource_name": "Example MCP",
        "resource_documentation": "https://docs.example/mcp",
        "resource_policy_uri": "https://docs.example/policy",
        "resource_tos_uri": "https://docs.example/tos",
        "tls_client_certificate_bound_access_tokens": True,
        "dpop_bound_access_tokens_required": True,
    }
    assert dict(answer.headers)["cache-control"] == "public, max-age=60"


def test_a_host_that_names_no_url_is_a_400_not_a_document() -> None:
    request = view(WELL_KNOWN, (("host", "a.example/../x"),))
    answer = metadata_answer(resource(), NO_PROXIES, request)
    assert answer is not None
    assert answer.status == 400


# --- challenges that point to it ------------------------------------------------


def challenge_of(
    headers: tuple[tuple[str, str], ...] = (),
    *,
    status: int = 401,
    app_headers: tuple[tuple[str, str], ...] = (),
    path: str = "/mcp",
    host: str = "api.example",
    **options: Any,
) -> tuple[int, list[str]]:
    policy = Policy.from_options({"realm": "mcp", **options})
    request = view(path, (("host", host), *headers))
    decision = decide(policy, request, AppAnswer(status, app_headers), now=NOW)
    assert decision is not None
    return decision.status, [v for k, v in decision.headers if k == "www-authenticate"]


MCP_RESOURCE = resource(scopes_supported=["mcp:tools", "mcp:admin"], paths={"/mcp": ["mcp:tools"]})
METADATA = "https://api.example/.well-known/oauth-protected-resource/mcp"


@pytest.mark.parametrize(
    ("headers", "status", "app_headers", "expected"),
    [
        # RFC 6750 §3.1: no error for a request without credentials (the
        # MCP SDK answers invalid_token here).
        (
            (),
            401,
            (("www-authenticate", 'Bearer error="invalid_token"'),),
            f'Bearer realm="mcp", scope="mcp:tools", resource_metadata="{METADATA}"',
        ),
        (
            (("authorization", "Bearer garbage-token-0001"),),
            401,
            (),
            'Bearer realm="mcp", error="invalid_token", scope="mcp:tools",'
            f' resource_metadata="{METADATA}", error_description=',
        ),
        # Basic credentials to a Bearer API: the Bearer challenge, no error.
        (
            (("authorization", "Basic dXNlcjpwYXNz"),),
            401,
            (),
            f'Bearer realm="mcp", scope="mcp:tools", resource_metadata="{METADATA}"',
        ),
        # The SDK's 403 names no scope (python-sdk#3103): the path's scopes.
        (
            (("authorization", "Bearer some-token-0002"),),
            403,
            (("www-authenticate", 'Bearer error="insufficient_scope"'),),
            'Bearer realm="mcp", error="insufficient_scope", scope="mcp:tools",'
            f' resource_metadata="{METADATA}"',
        ),
        # An app that names what it requires is believed.
        (
            (("authorization", "Bearer some-token-0003"),),
            403,
            (
                (
                    "www-authenticate",
                    'Bearer error="insufficient_scope", scope="mcp:tools mcp:admin"',
                ),
            ),
            'Bearer realm="mcp", error="insufficient_scope", scope="mcp:tools mcp:admin",'
            f' resource_metadata="{METADATA}"',
        ),
    ],
)
def test_bearer_challenges_point_to_the_metadata_and_ask_for_the_scopes(
    headers: tuple[tuple[str, str], ...],
    status: int,
    app_headers: tuple[tuple[str, str], ...],
    expected: str,
) -> None:
    _, challenges = challenge_of(
        headers, status=status, app_headers=app_headers, protected_resource=MCP_RESOURCE
    )
    assert len(challenges) == 1
    assert challenges[0].startswith(expected)
    # R26: the machine-read parameters come before any text.
    parsed = WWWAuthenticate.from_header(challenges[0])
    assert parsed is not None
    assert parsed.parameters["resource_metadata"] == METADATA


def test_a_path_outside_every_resource_gets_no_resource_metadata() -> None:
    _, challenges = challenge_of(path="/health", protected_resource=MCP_RESOURCE)
    assert challenges == ['Bearer realm="mcp"']


def test_a_route_s_require_scopes_are_asked_for_in_the_401() -> None:
    _, challenges = challenge_of(
        path="/items/1",
        protected_resource=resource(),
        verify=JWT(algorithms=["HS256"], keys="k" * 32),
        require=[("GET", "/items/*", Scopes("items:read"))],
    )
    assert challenges == [
        'Bearer realm="mcp", scope="items:read",'
        ' resource_metadata="https://api.example/.well-known/oauth-protected-resource"'
    ]


def test_a_host_holding_the_request_s_token_is_never_echoed() -> None:
    token = "abcdefghijklmnop0123"
    _, challenges = challenge_of(
        (("authorization", f"Bearer {token}"),),
        host=f"{token}.example",
        protected_resource=MCP_RESOURCE,
    )
    assert token not in challenges[0]
    assert "resource_metadata" not in challenges[0]


def test_remembered_refusals_are_kept_apart_by_host_and_path() -> None:
    """The refusal memo serves a repeated refusal from its shape: two hosts
    (or two resources) must never share one's metadata URL."""
    policy = Policy.from_options({"realm": "mcp", "protected_resource": MCP_RESOURCE})
    decider = Decider(policy)
    seen = []
    for _ in range(3):  # a shape is remembered from its second time
        for host in ("a.example", "b.example"):
            request = view("/mcp", (("host", host),))
            decision = decider(request, AppAnswer(401), now=NOW)
            assert decision is not None
            (value,) = [v for k, v in decision.headers if k == "www-authenticate"]
            seen.append((host, value))
    for host, value in seen:
        assert f'resource_metadata="https://{host}/.well-known' in value


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    host=st.text(max_size=300),
    forwarded_host=st.text(max_size=300),
    forwarded=st.text(max_size=300),
    path=st.text(max_size=200),
)
def test_hostile_hosts_and_paths_never_raise_nor_reach_a_header_unescaped(
    host: str, forwarded_host: str, forwarded: str, path: str
) -> None:
    headers = (("host", host), ("x-forwarded-host", forwarded_host), ("forwarded", forwarded))
    request = view("/" + path, headers, client="10.0.0.1")
    place = place_of(resource(paths=["/", "/mcp"]), PROXY, request)
    if place is not None:
        for url in (place.resource, place.metadata):
            assert url.isascii()
            assert url.isprintable()
            assert not any(ch in url for ch in ' "\\\r\n')
            assert len(url) < 1024
    for prefix in ("", WELL_KNOWN):
        answer = metadata_answer(resource(), PROXY, view(prefix + "/" + path, headers))
        if answer is not None:
            assert 200 <= answer.status < 500
            for name, value in answer.headers:
                assert not {"\r", "\n"} & set(value), name
    policy = Policy.from_options(
        {"realm": "mcp", "protected_resource": MCP_RESOURCE, "trusted_proxies": ["10.0.0.1"]}
    )
    decision = decide(policy, request, AppAnswer(401), now=NOW)
    assert decision is not None
    for value in [v for k, v in decision.headers if k == "www-authenticate"]:
        assert WWWAuthenticate.from_header(value) is not None


# --- the mcp profile ------------------------------------------------------------


def mcp_policy(**options: Any) -> Policy:
    return Policy.from_options(
        {"realm": "mcp", "profile": "mcp", "protected_resource": resource(), **options}
    )


@pytest.mark.parametrize(
    ("cors", "origins", "refused"),
    [
        (None, [], False),
        (None, ["https://app.example"], True),  # no cors=: every page is foreign
        (CORS(allow_origins=["https://app.example"]), ["https://app.example"], False),
        (CORS(allow_origins=["https://app.example"]), ["https://evil.example"], True),
        (CORS(allow_origins=["https://app.example"]), ["null"], True),
        (CORS(allow_origins=["https://app.example"]), ["https://app.example"] * 2, True),
        (CORS(allow_origins=["https://app.example"]), ["https://app.example\r\n"], True),
        (CORS(allow_origins=["https://app.example"]), ["https://app.example" + "x" * 5000], True),
        (
            CORS(allow_origin_regex=r"https://[a-z]+\.app\.example"),
            ["https://a.app.example"],
            False,
        ),
    ],
)
def test_an_origin_is_refused_unless_the_cors_policy_allows_it(
    cors: CORS | None, origins: list[str], refused: bool
) -> None:
    assert origin_refused(cors, origins) is refused


@pytest.mark.parametrize(
    ("method", "query", "headers", "reason"),
    [
        ("POST", "", (), None),
        ("POST", "access_token=abc", (), Reason.TOKEN_IN_QUERY),
        ("GET", "token=abc&x=1", (), Reason.TOKEN_IN_QUERY),
        ("GET", "api_key=abc", (), Reason.TOKEN_IN_QUERY),
        ("GET", "page_token=abc", (), None),  # not a credential parameter
        ("GET", "token=", (), None),  # nothing in it
        # Fails closed: an empty decoy first, past the field or size bounds.
        ("GET", "token=&access_token=abc", (), Reason.TOKEN_IN_QUERY),
        ("GET", "access_token=abc&pad=" + "x" * 9000, (), Reason.TOKEN_IN_QUERY),
        ("GET", "a=1&" * 300 + "access_token=abc", (), Reason.TOKEN_IN_QUERY),
        ("GET", "%61ccess_token=abc", (), Reason.TOKEN_IN_QUERY),
        ("GET", "a=1&" * 300 + "b=2", (), None),  # long, but nothing token-like
        ("POST", "", (("origin", "https://evil.example"),), Reason.ORIGIN_NOT_ALLOWED),
        ("POST", "", (("origin", "https://app.example"),), None),
        # A preflight is the CORS step's, never refused here (R20).
        (
            "OPTIONS",
            "",
            (("origin", "https://evil.example"), ("access-control-request-method", "POST")),
            None,
        ),
    ],
)
def test_the_profile_refuses_before_the_app(
    method: str, query: str, headers: tuple[tuple[str, str], ...], reason: Reason | None
) -> None:
    policy = mcp_policy(cors=CORS(allow_origins=["https://app.example"]))
    declared = profile_refusal(policy, view(method=method, query=query, headers=headers))
    assert (declared.reason if declared else None) == reason


def test_the_profile_leaves_the_rest_of_the_app_alone() -> None:
    policy = Policy.from_options(
        {"realm": "mcp", "profile": "mcp", "protected_resource": resource(paths=["/mcp"])}
    )
    mail_link = view("/verify-email", query="token=from-a-mail")
    form_post = view("/login", method="POST", headers=(("origin", "https://api.example"),))
    assert profile_refusal(policy, mail_link) is None
    assert profile_refusal(policy, form_post) is None
    assert profile_refusal(policy, view("/mcp/x", query="token=abc")) is not None


def test_a_configured_resource_is_written_without_its_default_port() -> None:
    configured = resource(resource="https://api.example:443/mcp")
    answer = metadata_answer(configured, NO_PROXIES, view(WELL_KNOWN + "/mcp"))
    assert answer is not None
    assert json.loads(answer.body)["resource"] == "https://api.example/mcp"


def test_without_the_profile_nothing_is_refused_before_the_app() -> None:
    policy = Policy.from_options({"realm": "mcp", "protected_resource": resource()})
    request = view(query="access_token=abc", headers=(("origin", "https://evil.example"),))
    assert profile_refusal(policy, request) is None
