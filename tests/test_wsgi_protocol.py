"""PEP 3333 corners of AuthHygieneWSGI, driven with small real WSGI apps:
lazy start_response, the legacy write() callable, close() exactly once on
every path. End-to-end behaviour through real servers is in tests/e2e."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from authhygiene import AuthFailure, AuthHygieneWSGI, Reason


class Body:
    """An app iterable that counts close() calls."""

    def __init__(self, chunks: list[bytes], fail: BaseException | None = None) -> None:
        self.chunks = chunks
        self.fail = fail
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.fail is not None:
            raise self.fail

    def close(self) -> None:
        self.closed += 1


def environ(**extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/x",
        "QUERY_STRING": "",
        "HTTP_AUTHORIZATION": "Bearer tok-123456",
        "REMOTE_ADDR": "127.0.0.1",
        **extra,
    }


def call(app: Any, env: dict[str, Any] | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    result = app(env or environ(), start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    return status, headers, data


def wrap(app: Any, **options: Any) -> AuthHygieneWSGI:
    return AuthHygieneWSGI(app, realm="api", logger=structlog.get_logger("test"), **options)


def eager(status: str, body: Body, headers: list[tuple[str, str]] | None = None) -> Any:
    def app(env: Any, start_response: Callable[..., Any]) -> Body:
        start_response(status, headers or [("Content-Type", "text/plain")])
        return body

    return app


def lazy(status: str, body: Body) -> Any:
    def app(env: Any, start_response: Callable[..., Any]) -> Any:
        class Lazy(Body):
            def __iter__(self) -> Iterator[bytes]:
                start_response(status, [("Content-Type", "text/plain")])
                yield from body

            def close(self) -> None:
                body.close()

        return Lazy([])

    return app


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
@pytest.mark.parametrize(
    ("status", "rewritten"),
    [
        pytest.param("200 OK", False, id="200"),
        pytest.param("404 Not Found", False, id="404"),
        pytest.param("401 Unauthorized", True, id="401"),
        pytest.param("403 Forbidden", True, id="403"),
    ],
)
def test_closed_exactly_once(style: Any, status: str, rewritten: bool) -> None:
    body = Body([b"a", b"b"])
    got_status, headers, data = call(wrap(style(status, body)))
    assert body.closed == 1
    if rewritten:
        assert dict(headers)["content-type"] == "application/problem+json"
        assert got_status == status  # a token was sent: 403 stays 403
    else:
        assert got_status == status
        assert data == b"ab"


def test_success_returns_the_apps_own_iterable() -> None:
    body = Body([b"x"])
    result = wrap(eager("200 OK", body))(environ(), lambda s, h, e=None: None)
    assert result is body


def test_write_callable_is_collected() -> None:
    def app(env: Any, start_response: Callable[..., Any]) -> list[bytes]:
        write = start_response("401 Unauthorized", [("Content-Type", "text/plain")])
        write(b"Invalid API key")
        return []

    _, _, data = call(wrap(app))
    assert json.loads(data)["detail"] == "Invalid API key"


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
def test_raised_auth_failure(style: Any) -> None:
    def app(env: Any, start_response: Callable[..., Any]) -> Any:
        raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")

    def lazy_app(env: Any, start_response: Callable[..., Any]) -> Any:
        return Body([], fail=AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write"))

    status, headers, data = call(wrap(app if style is eager else lazy_app))
    assert status == "403 Forbidden"
    assert 'scope="items:write"' in dict(headers)["www-authenticate"]
    assert json.loads(data)["required_scope"] == "items:write"


def test_error_while_reading_401_closes_and_raises() -> None:
    body = Body([b"a"], fail=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        call(wrap(eager("401 Unauthorized", body)))
    assert body.closed == 1


def test_report_only_passes_the_401_unchanged() -> None:
    body = Body([b"no"])
    status, headers, data = call(wrap(eager("401 Unauthorized", body), report_only=True))
    assert (status, headers, data) == ("401 Unauthorized", [("Content-Type", "text/plain")], b"no")
    assert body.closed == 1


def test_report_only_oversized_401_streams_on() -> None:
    body = Body([b"x" * 2048, b"y" * 2048, b"end"])
    _, _, data = call(wrap(eager("401 Unauthorized", body), report_only=True, max_body_bytes=1024))
    assert data == b"x" * 2048 + b"y" * 2048 + b"end"
    assert body.closed == 1


def test_report_only_raised_failure_propagates() -> None:
    def app(env: Any, start_response: Callable[..., Any]) -> Any:
        raise AuthFailure(Reason.TOKEN_REVOKED)

    with pytest.raises(AuthFailure):
        call(wrap(app, report_only=True))


def test_head_failure_has_no_body() -> None:
    _, headers, data = call(
        wrap(eager("401 Unauthorized", Body([b"x"]))), environ(REQUEST_METHOD="HEAD")
    )
    assert data == b""
    assert int(dict(headers)["content-length"]) > 0


def test_csrf_403_passes_through() -> None:
    body = Body([b"CSRF verification failed. Request aborted."])
    status, _, data = call(wrap(eager("403 Forbidden", body)), environ(HTTP_AUTHORIZATION=""))
    assert status == "403 Forbidden"
    assert data.startswith(b"CSRF")


def test_large_non_auth_403_streams_on_whole() -> None:
    chunks = [b"<p>CSRF verification failed.</p>" + b"x" * 4000 for _ in range(25)] + [b"end"]
    body = Body(chunks)
    status, _, data = call(
        wrap(eager("403 Forbidden", body, [("Content-Type", "text/html")])),
        environ(HTTP_AUTHORIZATION=""),
    )
    assert status == "403 Forbidden"
    assert data == b"".join(chunks)
    assert body.closed == 1


def test_endless_401_is_answered_without_reading_it_all() -> None:
    pulled = []

    class Endless(Body):
        def __iter__(self) -> Iterator[bytes]:
            for i in range(10_000):  # bounded stand-in for a stream that never ends
                pulled.append(i)
                yield b"x" * 1024

    body = Endless([])
    status, _, data = call(wrap(eager("401 Unauthorized", body)))
    assert status == "401 Unauthorized"
    assert json.loads(data)["reason"] == "credentials_invalid"
    assert len(pulled) < 100
    assert body.closed == 1


def test_head_is_explained_like_get() -> None:
    # werkzeug drops the body of a HEAD answer; the app is asked for the GET.
    from flask import Flask, jsonify

    app = Flask(__name__)

    @app.get("/items")
    def items() -> Any:
        return jsonify(error="insufficient_scope", message="Missing scope items"), 403

    wrapped = wrap(app.wsgi_app)
    env = environ(PATH_INFO="/items", SERVER_NAME="x", SERVER_PORT="80")
    env["wsgi.url_scheme"] = "http"
    get_status, get_headers, _ = call(wrapped, dict(env))
    head_status, head_headers, head_body = call(wrapped, {**env, "REQUEST_METHOD": "HEAD"})
    assert head_body == b""
    assert head_status == get_status == "403 Forbidden"
    assert dict(head_headers)["www-authenticate"] == dict(get_headers)["www-authenticate"]
    assert 'scope="items"' in dict(head_headers)["www-authenticate"]


def test_flask_500_for_an_uncaught_pyjwt_error_is_answered() -> None:
    import jwt
    from flask import Flask

    app = Flask(__name__)

    @app.get("/items")
    def items() -> Any:
        raise jwt.ExpiredSignatureError("Signature has expired")

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("not about auth")

    app.wsgi_app = wrap(app.wsgi_app)  # type: ignore[method-assign]
    env = environ(PATH_INFO="/items", SERVER_NAME="x", SERVER_PORT="80")
    env["wsgi.url_scheme"] = "http"
    status, _, data = call(app.wsgi_app, dict(env))
    assert status == "401 Unauthorized"
    assert json.loads(data)["reason"] == "token_expired"
    status, _, data = call(app.wsgi_app, {**env, "PATH_INFO": "/boom"})
    assert status.startswith("500")
    assert b"Internal Server Error" in data
