"""`protected_resource=` and `profile="mcp"` on the wire, on the two kinds
of server: FastAPI under uvicorn and Flask under werkzeug, each with a
global auth layer of its own that refuses every request without a token
(FastAPI's app-wide ``dependencies=[Depends(HTTPBearer())]``, Flask's
``before_request``), and with `throttle=` counting failures.

What must hold on both: the metadata document is served before that auth
(never a 401), never counted by the throttle, readable from any origin;
every Bearer 401 points to it with the URL the client used; the profile
refuses a token in the query and a foreign Origin before the app.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.security import HTTPBearer
from flask import Flask, request

from authhygiene import CORS, AuthHygiene, AuthHygieneWSGI, ProtectedResource, Throttle
from tests.e2e.servers import (
    UvicornThread,
    WerkzeugThread,
    assert_problem,
    challenges,
    fetch,
)

AS = "https://auth.example"
PAGE = "https://app.example"
WELL_KNOWN = "/.well-known/oauth-protected-resource"


def options() -> dict[str, Any]:
    """Each app its own counts (a key prefix of its own): every test starts
    with a full budget of one failure."""
    return {**OPTIONS, "throttle": Throttle(per_client="1/minute", key_prefix=uuid.uuid4().hex)}


OPTIONS: dict[str, Any] = {
    "realm": "api",
    "profile": "mcp",
    "protected_resource": ProtectedResource(
        authorization_servers=[AS],
        scopes_supported=["mcp:tools"],
        paths={"/mcp": ["mcp:tools"]},
    ),
    "cors": CORS(allow_origins=[PAGE]),
    "trusted_proxies": ["127.0.0.1"],
}


def fastapi_app() -> Any:
    app = FastAPI(dependencies=[Depends(HTTPBearer())])

    @app.post("/mcp")
    def mcp() -> dict[str, str]:
        return {"jsonrpc": "2.0"}

    # One failure per client per minute: a metadata fetch counted would be refused.
    return AuthHygiene(app, **options())


def flask_app() -> Any:
    app = Flask(__name__)

    @app.before_request
    def everyone_needs_a_token() -> Any:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return {"error": "unauthorized"}, 401
        return None

    @app.post("/mcp")
    def mcp() -> dict[str, str]:
        return {"jsonrpc": "2.0"}

    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **options())  # type: ignore[method-assign]
    return app


SERVED: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "fastapi-uvicorn": lambda: UvicornThread(fastapi_app(), lifespan="off"),
    "flask-werkzeug": lambda: WerkzeugThread(flask_app()),
}


@pytest.fixture(params=list(SERVED))
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    with SERVED[request.param]() as server:
        yield server.port


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (WELL_KNOWN + "/mcp", ()),
        (WELL_KNOWN, ()),  # the root: the one resource there is
        (WELL_KNOWN + "/mcp", (("Authorization", "Bearer not-a-valid-token"),)),
        (WELL_KNOWN + "/mcp", (("Authorization", "Basic dXNlcjpwYXNz"),)),
        (WELL_KNOWN + "/mcp", (("Origin", "https://inspector.example"),)),
        (WELL_KNOWN + "/mcp?access_token=abc", ()),  # no one's auth runs here
    ],
)
def test_the_document_is_public_and_never_counted(
    port: int, path: str, headers: tuple[tuple[str, str], ...]
) -> None:
    for _ in range(3):  # past the throttle's one failure a minute
        reply = fetch(port, path, headers=headers)
        assert reply.status == 200
        assert reply.json() == {
            "resource": f"http://127.0.0.1:{port}/mcp",
            "authorization_servers": [AS],
            "scopes_supported": ["mcp:tools"],
            "bearer_methods_supported": ["header"],
        }
        assert reply.get("access-control-allow-origin") == "*"
        assert reply.get("cache-control") == "public, max-age=3600"
        assert reply.get("www-authenticate") is None


def test_a_preflight_for_the_document_is_open_to_any_page(port: int) -> None:
    reply = fetch(
        port,
        WELL_KNOWN + "/mcp",
        method="OPTIONS",
        headers=(
            ("Origin", "https://inspector.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "mcp-protocol-version"),
        ),
    )
    assert reply.status == 204
    assert reply.get("access-control-allow-origin") == "*"
    assert reply.get("access-control-allow-headers") == "mcp-protocol-version"


def test_an_unknown_resource_is_a_404_of_ours(port: int) -> None:
    reply = fetch(port, WELL_KNOWN + "/other")
    assert reply.status == 404
    assert reply.get("content-type") == "application/problem+json"


def test_the_401_points_to_the_document_at_the_url_the_client_used(port: int) -> None:
    reply = fetch(port, "/mcp", method="POST", headers=(("X-Client", "a"),))
    assert_problem(reply, status=401, reason="credentials_missing")
    (challenge,) = challenges(reply)
    assert challenge.type == "bearer"
    assert "error" not in challenge.parameters  # RFC 6750 §3.1: nothing was sent
    assert challenge.parameters["scope"] == "mcp:tools"
    assert challenge.parameters["resource_metadata"] == (f"http://127.0.0.1:{port}{WELL_KNOWN}/mcp")
    # What the challenge points to is what the client fetches next.
    document = fetch(port, f"{WELL_KNOWN}/mcp").json()
    assert document["resource"] == f"http://127.0.0.1:{port}/mcp"


def test_behind_our_proxy_the_public_url_is_named(port: int) -> None:
    forwarded = (("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "mcp.example.com"))
    reply = fetch(port, "/mcp", method="POST", headers=forwarded)
    (challenge,) = challenges(reply)
    assert challenge.parameters["resource_metadata"] == (f"https://mcp.example.com{WELL_KNOWN}/mcp")
    document = fetch(port, f"{WELL_KNOWN}/mcp", headers=forwarded).json()
    assert document["resource"] == "https://mcp.example.com/mcp"


@pytest.mark.parametrize(
    ("path", "headers", "status", "reason"),
    [
        ("/mcp?access_token=leaked-in-a-url-0001", (), 400, "token_in_query"),
        ("/mcp", (("Origin", "https://evil.example"),), 403, "origin_not_allowed"),
        ("/mcp", (("Origin", "null"),), 403, "origin_not_allowed"),
    ],
)
def test_the_profile_refuses_before_the_app(
    port: int, path: str, headers: tuple[tuple[str, str], ...], status: int, reason: str
) -> None:
    reply = fetch(port, path, method="POST", headers=headers)
    body = assert_problem(reply, status=status, reason=reason)
    assert "leaked-in-a-url-0001" not in json.dumps(body)
    assert "leaked-in-a-url-0001" not in reply.wire_text


def test_an_allowed_page_reads_the_mcp_headers(port: int) -> None:
    reply = fetch(port, "/mcp", method="POST", headers=(("Origin", PAGE),))
    assert reply.status == 401
    assert reply.get("access-control-allow-origin") == PAGE
    exposed = {
        name.strip().lower() for name in reply.get("access-control-expose-headers").split(",")
    }
    assert {"www-authenticate", "mcp-session-id", "mcp-protocol-version"} <= exposed
    preflight = fetch(
        port,
        "/mcp",
        method="OPTIONS",
        headers=(
            ("Origin", PAGE),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, mcp-protocol-version, mcp-session-id",
            ),
        ),
    )
    assert preflight.status in (200, 204)
    assert preflight.get("access-control-allow-origin") == PAGE
    allowed = (preflight.get("access-control-allow-headers") or "").lower()
    assert "mcp-protocol-version" in allowed
    assert "mcp-session-id" in allowed


def test_behind_add_middleware_the_document_keeps_its_own_cors() -> None:
    """FastAPI's `add_middleware`: the CORS step is moved in front of the
    server-error layer, and must leave the document's open CORS alone (it
    wrote the exact origin with credentials on a public, cached answer)."""
    app = FastAPI()

    @app.post("/mcp")
    def mcp() -> dict[str, str]:
        return {"jsonrpc": "2.0"}

    app.add_middleware(AuthHygiene, **options())
    with UvicornThread(app) as server:
        for origin in (PAGE, "https://inspector.example", None):
            headers = (("Origin", origin),) if origin else ()
            reply = fetch(server.port, WELL_KNOWN + "/mcp", headers=headers)
            assert reply.status == 200
            assert reply.get("access-control-allow-origin") == "*"
            assert reply.get("access-control-allow-credentials") is None


def _add_middleware_app(**changes: Any) -> Any:
    app = FastAPI()

    @app.post("/mcp")
    def mcp() -> dict[str, str]:
        return {"jsonrpc": "2.0"}

    app.add_middleware(AuthHygiene, **{**options(), **changes})
    return app


# Paths that begin with the well-known name but are not under it, and the
# well-known path itself where report-only mode serves no document: the app
# answers them (404), with the CORS an allowed page may read.
@pytest.mark.parametrize(
    ("path", "changes"),
    [
        (WELL_KNOWN + "X", {}),
        (WELL_KNOWN + "-", {}),
        (WELL_KNOWN + ".json", {}),
        (WELL_KNOWN, {"report_only": True}),
        (WELL_KNOWN + "/mcp", {"report_only": True}),
    ],
)
@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_near_the_document_the_app_answers_never_a_500(
    path: str, changes: dict[str, Any], method: str
) -> None:
    """The CORS step once let every path starting with the well-known name
    through to the middleware itself, unmarked: it called itself until
    Python's recursion limit, and each such request was a 500 with a
    125 KB traceback."""
    headers: tuple[tuple[str, str], ...] = (("Origin", PAGE),)
    if method == "OPTIONS":
        headers = (*headers, ("Access-Control-Request-Method", "GET"))
    with UvicornThread(_add_middleware_app(**changes)) as server:
        reply = fetch(server.port, path, method=method, headers=headers)
    assert reply.status < 500
    assert b"RecursionError" not in reply.body
    if not changes and method == "GET":
        assert reply.status == 404
        assert reply.get("access-control-allow-origin") == PAGE
