"""WSGI apps for tests/hostile/test_wsgi.py, importable by a gunicorn worker.

Two apps with the same URL map, one raw PEP 3333 app and one Flask app, each
refusing the way its kind does, plus refusals whose body breaks:

- ``/raise-after-first``: a 401 whose body raises after its first chunk;
- ``/raise-before``: a 401 whose body raises before any chunk;
- ``/raise-in-close``: a 401 whose body is fine but whose close() raises;
- ``/refuse``: a plain 401 (JSON message), the route HEAD is tried on;
- ``/pass/...`` (`PASS_THROUGH`): answers authhygiene does not rewrite (a
  400 to a request with a token, a CSRF 403) whose body or close() breaks:
  on the wire they must be what the bare app gives;
- ``/str/401``, ``/str/403``: refusals whose chunks are ``str`` (the raw app;
  Flask encodes them);
- ``/stream/scope``: a streamed 403 (``stream_with_context`` in Flask), the
  route a streamed HEAD is tried on;
- ``/count``: how many times the app ran ``/refuse`` and ``/stream/scope``,
  per method, and how many times each breaking body was closed, as JSON.

Counters live in the app's process, so a test reads them through ``/count``
whichever server runs the app.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from flask import Flask, Response, jsonify, stream_with_context
from flask import request as flask_request

from authhygiene import AuthHygieneWSGI

__all__ = [
    "BREAKING",
    "PASS_THROUGH",
    "STR_REFUSALS",
    "Tally",
    "flask_app",
    "gunicorn_app",
    "raw_app",
]

BREAKING = ("/raise-after-first", "/raise-before", "/raise-in-close")
PASS_THROUGH = (
    "/pass/400-close",
    "/pass/400-after-first",
    "/pass/400-before",
    "/pass/csrf-close",
    "/pass/csrf-after-first",
)
STR_REFUSALS = ("/str/401", "/str/403")
SCOPE = {"detail": "Not enough permissions"}
_CSRF = "CSRF Failed: CSRF token missing."
_BAD = '{"detail": "JSON parse error - Expecting value"}'
REFUSAL = {"detail": "Token has expired"}
_JSON = "application/json"


class Tally:
    """Thread-safe counts (gunicorn --threads 8 runs requests concurrently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def bump(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def as_json(self) -> bytes:
        with self._lock:
            return json.dumps(dict(self.counts)).encode()


class BreakingBody:
    """A 401 body that breaks the way `path` says; counts its close() calls."""

    def __init__(self, path: str, tally: Tally) -> None:
        self.path = path
        self.tally = tally

    def __iter__(self) -> Iterator[bytes]:
        if self.path == "/raise-before":
            raise RuntimeError("the body broke before its first chunk")
        yield b'{"detail": "Invalid '
        if self.path == "/raise-after-first":
            raise RuntimeError("the body broke after its first chunk")
        yield b'token"}'

    def close(self) -> None:
        self.tally.bump("close " + self.path)
        if self.path == "/raise-in-close":
            raise RuntimeError("the body broke in close()")


class PassBody:
    """The body of an answer we pass through, breaking the way `path` says:
    in close() (``-close``), after its first chunk, or before any chunk;
    counts its close() calls."""

    def __init__(self, path: str, text: str, tally: Tally) -> None:
        self.path = path
        self.text = text
        self.tally = tally

    def __iter__(self) -> Iterator[bytes]:
        if self.path.endswith("-before"):
            raise RuntimeError("the body broke before its first chunk")
        yield self.text[:12].encode()
        if self.path.endswith("-after-first"):
            raise RuntimeError("the body broke after its first chunk")
        yield self.text[12:].encode()

    def close(self) -> None:
        self.tally.bump("close " + self.path)
        if self.path.endswith("-close"):
            raise RuntimeError("the body broke in close()")


class StrBody:
    """A refusal body of str chunks (not PEP 3333 bytes); counts close()."""

    def __init__(self, path: str, tally: Tally) -> None:
        self.path = path
        self.tally = tally

    def __iter__(self) -> Iterator[str]:
        yield '{"detail":"x"}'

    def close(self) -> None:
        self.tally.bump("close " + self.path)


def _pass_answer(path: str) -> tuple[int, str, str]:
    if "/csrf-" in path:
        return 403, "text/plain", _CSRF
    return 400, _JSON, _BAD


def raw_app(tally: Tally) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path in BREAKING:
            start_response("401 Unauthorized", [("Content-Type", _JSON)])
            return BreakingBody(path, tally)
        if path == "/refuse":
            tally.bump(f"refuse {environ['REQUEST_METHOD']}")
            start_response(
                "401 Unauthorized", [("Content-Type", _JSON), ("WWW-Authenticate", "Bearer")]
            )
            return [json.dumps(REFUSAL).encode()]  # HEAD too: the server drops it
        if path in PASS_THROUGH:
            code, mimetype, text = _pass_answer(path)
            reason = "Bad Request" if code == 400 else "Forbidden"
            start_response(f"{code} {reason}", [("Content-Type", mimetype)])
            return PassBody(path, text, tally)
        if path in STR_REFUSALS:
            status = "401 Unauthorized" if path.endswith("401") else "403 Forbidden"
            start_response(status, [("WWW-Authenticate", "Bearer"), ("Content-Type", _JSON)])
            return StrBody(path, tally)
        if path == "/stream/scope":
            tally.bump(f"stream {environ['REQUEST_METHOD']}")
            start_response("403 Forbidden", [("Content-Type", _JSON)])
            return iter([json.dumps(SCOPE).encode()])
        if path == "/count":
            start_response("200 OK", [("Content-Type", _JSON)])
            return [tally.as_json()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return app


def flask_app(tally: Tally) -> Flask:
    app = Flask(__name__)

    @app.get("/raise-after-first")
    @app.get("/raise-before")
    @app.get("/raise-in-close")
    def breaking() -> Response:
        return Response(BreakingBody(flask_request.path, tally), 401, mimetype=_JSON)

    @app.get("/refuse")
    def refuse() -> Any:
        # Flask answers HEAD with this view too; werkzeug drops the body.
        tally.bump(f"refuse {flask_request.method}")
        return jsonify(REFUSAL), 401, {"WWW-Authenticate": "Bearer"}

    @app.get("/pass/<name>")
    def passing(name: str) -> Response:
        code, mimetype, text = _pass_answer(flask_request.path)
        return Response(PassBody(flask_request.path, text, tally), code, mimetype=mimetype)

    @app.get("/str/<name>")
    def str_refusal(name: str) -> Response:
        return Response(
            StrBody(flask_request.path, tally),
            401 if name == "401" else 403,
            {"WWW-Authenticate": "Bearer"},
            mimetype=_JSON,
        )

    @app.get("/stream/scope")
    def stream_scope() -> Response:
        # Flask answers HEAD with this view too; werkzeug never sends the stream.
        tally.bump(f"stream {flask_request.method}")

        def chunks() -> Iterator[str]:
            text = json.dumps(SCOPE)
            yield text[:10]
            yield text[10:]

        return Response(stream_with_context(chunks()), 403, mimetype=_JSON)

    @app.get("/count")
    def count() -> Response:
        return Response(tally.as_json(), mimetype=_JSON)

    return app


def build(kind: str, variant: str, logger: Any = None) -> tuple[Any, Tally]:
    """`kind` "raw" or "flask", `variant` "bare" or "wrapped"."""
    tally = Tally()
    if kind == "raw":
        app = raw_app(tally)
        if variant == "wrapped":
            app = AuthHygieneWSGI(app, realm="api", logger=logger)
        return app, tally
    flask = flask_app(tally)
    if variant == "wrapped":
        flask.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
            flask.wsgi_app, realm="api", logger=logger
        )
    return flask, tally


def gunicorn_app(kind: str, variant: str) -> Any:
    """The factory a gunicorn worker calls: authhygiene's default structlog
    logger prints to the worker's stdout, which the test reads back."""
    return build(kind, variant, structlog.get_logger("authhygiene"))[0]
