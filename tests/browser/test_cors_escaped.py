"""Chromium reads the refusal answered for an exception that escaped the
app's own CORSMiddleware, however the one line is wired.

The app keeps its CORS in Starlette's `CORSMiddleware` (no ``cors=``) and
lets pyjwt's `ExpiredSignatureError` escape its dependency. The middleware
answers that exception itself, outside the CORS layer the exception passed
through, so it must put on its 401 the headers that very layer computes:
`AuthHygiene(app)` around the whole app (whose middleware stack Starlette
only builds at the first request), with CORSMiddleware added by
`add_middleware` or given to the constructor, and `add_middleware` on
either side of the app's CORS layer.
"""

# No `from __future__ import annotations` here: FastAPI reads the route's hints.
from typing import Any

import jwt
import pytest
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware import Middleware

from authhygiene import AuthHygiene

from .apps import SECRET, Record
from .harness import Fronts, Tab, api_url, expired_jwt, serve
from .test_cors_browser import EXPLAINED, PREFLIGHT_NOT_ALLOWED, check, check_logged

pytestmark = pytest.mark.needs("chromium")

WIRINGS = [
    "around",  # AuthHygiene(app); CORSMiddleware by add_middleware
    "around-ctor",  # AuthHygiene(app); CORSMiddleware in FastAPI(middleware=[...])
    "add_middleware",  # the README's line, after the app's CORS layer: outside it
    "add_middleware-inside-cors",  # added before the CORS layer: inside it
]


class _Wire:
    """Records the method of every HTTP request that reaches the server."""

    def __init__(self, app: Any, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["method"])
        await self.app(scope, receive, send)


def escaping_app(wiring: str, origin: str, record: Record) -> Any:
    cors = Middleware(
        CORSMiddleware,
        allow_origins=[origin],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["Authorization"],
    )
    app = FastAPI(middleware=[cors] if wiring == "around-ctor" else None)

    def user(request: Request) -> str:
        record.auth.append(request.method)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        # pyjwt's errors escape: a 500 without the middleware.
        return str(jwt.decode(token, SECRET, algorithms=["HS256"])["sub"])

    @app.get("/items")
    def items(sub: str = Depends(user)) -> dict[str, str]:
        return {"user": sub}

    options = {"realm": "api", "logger": structlog.wrap_logger(None, processors=[record.logs])}
    if wiring == "add_middleware-inside-cors":
        app.add_middleware(AuthHygiene, **options)
    if wiring != "around-ctor":
        app.add_middleware(cors.cls, *cors.args, **cors.kwargs)
    if wiring == "add_middleware":
        app.add_middleware(AuthHygiene, **options)
    wrapped = AuthHygiene(app, **options) if wiring.startswith("around") else app
    return _Wire(wrapped, record.wire)


@pytest.mark.parametrize("wiring", WIRINGS)
def test_page_reads_the_refusal_for_an_escaped_exception(
    tab: Tab, fronts: Fronts, wiring: str
) -> None:
    record = Record()
    token = expired_jwt()
    with serve(escaping_app(wiring, fronts.allowed, record), asgi=True) as server:
        result = tab.call(fronts.allowed, api_url(server), token)

    check(tab, result, EXPLAINED)
    assert record.wire == ["OPTIONS", "GET"]
    assert record.auth == ["GET"]
    check_logged(record, token)


@pytest.mark.parametrize("wiring", WIRINGS)
def test_disallowed_origin_still_reads_nothing(tab: Tab, fronts: Fronts, wiring: str) -> None:
    record = Record()
    with serve(escaping_app(wiring, fronts.allowed, record), asgi=True) as server:
        result = tab.call(fronts.other, api_url(server), expired_jwt())

    check(tab, result, PREFLIGHT_NOT_ALLOWED)
    assert record.wire == ["OPTIONS"]
    assert record.auth == []
