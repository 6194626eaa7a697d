"""WebSocket apps written the way their users write them, each refusing a
handshake in its framework's own idiom, and each echoing once accepted.

- Starlette: `AuthenticationMiddleware` with a JWT backend that raises
  `AuthenticationError` for a bad token, and ``@requires`` on the route
  (both close with 1000 before accept).
- FastAPI: a dependency that raises ``WebSocketException(code=
  status.WS_1008_POLICY_VIOLATION)``, as FastAPI's docs show.
- Starlette's ``websocket.send_denial_response(...)`` with a JSON 401.
- A route that raises ``AuthFailure`` (expired token, no token) and lets
  pyjwt's other errors escape.
- A raw ASGI app that closes before accept.

All serve their route under their own prefix, so one server (`dispatch`)
holds them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from fastapi import Depends, FastAPI, WebSocketException, status
from fastapi import WebSocket as FastAPIWebSocket
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from authhygiene import AuthFailure, AuthHygiene, Reason
from tests.stacks.tokens import AUDIENCE, ISSUER, SIGNING_KEY

__all__ = ["APPS", "dispatch", "echo_app", "wrapped"]

# Bounded: a test sends a handful of frames.
_MAX_FRAMES = 1000


def _bearer(headers: Any) -> str | None:
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, SIGNING_KEY, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER
    )
    return claims


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        for _ in range(_MAX_FRAMES):
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])
            else:
                await websocket.send_text(message["text"])
    except WebSocketDisconnect:
        return


# --- Starlette: AuthenticationMiddleware + @requires -----------------------


class JWTBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        token = _bearer(conn.headers)
        if token is None:
            return None
        try:
            claims = _claims(token)
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("Invalid token") from exc
        return AuthCredentials(["authenticated"]), SimpleUser(claims["sub"])


@requires("authenticated")
async def _starlette_ws(websocket: WebSocket) -> None:
    await _echo(websocket)


def starlette_auth() -> Starlette:
    return Starlette(
        routes=[WebSocketRoute("/starlette/ws", _starlette_ws)],
        middleware=[Middleware(AuthenticationMiddleware, backend=JWTBackend())],
    )


# --- FastAPI: a dependency raising WebSocketException(1008) ----------------


async def _current_user(websocket: FastAPIWebSocket) -> str:
    token = _bearer(websocket.headers)
    if token is None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    try:
        return str(_claims(token)["sub"])
    except jwt.InvalidTokenError:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION) from None


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/fastapi/ws")
    async def ws(websocket: FastAPIWebSocket, user: str = Depends(_current_user)) -> None:
        await _echo(websocket)

    return app


# --- Starlette's send_denial_response ---------------------------------------


async def _denial_ws(websocket: WebSocket) -> None:
    token = _bearer(websocket.headers)
    try:
        if token is None:
            raise jwt.InvalidTokenError("Not authenticated")
        _claims(token)
    except jwt.InvalidTokenError:
        response = JSONResponse({"detail": "Could not validate credentials"}, status_code=401)
        await websocket.send_denial_response(response)
        return
    await _echo(websocket)


def denial_app() -> Starlette:
    return Starlette(routes=[WebSocketRoute("/denial/ws", _denial_ws)])


# --- AuthFailure raised, pyjwt's errors escaping ----------------------------


async def _raising_ws(websocket: WebSocket) -> None:
    token = _bearer(websocket.headers)
    if token is None:
        raise AuthFailure(Reason.CREDENTIALS_MISSING)
    try:
        _claims(token)  # DecodeError for garbage escapes: a known auth exception
    except jwt.ExpiredSignatureError:
        raise AuthFailure(Reason.TOKEN_EXPIRED) from None
    await _echo(websocket)


def raising_app() -> Starlette:
    return Starlette(routes=[WebSocketRoute("/raises/ws", _raising_ws)])


# --- raw ASGI, closing before accept ----------------------------------------


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    token = _bearer(headers)
    try:
        if token is None:
            raise jwt.InvalidTokenError
        _claims(token)
    except jwt.InvalidTokenError:
        await send({"type": "websocket.close", "code": 1008, "reason": "Unauthorized"})
        return
    await send({"type": "websocket.accept"})
    for _ in range(_MAX_FRAMES):
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        await send({"type": "websocket.send", **{k: message.get(k) for k in ("text", "bytes")}})


async def _echo_route(websocket: WebSocket) -> None:
    await _echo(websocket)


def echo_app() -> Starlette:
    """No auth at all: the pass-through case."""
    return Starlette(routes=[WebSocketRoute("/echo/ws", _echo_route)])


# name -> (path, factory)
APPS: dict[str, tuple[str, Callable[[], Any]]] = {
    "starlette-authmiddleware": ("/starlette/ws", starlette_auth),
    "fastapi-ws1008": ("/fastapi/ws", fastapi_app),
    "send-denial-response": ("/denial/ws", denial_app),
    "raises-authfailure": ("/raises/ws", raising_app),
    "raw-close": ("/raw/ws", lambda: raw_app),
    "echo": ("/echo/ws", echo_app),
}


def wrapped(logger: Any, **options: Any) -> dict[str, Any]:
    """Every app behind `AuthHygiene`, by its path."""
    return {
        path: AuthHygiene(factory(), realm="api", logger=logger, **options)
        for path, factory in APPS.values()
    }


def dispatch(routes: dict[str, Any]) -> Any:
    """One ASGI app over several, by exact path; it answers lifespan itself."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            for _ in range(2):  # bounded: startup, then shutdown
                message = await receive()
                await send({"type": message["type"] + ".complete"})
            return
        await routes[scope["path"]](scope, receive, send)

    return app
