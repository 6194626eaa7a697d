"""The CORS step at the ASGI and WSGI protocol edges, with small real apps.

Why: the end-to-end tests show what a framework user sees; these pin the
corners a server rarely produces on demand: non-HTTP scopes untouched with
``cors=``, the step placed in front of Starlette's server-error layer only
when this middleware really sits behind it, a probe that fails or finds no
CORS layer, apps that start their response lazily.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhygiene import CORS, AuthFailure, AuthHygiene, AuthHygieneWSGI, Reason
from authhygiene.asgi import _CorsOutside

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

    async def go() -> list[Message]:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/boom",
            "query_string": b"",
            "headers": [(b"origin", PAGE.encode())],
        }
        with pytest.raises(RuntimeError):
            await app(scope, receive, send)
        return sent

    sent = asyncio.run(go())
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


def _raising_app(on_options: BaseException | None, options_headers: list[Any]) -> Any:
    """Raises AuthFailure for GET; answers (or fails) the probe's OPTIONS."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["method"] == "OPTIONS":
            if on_options is not None:
                raise on_options
            await send({"type": "http.response.start", "status": 200, "headers": options_headers})
            await send({"type": "http.response.body", "body": b""})
            return
        raise AuthFailure(Reason.CREDENTIALS_INVALID)

    return app


@pytest.mark.parametrize(
    ("on_options", "options_headers", "expected"),
    [
        pytest.param(
            None,
            [(b"access-control-allow-origin", PAGE.encode())],
            PAGE,
            id="layer-says-yes",
        ),
        pytest.param(
            None,
            [(b"access-control-allow-origin", b"http://else.example")],
            None,
            id="layer-names-another-origin",
        ),
        pytest.param(None, [], None, id="no-layer"),
        pytest.param(RuntimeError("no OPTIONS here"), [], None, id="probe-raises"),
    ],
)
def test_probe_for_failures_we_answer(
    on_options: BaseException | None, options_headers: list[Any], expected: str | None
) -> None:
    app = wrap(_raising_app(on_options, options_headers))
    sent = run(app, {"headers": [(b"origin", PAGE.encode()), (b"authorization", b"Bearer x")]})
    assert sent[0]["status"] == 401
    assert headers_of(sent).get("access-control-allow-origin") == expected


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


@pytest.mark.parametrize(
    ("options_headers", "expected"),
    [
        pytest.param([("Access-Control-Allow-Origin", PAGE)], PAGE, id="layer-says-yes"),
        pytest.param([("Access-Control-Allow-Origin", "http://x.example")], None, id="other"),
        pytest.param([], None, id="no-layer"),
    ],
)
def test_wsgi_probe_for_failures_we_answer(
    options_headers: list[tuple[str, str]], expected: str | None
) -> None:
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "OPTIONS":
            seen.append(environ)
            start_response("200 OK", options_headers)
            return [environ["wsgi.input"].read()]
        raise AuthFailure(Reason.CREDENTIALS_INVALID)

    wrapped = AuthHygieneWSGI(app, realm="api")
    env = environ(HTTP_ORIGIN=PAGE, HTTP_AUTHORIZATION="Bearer secret-token-1")
    status, headers, _ = call(wrapped, env)
    assert status.startswith("401")
    assert headers.get("access-control-allow-origin") == expected
    # The probe asks as a browser would, and carries none of the request's credentials.
    assert seen[0]["HTTP_ACCESS_CONTROL_REQUEST_METHOD"] == "GET"
    assert seen[0]["HTTP_ACCESS_CONTROL_REQUEST_HEADERS"] == "authorization"
    assert "HTTP_AUTHORIZATION" not in seen[0]


def test_wsgi_probe_that_raises_copies_nothing() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "OPTIONS":
            raise RuntimeError("no OPTIONS here")
        raise AuthFailure(Reason.CREDENTIALS_MISSING)

    status, headers, _ = call(AuthHygieneWSGI(app, realm="api"), environ(HTTP_ORIGIN=PAGE))
    assert status.startswith("401")
    assert "access-control-allow-origin" not in headers
