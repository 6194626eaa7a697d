"""WSGI apps, the floor middlewares and the timed loop, without a server.

Apps are called directly, their iterable iterated and closed as a server
does (PEP 3333); every request gets a fresh copy of its environ, as from a
server (a middleware or an `AuthFailure` may mark it).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.wrappers import Request as WerkzeugRequest

from authhygiene import AuthFailure, Reason
from benchmarks.workload import BODY_401, BODY_OK, REQUEST_ID, Request

__all__ = [
    "Floor",
    "WSGIApp",
    "WerkzeugRequestFloor",
    "environ",
    "exchange",
    "joined",
    "ok_app",
    "raising_app",
    "runner",
    "unauthorized_app",
]

StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def environ(request: Request) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "REMOTE_PORT": "51514",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def _app(status: str, headers: list[tuple[str, str]], body: bytes) -> WSGIApp:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list(headers))
        return [body]

    return app


def ok_app() -> WSGIApp:
    """200 with a JSON body, whatever the method (a preflight included)."""
    return _app(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(BODY_OK))),
            ("X-Request-Id", REQUEST_ID),
        ],
        BODY_OK,
    )


def unauthorized_app() -> WSGIApp:
    """What a naive auth decorator answers: 401 text/plain, no challenge."""
    return _app(
        "401 Unauthorized",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY_401)))],
        BODY_401,
    )


def raising_app() -> WSGIApp:
    """A view that says exactly why it refuses (README "Saying exactly why")."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")

    return app


class Floor:
    """The least a response-watching WSGI middleware can do: wrap start_response."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def wrapped(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            return start_response(status, headers, exc_info)

        return self.app(environ, wrapped)


class WerkzeugRequestFloor(Floor):
    """The floor plus what many WSGI middlewares do first: build a werkzeug
    `Request` around the environ (an anchor, not a competitor)."""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        WerkzeugRequest(environ)
        return super().__call__(environ, start_response)


def _write(chunk: bytes) -> None:
    return None


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], object]:
    return _write


def runner(app: WSGIApp, requests: Sequence[Request]) -> Callable[[int], int]:
    """``run(n)``: serve `n` requests, cycling through `requests`, as a
    server does (call, iterate, close); the elapsed ns of that loop only."""
    environs = [environ(r) for r in requests]
    size = len(environs)
    # Where the next batch goes on in the cycle: a pool of distinct requests
    # repeats none of them before it has sent them all, across batches too.
    next_at = [0]

    def run(n: int) -> int:
        base = next_at[0]
        next_at[0] = (base + n) % size
        start = time.perf_counter_ns()
        for i in range(base, base + n):
            result = app(dict(environs[i % size]), _start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return time.perf_counter_ns() - start

    return run


def exchange(app: WSGIApp, request: Request) -> tuple[int, dict[str, str], bytes]:
    """(status, headers as `joined`, body) of one `request`."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        started.append((status, headers))
        return _write

    result = app(environ(request), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    return int(status[:3]), joined(headers), body


def joined(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased header names; a repeated header's values joined by
    commas (RFC 9110 §5.3), so that no challenge is lost."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out
