"""The apps the browser tests call from a page of another origin.

One FastAPI app and one Flask app, each written the way its docs teach, built
in the arrangements the tests compare: with or without the app's own CORS
layer (Starlette's `CORSMiddleware`, flask-cors), and with the one line off,
on, or on with ``cors=``. Every protected route is `/items`; `auth` picks how
the app checks the token there.

Each app records three things in its `Record`: the methods that reached the
server (`wire`, a wrapper outside everything), the methods that reached the
app's own code (`app`, the innermost middleware / the first
`before_request`), and the methods its auth code saw (`auth`). A preflight
answered by the middleware is on the wire and nowhere else; a real request
the browser never sent is not even on the wire.
"""

# No `from __future__ import annotations` here: FastAPI reads the apps'
# `Annotated[..., Depends(local_function)]` hints at definition time.
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import flask_cors
import jwt
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from flask import Flask
from flask import request as flask_request
from structlog.testing import LogCapture

from authhygiene import CORS, AuthFailure, AuthHygiene, AuthHygieneWSGI, Reason

__all__ = [
    "COOKIE",
    "SECRET",
    "Hygiene",
    "Record",
    "Setup",
    "build",
]

SECRET = "browser-tests-hs256-secret-0123456789"  # signs the tests' own tokens only
COOKIE = "access_token_cookie"  # Flask-JWT-Extended's name, a session cookie by default
HTML = b"<!doctype html><meta charset=utf-8><title>front end</title><p>front end</p>"

Hygiene = Literal["off", "on", "cors"]


@dataclass
class Record:
    """What each layer of one app saw, in arrival order."""

    wire: list[str] = field(default_factory=list)
    app: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    logs: LogCapture = field(default_factory=LogCapture)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.logs.entries if e["event"] == name]


@dataclass(frozen=True)
class Setup:
    """One arrangement: the framework, how `/items` checks the token, whether
    the app has its own CORS layer, and the one line (`off`, `on` without
    ``cors=``, or `cors` with ``cors=CORS(allow_origins=[page origin])``)."""

    framework: Literal["fastapi", "flask"]
    auth: str
    app_cors: bool
    hygiene: Hygiene

    @property
    def asgi(self) -> bool:
        return self.framework == "fastapi"

    def with_hygiene(self, hygiene: Hygiene) -> "Setup":
        return Setup(self.framework, self.auth, self.app_cors, hygiene)


def build(setup: Setup, origin: str) -> tuple[Any, Record]:
    """The app for `setup`, allowing the page `origin`, wrapped in its wire
    recorder, and the record it writes to."""
    record = Record()
    if setup.asgi:
        return _Recording(_fastapi(setup, origin, record), record.wire), record
    return _wire_wsgi(_flask(setup, origin, record), record.wire), record


def _options(setup: Setup, origin: str, record: Record) -> dict[str, Any]:
    options: dict[str, Any] = {
        "realm": "api",
        "logger": structlog.wrap_logger(None, processors=[record.logs]),
    }
    if setup.hygiene == "cors":
        options["cors"] = CORS(allow_origins=[origin])
    return options


# --- ASGI: FastAPI ------------------------------------------------------------


class _Recording:
    """Records the method of every HTTP request that reaches it: outermost
    it sees the wire, innermost what reached the app's own code."""

    def __init__(self, app: Any, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["method"])
        await self.app(scope, receive, send)


Credentials = Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())]


def _fastapi(setup: Setup, origin: str, record: Record) -> FastAPI:
    app = FastAPI()

    def seen(request: Request) -> None:
        record.auth.append(request.method)

    def current_user(credentials: Credentials, _: Annotated[None, Depends(seen)]) -> str:
        # FastAPI's security tutorial: any decoding error is a 401 with a
        # bare `Bearer` challenge and "Could not validate credentials".
        try:
            claims = jwt.decode(credentials.credentials, SECRET, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            raise HTTPException(
                status_code=401,
                detail="Could not validate credentials",
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        return str(claims["sub"])

    def escaping_user(credentials: Credentials, _: Annotated[None, Depends(seen)]) -> str:
        # pyjwt's errors escape: a 500 without the middleware.
        claims = jwt.decode(credentials.credentials, SECRET, algorithms=["HS256"])
        return str(claims["sub"])

    if setup.auth == "httpbearer":

        @app.get("/items")
        def items(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
            return {"user": user}

    elif setup.auth == "escape":

        @app.get("/items")
        def escaping_items(user: Annotated[str, Depends(escaping_user)]) -> dict[str, str]:
            return {"user": user}

    elif setup.auth == "boom":

        @app.get("/items")
        def boom(_: Annotated[None, Depends(seen)]) -> dict[str, str]:
            raise RuntimeError("a bug in the endpoint, not an auth failure")

    else:  # pragma: no cover - a typo in a case table
        raise ValueError(setup.auth)

    # add_middleware puts the last added outermost: _Recording is innermost,
    # then the app's CORS layer, then the one line (as the README says).
    app.add_middleware(_Recording, seen=record.app)
    if setup.app_cors:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[origin],
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization"],
        )
    if setup.hygiene != "off":
        app.add_middleware(AuthHygiene, **_options(setup, origin, record))
    return app


# --- WSGI: Flask ----------------------------------------------------------------

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def _wire_wsgi(app: WSGIApp, wire: list[str]) -> WSGIApp:
    def recorded(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        wire.append(environ["REQUEST_METHOD"])
        return app(environ, start_response)

    return recorded


def _bearer_token() -> str | None:
    scheme, _, token = flask_request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _unauthorized(message: str) -> tuple[dict[str, str], int, dict[str, str]]:
    return {"message": message}, 401, {"WWW-Authenticate": "Bearer"}


def _flask(setup: Setup, origin: str, record: Record) -> WSGIApp:
    app = Flask(__name__)

    @app.before_request
    def reached() -> None:
        record.app.append(flask_request.method)

    if setup.auth == "before_request":
        # Auth for every route in a before_request hook: it runs for a
        # preflight too, which carries no credentials (Fetch §3.7.1).
        @app.before_request
        def authenticate() -> Any:
            record.auth.append(flask_request.method)
            token = _bearer_token()
            if token is None:
                return _unauthorized("Missing token")
            try:
                jwt.decode(token, SECRET, algorithms=["HS256"])
            except jwt.InvalidTokenError:
                return _unauthorized("Invalid token")
            return None

        @app.get("/items")
        def items() -> dict[str, str]:
            return {"items": "all"}

    elif setup.auth == "view":

        @app.get("/items")
        def view_items() -> Any:
            record.auth.append(flask_request.method)
            token = _bearer_token()
            if token is None:
                return _unauthorized("Missing token")
            try:
                jwt.decode(token, SECRET, algorithms=["HS256"])
            except jwt.InvalidTokenError:
                return _unauthorized("Invalid token")
            return {"items": "all"}

    elif setup.auth == "authfailure":

        @app.get("/items")
        def declared_items() -> dict[str, str]:
            record.auth.append(flask_request.method)
            try:
                jwt.decode(_bearer_token() or "", SECRET, algorithms=["HS256"])
            except jwt.ExpiredSignatureError:
                raise AuthFailure(Reason.TOKEN_EXPIRED) from None
            return {"items": "all"}

    elif setup.auth == "escape":

        @app.get("/items")
        def escaping_items() -> dict[str, str]:
            record.auth.append(flask_request.method)
            jwt.decode(_bearer_token() or "", SECRET, algorithms=["HS256"])
            return {"items": "all"}

    elif setup.auth == "cookie":

        @app.get("/items")
        def cookie_items() -> Any:
            record.auth.append(flask_request.method)
            token = flask_request.cookies.get(COOKIE)
            if token is None:
                return _unauthorized("Missing cookie")
            jwt.decode(token, SECRET, algorithms=["HS256"])  # errors escape
            return {"items": "all"}

    else:  # pragma: no cover - a typo in a case table
        raise ValueError(setup.auth)

    if setup.app_cors:
        flask_cors.CORS(app, origins=[origin], supports_credentials=True)
    if setup.hygiene != "off":
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **_options(setup, origin, record))  # type: ignore[method-assign]
    return app


def page_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The static front end: one tiny HTML page, whatever the path."""
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(HTML)))],
    )
    return [HTML]
