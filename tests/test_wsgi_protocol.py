"""PEP 3333 corners of AuthHygieneWSGI, driven with small real WSGI apps:
lazy start_response, the legacy write() callable, close() exactly once on
every path. End-to-end behaviour through real servers is in tests/e2e."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
import structlog.testing
from hypothesis import given, settings
from hypothesis import strategies as st

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


ERRORS = [
    pytest.param(RuntimeError("boom"), id="RuntimeError"),
    pytest.param(ValueError("bad"), id="ValueError"),
    pytest.param(KeyError("k"), id="KeyError"),
    pytest.param(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "x"), id="UnicodeDecodeError"),
    pytest.param(OSError("socket gone"), id="OSError"),
]


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize(
    ("status", "chunks"),
    [
        pytest.param("401 Unauthorized", [], id="401-before-any-chunk"),
        pytest.param("401 Unauthorized", [b'{"detail": "Invalid '], id="401-after-a-chunk"),
        pytest.param("401 Unauthorized", [b"a", b"b", b"c"], id="401-after-three"),
        pytest.param("403 Forbidden", [b'{"detail": "no"}'], id="403-after-a-chunk"),
    ],
)
def test_refusal_whose_body_raises_is_still_answered(
    style: Any, error: Exception, status: str, chunks: list[bytes]
) -> None:
    # Finding 14: decided on what was read, closed once, never a 500.
    body = Body(chunks, fail=error)
    got_status, headers, data = call(wrap(style(status, body)))
    assert got_status == status
    assert dict(headers)["content-type"] == "application/problem+json"
    assert dict(headers)["cache-control"] == "no-store"
    assert json.loads(data)["status"] == int(status[:3])
    assert body.closed == 1


class FailingClose(Body):
    def close(self) -> None:
        super().close()
        raise RuntimeError("close failed")


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
@pytest.mark.parametrize("fail", [None, ValueError("mid-body")], ids=["clean-body", "raising-body"])
def test_refusal_whose_close_raises_is_answered_and_logged_once(
    style: Any, fail: Exception | None
) -> None:
    log = structlog.testing.CapturingLogger()
    body = FailingClose([b"Invalid token"], fail=fail)
    app = AuthHygieneWSGI(style("401 Unauthorized", body), realm="api", logger=log)
    status, _, data = call(app)
    assert status == "401 Unauthorized"
    assert json.loads(data)["reason"] == "credentials_invalid"
    assert body.closed == 1
    kinds = [c.kwargs.get("kind") for c in log.calls if c.args == ("auth.misconfig",)]
    assert kinds.count("app_body_error") == 1


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
@pytest.mark.parametrize("status", ["200 OK", "404 Not Found", "500 Internal Server Error"])
def test_unwatched_body_error_propagates_as_before(style: Any, status: str) -> None:
    body = Body([b"a"], fail=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        call(wrap(style(status, body)))
    assert body.closed == 1


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
def test_body_error_of_a_401_not_ours_propagates(style: Any) -> None:
    # report-only changes nothing on the wire: the error goes on as without us.
    body = Body([b"a"], fail=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        call(wrap(style("401 Unauthorized", body), report_only=True))
    assert body.closed == 1


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
def test_body_error_of_a_403_not_about_auth_propagates(style: Any) -> None:
    body = Body([b"CSRF verification failed."], fail=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        call(wrap(style("403 Forbidden", body)), environ(HTTP_AUTHORIZATION=""))
    assert body.closed == 1


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
def test_auth_failure_raised_by_a_401_body_is_the_answer(style: Any) -> None:
    body = Body([b"x"], fail=AuthFailure(Reason.TOKEN_REVOKED))
    status, _, data = call(wrap(style("401 Unauthorized", body)))
    assert status == "401 Unauthorized"
    assert json.loads(data)["reason"] == "token_revoked"
    assert body.closed == 1


@pytest.mark.parametrize("style", [eager, lazy], ids=["eager", "lazy"])
def test_base_exceptions_are_not_swallowed(style: Any) -> None:
    body = Body([b"a"], fail=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        call(wrap(style("401 Unauthorized", body)))
    assert body.closed == 1


@given(
    chunks=st.lists(st.binary(max_size=900), max_size=8),
    error=st.sampled_from([RuntimeError, ValueError, TypeError, OSError, LookupError]),
    status=st.sampled_from(["401 Unauthorized", "403 Forbidden"]),
    lazy_start=st.booleans(),
    close_fails=st.booleans(),
    method=st.sampled_from(["GET", "POST", "HEAD"]),
    limit=st.sampled_from([1024, 4096, 65536]),
)
@settings(max_examples=150, deadline=None)
def test_a_refusal_never_becomes_a_500_whatever_its_body_does(
    chunks: list[bytes],
    error: type[Exception],
    status: str,
    lazy_start: bool,
    close_fails: bool,
    method: str,
    limit: int,
) -> None:
    body = (FailingClose if close_fails else Body)(chunks, fail=error("x"))
    app = wrap((lazy if lazy_start else eager)(status, body), max_body_bytes=limit)
    got_status, headers, data = call(app, environ(REQUEST_METHOD=method))
    # The app's status, or 401 where the words it got out say the credentials
    # were rejected (a 403 "Could not validate credentials"): never a 500.
    assert got_status in {status, "401 Unauthorized"}
    assert dict(headers)["content-type"] == "application/problem+json"
    assert (data == b"") == (method == "HEAD")
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


def _flask_refusals() -> tuple[Any, list[str]]:
    """Flask views refusing the way Flask apps do; every call is counted."""
    from flask import Flask, abort, jsonify
    from flask_httpauth import HTTPTokenAuth

    app = Flask(__name__)
    calls: list[str] = []
    auth = HTTPTokenAuth(scheme="Bearer")
    auth.verify_token(lambda token: None)

    @app.before_request
    def count() -> None:
        from flask import request

        calls.append(request.method)

    @app.get("/httpauth")
    @auth.login_required
    def httpauth() -> Any:
        return "ok"

    @app.get("/abort401")
    def abort401() -> Any:
        abort(401)

    @app.get("/abort403")
    def abort403() -> Any:
        abort(403)

    @app.get("/invalid")
    def invalid() -> Any:
        return jsonify(message="Invalid token"), 401

    @app.get("/expired")
    def expired() -> Any:
        return jsonify(message="Token has expired"), 401

    @app.get("/scope")
    def scope() -> Any:
        return jsonify(error="insufficient_scope", message="Missing scope items"), 403

    return app, calls


def _raw_refusal(env: Any, start_response: Callable[..., Any]) -> list[bytes]:
    # A raw WSGI app answers HEAD like GET; the server drops the body.
    RAW_CALLS.append(env["REQUEST_METHOD"])
    start_response("401 Unauthorized", [("Content-Type", "application/json")])
    return [b'{"detail": "Token has expired"}']


RAW_CALLS: list[str] = []
FLASK_ROUTES = ["/httpauth", "/abort401", "/abort403", "/invalid", "/expired", "/scope"]


def _reason(log: Any) -> list[Any]:
    return [c.kwargs["reason"] for c in log.calls if c.args == ("auth.failure",)]


@pytest.mark.parametrize("path", FLASK_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer tok-123456", "Basic dXNlcjpwYXNz"],
    ids=["none", "bearer", "basic"],
)
def test_head_runs_the_app_once_and_is_explained_like_get(
    path: str, authorization: str | None
) -> None:
    # Finding 15: HEAD is decided on what the app gave for the HEAD itself.
    app, calls = _flask_refusals()
    log = structlog.testing.CapturingLogger()
    wrapped = AuthHygieneWSGI(app.wsgi_app, realm="api", logger=log)
    env = environ(PATH_INFO=path, SERVER_NAME="x", SERVER_PORT="80")
    env["wsgi.url_scheme"] = "http"
    if authorization is None:
        del env["HTTP_AUTHORIZATION"]
    else:
        env["HTTP_AUTHORIZATION"] = authorization
    get_status, get_headers, _ = call(wrapped, dict(env))
    assert calls == ["GET"]
    head_status, head_headers, head_body = call(wrapped, {**env, "REQUEST_METHOD": "HEAD"})
    assert calls == ["GET", "HEAD"]  # once each, never a GET behind the HEAD
    assert head_body == b""
    assert head_status == get_status
    assert dict(head_headers).get("www-authenticate") == dict(get_headers).get("www-authenticate")
    assert dict(head_headers)["content-type"] == "application/problem+json"
    get_reason, head_reason = _reason(log)
    assert head_reason == get_reason


def test_head_of_a_raw_app_runs_it_once() -> None:
    RAW_CALLS.clear()
    log = structlog.testing.CapturingLogger()
    wrapped = AuthHygieneWSGI(_raw_refusal, realm="api", logger=log)
    _, get_headers, _ = call(wrapped, environ())
    _, head_headers, body = call(wrapped, environ(REQUEST_METHOD="HEAD"))
    assert RAW_CALLS == ["GET", "HEAD"]
    assert body == b""
    assert dict(head_headers)["www-authenticate"] == dict(get_headers)["www-authenticate"]
    assert _reason(log) == ["token_expired", "token_expired"]


def test_the_head_body_keeper_leaves_other_requests_alone() -> None:
    # While a HEAD is in flight its receiver is connected for the whole app:
    # a request with another environ is not touched, and a failing response
    # never fails the app's request.
    from flask import Flask

    from authhygiene.wsgi import HEAD_BODY_KEY, _head_body_keeper

    app = Flask(__name__)
    mine: dict[str, Any] = {"REQUEST_METHOD": "HEAD"}
    keep = _head_body_keeper(mine, 10)
    with app.test_request_context("/", method="HEAD"):
        keep(app, response=object())  # not its request: nothing, no error
    with app.test_request_context("/", method="HEAD") as ctx:
        keep(app, response=app.response_class(b"x" * 100, status=401))
        assert HEAD_BODY_KEY not in mine
        keep = _head_body_keeper(ctx.request.environ, 10)
        keep(app, response=app.response_class(b"x" * 100, status=401))
        assert ctx.request.environ[HEAD_BODY_KEY] == b"x" * 10
        keep(app, response=None)  # anything at all: never raises


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


class StrictServer:
    """start_response as werkzeug's and wsgiref's: a second call without
    exc_info is an error; with it, allowed until the headers are sent."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.written: list[bytes] = []

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        if self.started and exc_info is None:
            raise AssertionError("Headers already set")
        self.started.append(status)
        return self.written.append

    def run(self, app: Any, env: dict[str, Any]) -> bytes:
        result = app(env, self.start_response)
        try:
            return b"".join(self.written) + b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()


def _error_page_after(first: str, second: str) -> Any:
    """An app that starts `first`, then replaces it with `second` (exc_info)."""

    def app(env: Any, start_response: Callable[..., Any]) -> list[bytes]:
        start_response(first, [("Content-Type", "text/plain")])
        try:
            raise ValueError("while building the body")
        except ValueError:
            start_response(second, [("Content-Type", "text/plain")], sys.exc_info())
        return [b"Invalid token"]

    return app


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        pytest.param("200 OK", "401 Unauthorized", "401 Unauthorized", id="200-then-401"),
        pytest.param("401 Unauthorized", "500 Internal Server Error", "500", id="401-then-500"),
        pytest.param("401 Unauthorized", "403 Forbidden", "40", id="401-then-403"),
        pytest.param("200 OK", "500 Internal Server Error", "500", id="200-then-500"),
    ],
)
def test_start_response_again_with_exc_info(first: str, second: str, expected: str) -> None:
    # PEP 3333: the second call carries exc_info, and the server accepts it
    # while nothing is sent; ours is passed on with it, so it is accepted too.
    bare, wrapped = StrictServer(), StrictServer()
    bare.run(_error_page_after(first, second), environ())
    wrapped.run(wrap(_error_page_after(first, second)), environ())
    assert bare.started[-1] == second
    assert wrapped.started[-1].startswith(expected)


def test_start_response_twice_without_exc_info_raises_only_where_the_bare_app_does() -> None:
    def app(env: Any, start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        start_response("401 Unauthorized", [])
        return [b"x"]

    with pytest.raises(AssertionError):
        StrictServer().run(app, environ())
    with pytest.raises(AssertionError):
        StrictServer().run(wrap(app), environ())


@pytest.mark.parametrize("status", ["401 Unauthorized", "403 Forbidden"])
@pytest.mark.parametrize("fail", [None, RuntimeError("late")], ids=["clean", "raising"])
def test_write_callable_then_a_raising_iterable(status: str, fail: Exception | None) -> None:
    body = Body([b" token"], fail=fail)

    def app(env: Any, start_response: Callable[..., Any]) -> Body:
        write = start_response(status, [("Content-Type", "text/plain")])
        write(b"Invalid")
        return body

    server = StrictServer()
    data = server.run(wrap(app), environ())
    (started,) = server.started
    assert json.loads(data)["status"] == int(started[:3])
    assert json.loads(data)["detail"] == "Invalid token"
    assert body.closed == 1


@pytest.mark.parametrize("length", [65, 200, 15_000])
def test_long_header_names_are_not_cached(length: int) -> None:
    # Finding 13: the header-name cache is bounded in bytes, not only entries.
    from authhygiene import request_views

    key = "HTTP_" + "X" * length
    headers = request_views.view_from_environ(environ(**{key: "v"})).headers
    assert ("x" * length, "v") in headers
    assert key not in request_views._HEADER_NAMES
    assert all(len(k) <= request_views._HEADER_NAME_KEPT_MAX for k in request_views._HEADER_NAMES)


def test_short_header_names_are_cached() -> None:
    from authhygiene import request_views

    request_views.view_from_environ(environ(HTTP_X_SHORT="v"))
    assert request_views._HEADER_NAMES["HTTP_X_SHORT"] == "x-short"


@pytest.mark.parametrize(
    ("count", "length"),
    [pytest.param(1, 8_000, id="one-long-name"), pytest.param(200, 60, id="many-names")],
)
def test_plans_for_huge_header_sets_are_not_cached(count: int, length: int) -> None:
    # Finding 13: each cached plan holds its environ's keys; a client picks them.
    app = wrap(eager("401 Unauthorized", Body([b"no"])))
    extra = {f"HTTP_X{i}_" + "A" * length: "v" for i in range(count)}
    status, _, _ = call(app, environ(**extra))
    assert status == "401 Unauthorized"
    assert app._plans._plans == {}
    call(app, environ())
    assert len(app._plans._plans) == 1
    from authhygiene import request_views

    limit = request_views._PLAN_NAMES_MAX_CHARS
    assert all(sum(map(len, keys)) <= limit for keys in app._plans._plans)


# --- answers we pass through are replayed exactly as the bare app gave them ---


class Transcript:
    """A server's view of one exchange, as werkzeug and gunicorn drive it:
    start_response, write(), each chunk, an error iterating, close() and an
    error it raised. write() data and chunks are both what goes on the wire."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        self.events.append(("start", status, list(headers), exc_info is not None))
        return lambda data: self.events.append(("chunk", data))

    def run(self, app: Any, env: dict[str, Any]) -> list[tuple[Any, ...]]:
        try:
            result = app(env, self.start_response)
        except Exception as exc:
            self.events.append(("app raised", type(exc), str(exc)))
            return self.events
        try:
            for chunk in result:
                self.events.append(("chunk", chunk))
        except Exception as exc:
            self.events.append(("iteration raised", type(exc), str(exc)))
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:
                self.events.append(("close raised", type(exc), str(exc)))
        self.events.append(("closed",))
        return self.events


class Answer(Body):
    """An app iterable: its chunks (any type), then maybe an error; a close()
    that counts and maybe raises."""

    def __init__(
        self, chunks: list[Any], fail: Exception | None = None, close_fails: bool = False
    ) -> None:
        super().__init__(chunks, fail)
        self.close_fails = close_fails

    def close(self) -> None:
        super().close()
        if self.close_fails:
            raise RuntimeError("close() broke")


def _generator_body(chunks: list[Any], fail: Exception | None) -> Any:
    def gen() -> Iterator[Any]:
        yield from chunks
        if fail is not None:
            raise fail

    return gen()


def _app(
    style: str,
    status: str,
    headers: list[tuple[str, str]],
    body: Any,
    written: list[Any] | None = None,
) -> Any:
    """`style`: "eager" starts on the call, "lazy" on the first iteration."""

    def eager_app(env: Any, start_response: Callable[..., Any]) -> Any:
        write = start_response(status, headers)
        for data in written or ():
            write(data)
        return body

    def lazy_app(env: Any, start_response: Callable[..., Any]) -> Any:
        class Lazy:
            def __iter__(self) -> Iterator[Any]:
                write = start_response(status, headers)
                for data in written or ():
                    write(data)
                yield from body

            def close(self) -> None:
                getattr(body, "close", lambda: None)()

        return Lazy()

    return eager_app if style == "eager" else lazy_app


_JSON_TYPE = [("Content-Type", "application/json")]
_TEXT_TYPE = [("Content-Type", "text/plain")]
_CSRF = b"CSRF Failed: CSRF token missing."
_CSRF_PAGE = b"<p>CSRF verification failed.</p>" + b"x" * 4000
_BAD = b'{"detail": "JSON parse error - Expecting value"}'
BEARER = "Bearer x"

# status, headers, chunks, error raised after them, close() raises,
# Authorization, options: each passed through, never rewritten.
PASS_THROUGH = [
    pytest.param("400 Bad Request", _JSON_TYPE, [_BAD], None, True, BEARER, {}, id="400-close"),
    pytest.param(
        "400 Bad Request",
        _JSON_TYPE,
        [_BAD[:10]],
        ValueError("x"),
        False,
        BEARER,
        {},
        id="400-raises-after-a-chunk",
    ),
    pytest.param(
        "400 Bad Request",
        _JSON_TYPE,
        [],
        ValueError("x"),
        False,
        BEARER,
        {},
        id="400-raises-before-any-chunk",
    ),
    pytest.param(
        "400 Bad Request",
        _JSON_TYPE,
        [_BAD[:10], _BAD[10:]],
        OSError("gone"),
        True,
        BEARER,
        {},
        id="400-raises-and-close-raises",
    ),
    pytest.param("403 Forbidden", _TEXT_TYPE, [_CSRF], None, True, None, {}, id="csrf-close"),
    pytest.param(
        "403 Forbidden", _TEXT_TYPE, [_CSRF], None, True, BEARER, {}, id="csrf-close-bearer"
    ),
    pytest.param(
        "403 Forbidden",
        _TEXT_TYPE,
        [_CSRF[:4]],
        KeyError("k"),
        False,
        None,
        {},
        id="csrf-raises-after-a-chunk",
    ),
    pytest.param(
        "403 Forbidden",
        [("Content-Type", "text/html")],
        [_CSRF_PAGE, _CSRF_PAGE, b"end"],
        RuntimeError("late"),
        True,
        None,
        {"max_body_bytes": 1024},
        id="csrf-page-past-the-limit-raises",
    ),
    pytest.param(
        "401 Unauthorized",
        _TEXT_TYPE,
        ["Invalid token"],
        ValueError("x"),
        True,
        BEARER,
        {"report_only": True},
        id="report-only-401-str-raises-close",
    ),
    pytest.param(
        "400 Bad Request",
        _JSON_TYPE,
        [b"", b"", _BAD, None, 7],
        None,
        False,
        BEARER,
        {},
        id="400-odd-chunks",
    ),
]


def _passthrough_env(method: str, authorization: str | None) -> dict[str, Any]:
    env = environ(REQUEST_METHOD=method)
    if authorization is None:
        del env["HTTP_AUTHORIZATION"]
    else:
        env["HTTP_AUTHORIZATION"] = authorization
    return env


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("style", ["eager", "lazy"])
@pytest.mark.parametrize("kind", ["iterable", "generator"])
@pytest.mark.parametrize(
    ("status", "headers", "chunks", "fail", "close_fails", "authorization", "options"),
    PASS_THROUGH,
)
def test_an_answer_passed_through_is_replayed_as_the_bare_app_gave_it(
    method: str,
    style: str,
    kind: str,
    status: str,
    headers: list[tuple[str, str]],
    chunks: list[Any],
    fail: Exception | None,
    close_fails: bool,
    authorization: str | None,
    options: dict[str, Any],
) -> None:
    # Reviewer's defect 1 and 2 (pass-through half): the same start, chunks,
    # error at the same point, close() once and raising in the server's call.
    def body() -> Any:
        if kind == "generator":
            return _generator_body(chunks, fail)
        return Answer(chunks, fail, close_fails)

    bare_body, wrapped_body = body(), body()
    env = _passthrough_env(method, authorization)
    bare = Transcript().run(_app(style, status, headers, bare_body), dict(env))
    wrapped = Transcript().run(wrap(_app(style, status, headers, wrapped_body), **options), env)
    assert wrapped == bare
    assert ("start", status, headers, False) in wrapped
    if kind == "iterable":
        assert bare_body.closed == wrapped_body.closed == 1


@pytest.mark.parametrize("fail", [None, RuntimeError("late")], ids=["clean", "raising"])
def test_write_then_an_iterable_passed_through_is_replayed_in_order(
    fail: Exception | None,
) -> None:
    def app_with(body: Answer) -> Any:
        return _app("eager", "400 Bad Request", _JSON_TYPE, body, written=[b'{"detail": ', "x"])

    bare_body, wrapped_body = Answer([b'"bad"}'], fail, True), Answer([b'"bad"}'], fail, True)
    bare = Transcript().run(app_with(bare_body), environ())
    wrapped = Transcript().run(wrap(app_with(wrapped_body)), environ())
    assert wrapped == bare
    assert bare_body.closed == wrapped_body.closed == 1


def test_an_error_page_passed_through_keeps_its_exc_info() -> None:
    def app(env: Any, start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", _TEXT_TYPE)
        try:
            raise ValueError("while building the body")
        except ValueError:
            start_response("400 Bad Request", _JSON_TYPE, sys.exc_info())
        return [_BAD]

    assert Transcript().run(wrap(app), environ()) == Transcript().run(app, environ())


def test_a_server_refusing_the_apps_start_still_has_it_closed_once() -> None:
    body = Answer([_CSRF], close_fails=True)

    def refuse(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        raise AssertionError("headers not accepted")

    app = wrap(_app("eager", "403 Forbidden", _TEXT_TYPE, body))
    with pytest.raises(AssertionError):
        app(_passthrough_env("GET", None), refuse)
    assert body.closed == 1


@given(
    chunks=st.lists(st.one_of(st.binary(max_size=600), st.text(max_size=50)), max_size=6),
    fail=st.sampled_from([None, RuntimeError, ValueError, OSError, LookupError]),
    close_fails=st.booleans(),
    status=st.sampled_from(["400 Bad Request", "401 Unauthorized", "403 Forbidden"]),
    style=st.sampled_from(["eager", "lazy"]),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    limit=st.sampled_from([1024, 4096, 65536]),
)
@settings(max_examples=150, deadline=None)
def test_report_only_answers_are_replayed_whatever_their_body_does(
    chunks: list[Any],
    fail: type[Exception] | None,
    close_fails: bool,
    status: str,
    style: str,
    method: str,
    limit: int,
) -> None:
    error = fail("x") if fail is not None else None
    bare_body, wrapped_body = Answer(chunks, error, close_fails), Answer(chunks, error, close_fails)
    env = environ(REQUEST_METHOD=method)
    bare = Transcript().run(_app(style, status, _JSON_TYPE, bare_body), dict(env))
    app = wrap(
        _app(style, status, _JSON_TYPE, wrapped_body), report_only=True, max_body_bytes=limit
    )
    assert Transcript().run(app, env) == bare
    assert bare_body.closed == wrapped_body.closed == 1


# --- a refusal whose chunks are not bytes is still answered -------------------


# status, headers, chunks, chunks written with write(): the bytes decide.
STR_REFUSALS = [
    pytest.param(
        "401 Unauthorized", [("WWW-Authenticate", "Bearer")], ['{"detail":"x"}'], [], id="401-str"
    ),
    pytest.param("403 Forbidden", _JSON_TYPE, ['{"detail":"x"}'], [], id="403-str"),
    pytest.param(
        "401 Unauthorized",
        _JSON_TYPE,
        [b'{"detail": ', '"Token has expired"}'],
        [],
        id="401-mixed",
    ),
    pytest.param("401 Unauthorized", _JSON_TYPE, [], ['{"detail":"x"}'], id="401-str-written"),
    pytest.param(
        "401 Unauthorized", _JSON_TYPE, [None, 7, bytearray(b"x"), ["y"]], [], id="401-odd-chunks"
    ),
    pytest.param(
        "401 Unauthorized", _TEXT_TYPE, [b"Token has expired", "!"], [], id="401-bytes-then-str"
    ),
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("style", ["eager", "lazy"])
@pytest.mark.parametrize(("status", "headers", "chunks", "written"), STR_REFUSALS)
def test_a_refusal_with_str_chunks_is_answered_not_a_500(
    method: str,
    style: str,
    status: str,
    headers: list[tuple[str, str]],
    chunks: list[Any],
    written: list[Any],
) -> None:
    body = Answer(chunks, close_fails=False)
    app = wrap(_app(style, status, headers, body, written))
    events = Transcript().run(app, environ(REQUEST_METHOD=method))
    (start,) = [event for event in events if event[0] == "start"]
    _, got_status, got_headers, _ = start
    assert got_status == status
    assert dict(got_headers)["content-type"] == "application/problem+json"
    assert dict(got_headers)["cache-control"] == "no-store"
    if got_status.startswith("401"):
        assert dict(got_headers)["www-authenticate"].startswith("Bearer")
    data = b"".join(event[1] for event in events if event[0] == "chunk")
    assert events[-1] == ("closed",)
    assert not [event for event in events if "raised" in event[0]]
    if method == "HEAD":
        assert data == b""
    else:
        assert json.loads(data)["status"] == int(status[:3])
        assert int(dict(got_headers)["content-length"]) == len(data)
    assert body.closed == 1


def test_bytes_chunks_beside_str_ones_still_decide_the_reason() -> None:
    body = Answer([b'{"detail": "Token has expired"}', "ignored"])
    status, _, data = call(wrap(eager("401 Unauthorized", body)))
    assert status == "401 Unauthorized"
    assert json.loads(data)["reason"] == "token_expired"


# --- a Flask refusal streamed: HEAD explained like GET --------------------------


def _flask_streams() -> tuple[Any, list[str]]:
    from flask import Flask, Response, stream_with_context

    app = Flask(__name__)
    runs: list[str] = []

    def stream(status: int, text: str) -> Response:
        from flask import request

        def gen() -> Iterator[str]:
            runs.append(request.method)
            yield text[:10]
            yield text[10:]

        return Response(stream_with_context(gen()), status, mimetype="application/json")

    @app.get("/scope")
    def scope() -> Response:
        return stream(403, '{"detail":"Not enough permissions"}')

    @app.get("/expired")
    def expired() -> Response:
        return stream(401, '{"detail":"Token has expired"}')

    @app.get("/missing")
    def missing() -> Response:
        return stream(404, '{"detail":"Not found"}')

    return app, runs


@pytest.mark.parametrize("path", ["/scope", "/expired"])
def test_a_streamed_flask_refusal_to_head_is_explained_like_get(path: str) -> None:
    app, runs = _flask_streams()
    log = structlog.testing.CapturingLogger()
    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", logger=log)  # type: ignore[method-assign]
    env = environ(PATH_INFO=path, SERVER_NAME="x", SERVER_PORT="80")
    env["wsgi.url_scheme"] = "http"
    get_status, get_headers, _ = call(app.wsgi_app, dict(env))
    head_status, head_headers, head_body = call(app.wsgi_app, {**env, "REQUEST_METHOD": "HEAD"})
    assert runs == ["GET", "HEAD"]  # each request's generator runs once
    assert head_body == b""
    assert head_status == get_status
    assert dict(head_headers)["www-authenticate"] == dict(get_headers)["www-authenticate"]
    get_reason, head_reason = _reason(log)
    assert head_reason == get_reason != "credentials_invalid"


def test_a_streamed_flask_answer_we_do_not_watch_is_not_run_for_head() -> None:
    app, runs = _flask_streams()
    app.wsgi_app = wrap(app.wsgi_app)  # type: ignore[method-assign]
    env = environ(PATH_INFO="/missing", SERVER_NAME="x", SERVER_PORT="80", REQUEST_METHOD="HEAD")
    env["wsgi.url_scheme"] = "http"
    status, _, data = call(app.wsgi_app, env)
    assert (status, data, runs) == ("404 NOT FOUND", b"", [])
