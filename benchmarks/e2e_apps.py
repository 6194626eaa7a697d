"""The apps the end-to-end benchmark serves, written the way users write them.

A Starlette app (served by uvicorn) and a Flask app (served by gunicorn's
sync worker), each with the same two routes:

- ``/ok``: a small JSON 200 with a couple of headers, the success path;
- ``/fail``: ``Could not validate credentials`` as a 401 ``text/plain``, the
  answer a hand-written auth check gives and authhygiene rewrites.

Each comes in two flavours, ``bare`` and ``wrapped`` in authhygiene with the
options every refusing variant of the suite uses (`benchmarks.setup`), its
log going to ``/dev/null`` as real bytes. The flavour is read from the
environment (`WRAPPED_ENV`) when the factory is called without an argument,
so one module serves all four servers from the servers' own command lines::

    AUTHHYGIENE_BENCH_WRAPPED=1 uvicorn --factory benchmarks.e2e_apps:asgi_app
    AUTHHYGIENE_BENCH_WRAPPED=1 gunicorn 'benchmarks.e2e_apps:wsgi_app()'
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["FAIL_BODY", "OK_HEADERS", "OK_PAYLOAD", "WRAPPED_ENV", "asgi_app", "wsgi_app"]

WRAPPED_ENV = "AUTHHYGIENE_BENCH_WRAPPED"

OK_PAYLOAD: dict[str, Any] = {
    "items": [{"id": i, "name": f"item {i}", "price": 9.5 + i} for i in range(3)],
    "next": None,
}
OK_HEADERS = {"X-Request-Id": "0f6c1d6e-2a3b-4c5d-8e9f-123456789abc", "Cache-Control": "no-cache"}
FAIL_BODY = "Could not validate credentials"


def _wrapped(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return os.environ.get(WRAPPED_ENV, "0") == "1"


def _options() -> dict[str, Any]:
    # Imported here so that the bare servers never import authhygiene's
    # logging set-up at all: what they run is exactly the user's app.
    from benchmarks.setup import failure_options, json_logger

    # Opened for the server's lifetime, like a production log file.
    stream = open(os.devnull, "wb")  # noqa: SIM115 -- lives as long as the server
    return failure_options(json_logger(stream))


def asgi_app(wrapped: bool | None = None) -> Any:
    """The Starlette app, bare or behind `AuthHygiene` (uvicorn ``--factory``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    async def ok(request: Request) -> Response:
        return JSONResponse(OK_PAYLOAD, headers=OK_HEADERS)

    async def fail(request: Request) -> Response:
        return PlainTextResponse(FAIL_BODY, status_code=401)

    app = Starlette(routes=[Route("/ok", ok), Route("/fail", fail)])
    if not _wrapped(wrapped):
        return app
    from authhygiene import AuthHygiene

    return AuthHygiene(app, **_options())


def wsgi_app(wrapped: bool | None = None) -> Any:
    """The Flask app, bare or with `AuthHygieneWSGI` around its ``wsgi_app``
    (the documented one-liner; gunicorn ``'benchmarks.e2e_apps:wsgi_app()'``)."""
    from flask import Flask, jsonify
    from flask.typing import ResponseReturnValue

    app = Flask("authhygiene_bench")

    @app.get("/ok")
    def ok() -> ResponseReturnValue:
        return jsonify(OK_PAYLOAD), 200, OK_HEADERS

    @app.get("/fail")
    def fail() -> ResponseReturnValue:
        return FAIL_BODY, 401, {"Content-Type": "text/plain; charset=utf-8"}

    if _wrapped(wrapped):
        from authhygiene import AuthHygieneWSGI

        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **_options())  # type: ignore[method-assign]
    return app
