"""The CORS step at the ASGI and WSGI protocol edges, with small real apps.

Why: the end-to-end tests show what a framework user sees; these pin the
corners a server rarely produces on demand: non-HTTP scopes untouched with
``cors=``, the step placed in front of Starlette's server-error layer only
when this middleware really sits behind it, the app's own CORS layer asked
for a failure we answer, its mistakes reported, apps that start their
response lazily.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhygiene import CORS, AuthFailure, AuthHygiene, AuthHygieneWSGI, Reason
from authhygiene._asgi_cors import CorsOutside as _CorsOutside

PAGE = "http://page.example"
Message = dict[str, Any]


def run(app: Any, scope: dict[str, Any]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    base = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}
    asyncio.run(app({**base, **scope}, receive, send))
    return sent


def run_raising(app: Any, path: str) -> list[Message]:
    """What the app sent for `path` (with an allowed Origin) before the
    unhandled exception it raises reached the server."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"origin", PAGE.encode())],
    }
    with pytest.raises(RuntimeError):
        asyncio.run(app(scope, receive, send))
    return sent


def headers_of(sent: list[Message]) -> dict[str, str]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {k.decode(): v.decode() for k, v in start["headers"]}


def wrap(app: Any, **options: Any) -> AuthHygiene:
    return AuthHygiene(app, realm="api", logger=structlog.get_logger("test"), **options)


class Recorder:
    """An ASGI app that records the scopes it saw and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
def test_other_scopes_pass_untouched_with_cors(scope_type: str) -> None:
    inner = Recorder()
    app = wrap(inner, cors=CORS(allow_origins=[PAGE]))
    scope = {"type": scope_type, "headers": [(b"origin", PAGE.encode())]}

    async def go() -> None:
        async def receive() -> Message:
            return {}

        async def send(message: Message) -> None:
            raise AssertionError("nothing is sent for a passed-through scope")

        await app(scope, receive, send)

    asyncio.run(go())
    assert inner.scopes == [scope]
    assert "authhygiene.cors" not in scope


@pytest.mark.parametrize(
    ("scope", "status", "app_called"),
    [
        pytest.param(
            {
                "method": "OPTIONS",
                "headers": [(b"origin", PAGE.encode()), (b"access-control-request-method", b"PUT")],
            },
            204,
            False,
            id="preflight",
        ),
        pytest.param(
            {"method": "OPTIONS", "headers": [(b"origin", PAGE.encode())]},
            200,
            True,
            id="options-without-request-method",
        ),
        pytest.param(
            {"method": "OPTIONS", "headers": [(b"access-control-request-method", b"GET")]},
            200,
            True,
            id="options-without-origin",
        ),
    ],
)
def test_only_a_real_preflight_is_answered_here(
    scope: dict[str, Any], status: int, app_called: bool
) -> None:
    inner = Recorder()
    sent = run(wrap(inner, cors=CORS(allow_origins=[PAGE])), scope)
    assert sent[0]["status"] == status
    assert bool(inner.scopes) is app_called


def test_requested_headers_sent_in_several_fields_are_all_mirrored() -> None:
    scope = {
        "method": "OPTIONS",
        "headers": [
            (b"origin", PAGE.encode()),
            (b"access-control-request-method", b"GET"),
            (b"access-control-request-headers", b"authorization"),
            (b"access-control-request-headers", b"x-trace"),
        ],
    }
    sent = run(wrap(Recorder(), cors=CORS(allow_origins=[PAGE])), scope)
    allowed = headers_of(sent)["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "x-trace" in allowed


def _starlette(*, cors: bool) -> Starlette:
    def boom(request: Any) -> PlainTextResponse:
        raise RuntimeError("a bug")

    def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    options: dict[str, Any] = {"realm": "api", "logger": structlog.get_logger("test")}
    if cors:
        options["cors"] = CORS(allow_origins=[PAGE])
    return Starlette(
        routes=[Route("/boom", boom), Route("/", ok)],
        middleware=[Middleware(AuthHygiene, **options)],
    )


def test_step_is_placed_in_front_of_starlettes_server_error_layer() -> None:
    app = _starlette(cors=True)
    sent = run(app, {"headers": [(b"origin", PAGE.encode())]})
    assert headers_of(sent)["access-control-allow-origin"] == PAGE
    assert isinstance(app.middleware_stack, _CorsOutside)
    assert isinstance(app.middleware_stack.app, ServerErrorMiddleware)

    sent = run_raising(app, "/boom")
    assert sent[0]["status"] == 500
    assert headers_of(sent)["access-control-allow-origin"] == PAGE


def test_step_is_not_placed_without_cors() -> None:
    app = _starlette(cors=False)
    run(app, {})
    assert isinstance(app.middleware_stack, ServerErrorMiddleware)


def test_step_is_not_placed_for_a_middleware_outside_the_stack() -> None:
    """A Starlette app wrapped from outside: we are already outermost."""
    inner = _starlette(cors=False)
    outer = wrap(inner, cors=CORS(allow_origins=[PAGE]))
    sent = run(outer, {"headers": [(b"origin", PAGE.encode())]})
    assert headers_of(sent)["access-control-allow-origin"] == PAGE
    assert isinstance(inner.middleware_stack, ServerErrorMiddleware)


def _starlette_with_its_own_cors(seen: list[str], **cors_options: Any) -> Starlette:
    """authhygiene outermost, the app's CORSMiddleware inside it, a route
    whose AuthFailure escapes both (Starlette does not handle it)."""

    def denied(request: Any) -> PlainTextResponse:
        seen.append(request.method)
        raise AuthFailure(Reason.CREDENTIALS_INVALID)

    options = {"allow_origins": [PAGE], "allow_credentials": True, **cors_options}
    return Starlette(
        routes=[Route("/denied", denied, methods=["GET", "OPTIONS"])],
        middleware=[
            Middleware(AuthHygiene, realm="api", logger=structlog.get_logger("test")),
            Middleware(CORSMiddleware, expose_headers=["X-Total"], **options),
        ],
    )


@pytest.mark.parametrize(
    ("origin", "cors_options", "expected"),
    [
        pytest.param(PAGE, {}, PAGE, id="allowed"),
        pytest.param("http://else.example", {}, None, id="another-origin"),
        pytest.param(None, {}, None, id="no-origin"),
        pytest.param(
            PAGE,
            {"allow_origins": [], "allow_origin_regex": r"http://page\.example"},
            PAGE,
            id="regex",
        ),
    ],
)
def test_failures_we_answer_get_the_apps_own_cors_headers(
    origin: str | None, cors_options: dict[str, Any], expected: str | None
) -> None:
    """The app's Starlette CORSMiddleware computes the headers for our 401
    with its own logic; no request (no OPTIONS) reaches the app for it."""
    seen: list[str] = []
    app = _starlette_with_its_own_cors(seen, **cors_options)
    headers = [(b"authorization", b"Bearer x")]
    if origin:
        headers.append((b"origin", origin.encode()))
    sent = run(app, {"path": "/denied", "headers": headers})
    got = headers_of(sent)
    assert sent[0]["status"] == 401
    assert got.get("access-control-allow-origin") == expected
    if expected:
        assert got["access-control-allow-credentials"] == "true"
        assert {"www-authenticate", "x-total"} <= {
            item.strip().lower() for item in got["access-control-expose-headers"].split(",")
        }
    assert seen == ["GET"]


def test_raw_asgi_app_gets_nothing_copied_and_is_called_once() -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["method"])
        raise AuthFailure(Reason.CREDENTIALS_INVALID)

    sent = run(wrap(app), {"headers": [(b"origin", PAGE.encode())]})
    assert sent[0]["status"] == 401
    assert "access-control-allow-origin" not in headers_of(sent)
    assert calls == ["GET"]


def _misconfig_kinds(app: Any, scope: dict[str, Any]) -> list[str]:
    from structlog.testing import CapturingLogger

    logger = CapturingLogger()
    for middleware in app.user_middleware:
        if middleware.cls is AuthHygiene:
            middleware.kwargs["logger"] = logger
    run(app, scope)
    return [c.kwargs["kind"] for c in logger.calls if c.args and c.args[0] == "auth.misconfig"]


@pytest.mark.parametrize(
    ("hygiene_cors", "app_cors", "kind"),
    [
        pytest.param(
            CORS(allow_origins=[PAGE]),
            {"allow_origins": [PAGE]},
            "cors_configured_twice",
            id="twice",
        ),
        pytest.param(
            None,
            {"allow_origins": ["*"], "allow_credentials": True},
            "cors_any_origin_with_credentials",
            id="any-origin-with-credentials",
        ),
        pytest.param(None, {"allow_origins": ["*"]}, None, id="any-origin-no-credentials"),
        pytest.param(
            None,
            {"allow_origin_regex": r"https?://.*", "allow_credentials": True},
            "cors_any_origin_with_credentials",
            id="any-site-regex-with-credentials",
        ),
        pytest.param(
            None,
            {"allow_origin_regex": r"https://[a-z]+\.page\.example", "allow_credentials": True},
            None,
            id="anchored-regex",
        ),
        pytest.param(None, {"allow_origins": [PAGE], "allow_credentials": True}, None, id="fine"),
    ],
)
def test_app_cors_layer_mistakes_are_reported_once(
    hygiene_cors: CORS | None, app_cors: dict[str, Any], kind: str | None
) -> None:
    def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    options: dict[str, Any] = {"realm": "api"}
    if hygiene_cors is not None:
        options["cors"] = hygiene_cors
    app = Starlette(
        routes=[Route("/", ok)],
        middleware=[Middleware(AuthHygiene, **options), Middleware(CORSMiddleware, **app_cors)],
    )
    kinds = _misconfig_kinds(app, {})
    assert kinds == ([kind] if kind else [])


def test_first_request_500_is_readable_without_lifespan() -> None:
    """Placed at the first HTTP request (no lifespan, or a mounted sub-app):
    that request's own 500 is rendered by Starlette's server-error layer
    through the CORS step."""
    app = _starlette(cors=True)

    sent = run_raising(app, "/boom")
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    assert starts[0]["status"] == 500
    assert headers_of(sent)["access-control-allow-origin"] == PAGE


# --- WSGI -------------------------------------------------------------------


def environ(**extra: Any) -> dict[str, Any]:
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "x"}
    return {**base, **extra}


def call(app: Any, env: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    got: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got.append((status, headers))
        return lambda data: None

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    status, headers = got[-1]
    return status, {k.lower(): v for k, v in headers}, body


def lazy_app(environ: dict[str, Any], start_response: Any) -> Any:
    """Calls start_response on the first iteration (PEP 3333 allows it)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"ok"


def test_wsgi_preflight_never_calls_the_app() -> None:
    called: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(environ["REQUEST_METHOD"])
        start_response("401 Unauthorized", [])
        return [b""]

    wrapped = AuthHygieneWSGI(app, realm="api", cors=CORS(allow_origins=[PAGE]))
    env = environ(
        REQUEST_METHOD="OPTIONS", HTTP_ORIGIN=PAGE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    status, headers, _body = call(wrapped, env)
    assert status.startswith("204")
    assert headers["access-control-allow-origin"] == PAGE
    assert called == []


def test_wsgi_lazy_app_gets_cors_headers() -> None:
    wrapped = AuthHygieneWSGI(lazy_app, realm="api", cors=CORS(allow_origins=[PAGE]))
    _status, headers, body = call(wrapped, environ(HTTP_ORIGIN=PAGE))
    assert body == b"ok"
    assert headers["access-control-allow-origin"] == PAGE
    assert "Origin" in headers["vary"]


def test_wsgi_failure_we_answer_calls_the_app_once() -> None:
    """No synthetic request reaches a WSGI app: Flask's own error handling
    runs flask-cors on its answers; a raw WSGI app gets our 401 alone."""
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["REQUEST_METHOD"])
        raise AuthFailure(Reason.CREDENTIALS_MISSING)

    status, headers, _ = call(AuthHygieneWSGI(app, realm="api"), environ(HTTP_ORIGIN=PAGE))
    assert status.startswith("401")
    assert "access-control-allow-origin" not in headers
    assert calls == ["GET"]


@pytest.mark.parametrize(
    ("flask_cors_options", "hygiene_cors", "kind"),
    [
        pytest.param(
            {"supports_credentials": True}, None, "cors_any_origin_with_credentials", id="any"
        ),
        pytest.param({"origins": [PAGE], "supports_credentials": True}, None, None, id="fine"),
        pytest.param(
            {"origins": r"https?://.*", "supports_credentials": True},
            None,
            "cors_any_origin_with_credentials",
            id="any-site-pattern",
        ),
        pytest.param({}, None, None, id="any-origin-no-credentials"),
        pytest.param(
            {"origins": [PAGE]}, CORS(allow_origins=[PAGE]), "cors_configured_twice", id="twice"
        ),
    ],
)
def test_flask_cors_mistakes_are_reported_once(
    flask_cors_options: dict[str, Any], hygiene_cors: CORS | None, kind: str | None
) -> None:
    import flask_cors
    from flask import Flask
    from structlog.testing import CapturingLogger

    logger = CapturingLogger()
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return "ok"

    options: dict[str, Any] = {"realm": "api", "logger": logger}
    if hygiene_cors is not None:
        options["cors"] = hygiene_cors
    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **options)  # type: ignore[method-assign]
    flask_cors.CORS(app, **flask_cors_options)  # after the one line: read at the first request
    from werkzeug.test import Client

    client = Client(app)
    for _ in range(2):
        client.get("/", headers={"Origin": PAGE})
    kinds = [c.kwargs["kind"] for c in logger.calls if c.args and c.args[0] == "auth.misconfig"]
    assert kinds == ([kind] if kind else [])
