"""CORS on the wire: FastAPI under uvicorn and Flask under werkzeug, each with
authhygiene as the CORS layer (``cors=``) and with the app's own CORS layer.

Why on the wire: what a browser can read is decided by the headers that
leave the server, after every layer of the framework (Starlette's
server-error layer, Flask's error handlers, flask-cors' after_request) has
had its say. The browser itself is in tests/browser; this file pins each
header exactly, for every kind of response, with http.client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import flask_cors
import jwt
import pytest
import structlog
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from flask import Flask, request
from structlog.testing import CapturingLogger

from authhygiene import CORS, AuthFailure, AuthHygiene, AuthHygieneWSGI, Reason
from tests.e2e.servers import Reply, UvicornThread, WerkzeugThread, fetch

PAGE = "http://page.example:8001"
OTHER = "http://other.example:8002"
KEY = "k" * 32
ORIGIN_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials")


def expired() -> str:
    return jwt.encode({"sub": "u", "exp": int(time.time()) - 300}, KEY, algorithm="HS256")


def valid() -> str:
    return jwt.encode({"sub": "u", "exp": int(time.time()) + 300}, KEY, algorithm="HS256")


def fastapi_app(mode: str, logger: Any, seen: list[str]) -> Any:
    """A FastAPI app as its users write it: HTTPBearer plus pyjwt in a dependency."""
    app = FastAPI()
    bearer = HTTPBearer()

    # Defaults, not Annotated: the dependencies are locals, and this module
    # postpones annotations, which FastAPI would then resolve globally.
    def user(credentials: HTTPAuthorizationCredentials = Depends(bearer)) -> str:  # noqa: B008
        seen.append("auth")
        claims = jwt.decode(credentials.credentials, KEY, algorithms=["HS256"])
        return str(claims["sub"])

    @app.get("/me")
    def me(sub: str = Depends(user)) -> dict[str, str]:
        return {"sub": sub}

    @app.get("/public")
    def public() -> dict[str, str]:
        return {"ok": "yes"}

    @app.options("/opts")
    def public_options() -> dict[str, str]:
        seen.append("options")
        return {"options": "app"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("not an auth failure")

    @app.get("/denied")
    def denied() -> None:
        raise AuthFailure(Reason.CREDENTIALS_INVALID)

    if mode == "app":
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[PAGE],
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Total"],
        )
        app.add_middleware(AuthHygiene, realm="api", logger=logger)
    elif mode == "app-wildcard":
        # A common mistake: `*` with credentials (Starlette then answers `*`
        # on simple responses when the request carries no cookie).
        app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
        app.add_middleware(AuthHygiene, realm="api", logger=logger)
    else:
        app.add_middleware(
            AuthHygiene,
            realm="api",
            logger=logger,
            cors=CORS(allow_origins=[PAGE], expose_headers=["X-Total"]),
        )
    return app


def flask_app(mode: str, logger: Any, seen: list[str]) -> Any:
    app = Flask(__name__)

    @app.get("/me")
    def me() -> dict[str, str]:
        seen.append("auth")
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return {"msg": "Missing Authorization Header"}, 401  # type: ignore[return-value]
        claims = jwt.decode(header[7:], KEY, algorithms=["HS256"])  # may escape: pyjwt
        return {"sub": str(claims["sub"])}

    @app.get("/public")
    def public() -> dict[str, str]:
        return {"ok": "yes"}

    @app.route("/opts", methods=["OPTIONS"])
    def public_options() -> dict[str, str]:
        seen.append("options")
        return {"options": "app"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("not an auth failure")

    @app.get("/denied")
    def denied() -> None:
        raise AuthFailure(Reason.CREDENTIALS_INVALID)

    if mode == "app":
        flask_cors.CORS(app, origins=[PAGE], supports_credentials=True, expose_headers=["X-Total"])
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", logger=logger)  # type: ignore[method-assign]
    elif mode == "app-wildcard":
        # flask-cors refuses this combination; hand-written snippets do not.
        @app.after_request
        def allow_everyone(response: Any) -> Any:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Credentials"] = "true"
            return response

        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", logger=logger)  # type: ignore[method-assign]
    else:
        app.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
            app.wsgi_app,
            realm="api",
            logger=logger,
            cors=CORS(allow_origins=[PAGE], expose_headers=["X-Total"]),
        )
    return app


@contextmanager
def serving(framework: str, mode: str) -> Iterator[tuple[int, CapturingLogger, list[str]]]:
    logger = CapturingLogger()
    seen: list[str] = []
    if framework == "fastapi":
        with UvicornThread(fastapi_app(mode, logger, seen)) as server:
            yield server.port, logger, seen
    else:
        with WerkzeugThread(flask_app(mode, logger, seen)) as server:
            yield server.port, logger, seen


FRAMEWORKS = ["fastapi", "flask"]


def exposed(reply: Reply) -> list[str]:
    return [
        item.strip().lower()
        for value in reply.get_all("access-control-expose-headers")
        for item in value.split(",")
    ]


def vary(reply: Reply) -> list[str]:
    return [item.strip().lower() for value in reply.get_all("vary") for item in value.split(",")]


def preflight(origin: str, method: str = "GET", headers: str = "authorization") -> list[Any]:
    return [
        ("Origin", origin),
        ("Access-Control-Request-Method", method),
        ("Access-Control-Request-Headers", headers),
    ]


# --- authhygiene as the CORS layer (cors=) ----------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_preflight_is_answered_before_the_app(framework: str) -> None:
    """R20: a preflight never carries credentials, so it must never meet the
    app's auth; the answer names exactly the origin and what it may send."""
    with serving(framework, "ours") as (port, _, seen):
        reply = fetch(port, "/me", method="OPTIONS", headers=preflight(PAGE))
    assert reply.status == 204
    assert reply.body == b""
    assert reply.get_all("access-control-allow-origin") == [PAGE]
    assert reply.get("access-control-allow-credentials") == "true"
    assert "authorization" in (reply.get("access-control-allow-headers") or "").lower()
    assert "GET" in (reply.get("access-control-allow-methods") or "")
    assert reply.get("access-control-max-age") == "600"
    assert {"origin", "access-control-request-method", "access-control-request-headers"} <= set(
        vary(reply)
    )
    assert seen == []


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    "origin_headers",
    [
        pytest.param([("Origin", OTHER)], id="not-allowed"),
        pytest.param([("Origin", "null")], id="null"),
        pytest.param([("Origin", PAGE.upper())], id="uppercase"),
        pytest.param([("Origin", PAGE + "/")], id="trailing-slash"),
        pytest.param([("Origin", PAGE), ("Origin", PAGE)], id="twice"),
        pytest.param([("Origin", "http://" + "a" * 600 + ".example")], id="oversized"),
    ],
)
def test_preflight_from_a_bad_origin_gets_no_cors_headers(
    framework: str, origin_headers: list[Any]
) -> None:
    with serving(framework, "ours") as (port, _, seen):
        headers = [*origin_headers, ("Access-Control-Request-Method", "GET")]
        reply = fetch(port, "/me", method="OPTIONS", headers=headers)
    assert reply.status == 403
    assert not [k for k, _ in reply.headers if k.lower().startswith("access-control-allow")]
    assert reply.json()["reason"] == "origin_not_allowed"
    assert b"page.example" not in reply.body
    assert seen == []


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_plain_options_goes_to_the_app(framework: str) -> None:
    with serving(framework, "ours") as (port, _, seen):
        reply = fetch(port, "/opts", method="OPTIONS", headers=[("Origin", PAGE)])
    assert reply.status == 200
    assert reply.json() == {"options": "app"}
    assert seen == ["options"]
    assert reply.get_all("access-control-allow-origin") == [PAGE]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    ("path", "token", "status", "reason"),
    [
        pytest.param("/public", None, 200, None, id="success"),
        pytest.param("/me", "expired", 401, "token_expired", id="expired-401"),
        pytest.param("/me", None, 401, "credentials_missing", id="missing-401"),
        pytest.param("/denied", None, 401, "credentials_invalid", id="raised-auth-failure"),
        pytest.param("/boom", None, 500, None, id="server-error-500"),
    ],
)
def test_every_response_to_an_allowed_origin_is_readable(
    framework: str, path: str, token: str | None, status: int, reason: str | None
) -> None:
    """R19/R21: exact origin, credentials, Vary: Origin on every response,
    and on failures the challenge exposed, beside the app's own list."""
    headers = [("Origin", PAGE)]
    if token:
        headers.append(("Authorization", f"Bearer {expired()}"))
    with serving(framework, "ours") as (port, _, _seen):
        for _ in range(2):  # the first request places the step; the second uses it
            reply = fetch(port, path, headers=headers)
            assert reply.status == status
            assert reply.get_all("access-control-allow-origin") == [PAGE]
            assert reply.get_all("access-control-allow-credentials") == ["true"]
            assert "origin" in vary(reply)
            assert "x-total" in exposed(reply)
            if status >= 400:
                assert {"www-authenticate", "retry-after", "x-request-id"} <= set(exposed(reply))
            else:
                assert "www-authenticate" not in exposed(reply)
            if reason:
                assert reply.json()["reason"] == reason


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="no-origin"),
        pytest.param([("Origin", OTHER)], id="other-origin"),
        pytest.param([("Origin", "null")], id="null-origin"),
    ],
)
@pytest.mark.parametrize("path", ["/public", "/me"])
def test_no_cors_headers_for_other_origins_but_vary_always(
    framework: str, headers: list[Any], path: str
) -> None:
    """A cache must never hand one origin's answer to another, so Vary:
    Origin is on every response; the origin is reflected only when allowed."""
    with serving(framework, "ours") as (port, _, _seen):
        reply = fetch(port, path, headers=headers)
    assert reply.status in (200, 401)
    assert not [k for k, _ in reply.headers if k.lower().startswith("access-control-allow")]
    assert "origin" in vary(reply)


# --- the app's own CORS layer (no cors=) ------------------------------------


@pytest.mark.parametrize(
    ("framework", "path", "token", "reason", "app_layer_answered"),
    [
        # FastAPI: HTTPBearer's own 401 goes out through CORSMiddleware.
        pytest.param("fastapi", "/me", False, "credentials_missing", True, id="fastapi-missing"),
        # pyjwt's error and AuthFailure escape CORSMiddleware: we answer, with
        # the headers its own `send` computes for our 401.
        pytest.param("fastapi", "/me", True, "token_expired", True, id="fastapi-escaped-pyjwt"),
        pytest.param("fastapi", "/denied", True, "credentials_invalid", True, id="fastapi-raised"),
        # Flask renders both itself, and flask-cors' after_request runs on them.
        pytest.param("flask", "/me", False, "credentials_missing", True, id="flask-missing"),
        pytest.param("flask", "/me", True, "token_expired", True, id="flask-escaped-pyjwt"),
        pytest.param("flask", "/denied", True, "credentials_invalid", True, id="flask-raised"),
    ],
)
def test_app_cors_layer_is_kept_and_the_challenge_exposed(
    framework: str, path: str, token: bool, reason: str, app_layer_answered: bool
) -> None:
    """Without cors=, the app's layer decides who reads; on failures we add
    WWW-Authenticate to what it exposes, and for a failure we answered
    ourselves (an exception that escaped its layer) we ask it first."""
    headers = [("Origin", PAGE)]
    if token:
        headers.append(("Authorization", f"Bearer {expired()}"))
    with serving(framework, "app") as (port, _, _seen):
        reply = fetch(port, path, headers=headers)
    assert reply.status == 401
    assert reply.json()["reason"] == reason
    assert reply.get_all("access-control-allow-origin") == [PAGE]
    assert reply.get_all("access-control-allow-credentials") == ["true"]
    assert "www-authenticate" in exposed(reply)
    assert ("x-total" in exposed(reply)) is app_layer_answered


@pytest.mark.parametrize(
    ("origin", "expected"),
    [pytest.param(PAGE, PAGE, id="allowed"), pytest.param(OTHER, None, id="other")],
)
def test_flask_debug_escaped_pyjwt_error_keeps_flask_cors_headers(
    origin: str, expected: str | None
) -> None:
    """In debug (or with PROPAGATE_EXCEPTIONS) Flask re-raises a view's
    exception, so flask-cors never sees it; our 401 still carries what
    flask-cors computes for this request, for its allowed origins only."""
    logger = CapturingLogger()
    app = flask_app("app", logger, [])
    app.config["PROPAGATE_EXCEPTIONS"] = True
    headers = [("Origin", origin), ("Authorization", f"Bearer {expired()}")]
    with WerkzeugThread(app) as server:
        reply = fetch(server.port, "/me", headers=headers)
    assert reply.status == 401
    assert reply.json()["reason"] == "token_expired"
    assert reply.get("access-control-allow-origin") == expected
    if expected:
        assert reply.get("access-control-allow-credentials") == "true"
        assert {"www-authenticate", "x-total"} <= set(exposed(reply))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_app_cors_layer_other_origin_gets_nothing_copied(framework: str) -> None:
    headers = [("Origin", OTHER), ("Authorization", f"Bearer {expired()}")]
    with serving(framework, "app") as (port, _, _seen):
        reply = fetch(port, "/me", headers=headers)
    assert reply.status == 401
    assert not reply.get_all("access-control-allow-origin")


@pytest.mark.parametrize(
    ("framework", "reported"),
    [
        # A hand-written after_request answering `*` with credentials.
        pytest.param("flask", 1, id="flask-hand-written"),
        # Starlette's CORSMiddleware(allow_origins=["*"], allow_credentials=True)
        # reflects the request's origin instead: reported from its settings
        # (below), not from the wire.
        pytest.param("fastapi", 0, id="starlette-reflects"),
    ],
)
def test_app_answering_wildcard_with_credentials_is_reported_once(
    framework: str, reported: int
) -> None:
    with serving(framework, "app-wildcard") as (port, logger, _seen):
        for _ in range(3):
            fetch(port, "/me", headers=[("Origin", PAGE)])
    kinds = [
        call.kwargs.get("kind")
        for call in logger.calls
        if call.args and call.args[0] == "auth.misconfig"
    ]
    assert kinds.count("cors_wildcard_with_credentials") == reported
    assert kinds.count("cors_any_origin_with_credentials") == (framework == "fastapi")


def test_preflight_refused_by_the_apps_auth_is_reported() -> None:
    """An app whose auth runs before its CORS layer answers the preflight
    401; the browser never sends the real request. Reported, with the fix."""
    logger = CapturingLogger()
    app = Flask(__name__)

    @app.before_request
    def require_token() -> Any:
        if "Authorization" not in request.headers:
            return {"msg": "Missing Authorization Header"}, 401
        return None

    @app.get("/me")
    def me() -> dict[str, str]:
        return {"sub": "u"}

    flask_cors.CORS(app, origins=[PAGE], supports_credentials=True)
    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", logger=logger)  # type: ignore[method-assign]
    with WerkzeugThread(app) as server:
        reply = fetch(server.port, "/me", method="OPTIONS", headers=preflight(PAGE))
    assert reply.status == 401
    misconfig = [c.kwargs for c in logger.calls if c.args and c.args[0] == "auth.misconfig"]
    assert any(
        m["kind"] == "preflight_refused" and "cors=CORS" in m.get("fix", "") for m in misconfig
    )


def test_starlette_server_error_500_carries_cors_from_the_first_request() -> None:
    """With lifespan on, the CORS step is placed in front of Starlette's
    server-error layer before the first request arrives."""
    logger = structlog.get_logger("test")
    seen: list[str] = []
    with UvicornThread(fastapi_app("ours", logger, seen), lifespan="on") as server:
        reply = fetch(server.port, "/boom", headers=[("Origin", PAGE)])
    assert reply.status == 500
    assert reply.get_all("access-control-allow-origin") == [PAGE]
