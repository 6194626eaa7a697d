"""A Starlette API protected the way Starlette's docs teach, plus one line.

The app's own auth is Starlette's `AuthenticationMiddleware` with a custom
`AuthenticationBackend` that decodes a bearer JWT with pyjwt, an `on_error`
handler answering 401 JSON (the docs' "custom authentication error
responses"), and `@requires(...)` on the routes, which answers 403 to
anonymous requests (Starlette's default). The only line authhygiene adds is
the outermost entry of the middleware list, marked below.

Routes:
    GET /                 public
    GET /users/me         @requires("authenticated")
    GET /users/me/items   a token with the "items" scope (raises authhygiene.AuthFailure)
    GET /admin            @requires(["authenticated", "admin"])

Run it (from the repository root)::

    .venv/bin/uvicorn starlette_app:app --app-dir examples --host 127.0.0.1 --port 8000

Probe it::

    curl -i http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Basic ZGVtbzpkZW1v' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer' http://127.0.0.1:8000/users/me
    curl -i -H 'Authorization: Bearer not-a-jwt' http://127.0.0.1:8000/users/me
    curl -i http://127.0.0.1:8000/admin
    TOKEN=$(.venv/bin/python examples/demo.py --token "me")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
    EXPIRED=$(.venv/bin/python examples/demo.py --token "me items" --expired)
    curl -i -H "Authorization: Bearer $EXPIRED" http://127.0.0.1:8000/users/me
    TOKEN=$(.venv/bin/python examples/demo.py --token "me items")
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/items
"""

import os

import jwt
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    has_required_scope,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authhygiene import AuthFailure, AuthHygiene, Reason

# DEMO ONLY: a well-known secret so the examples, demo and tests can mint
# tokens. A real deployment reads a strong secret (or a JWKS) from its config.
SECRET_KEY = os.environ.get("EXAMPLE_JWT_SECRET", "demo-only-secret-not-for-production-use")


class BearerTokenBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        if "Authorization" not in conn.headers:
            return None
        scheme, _, token = conn.headers["Authorization"].partition(" ")
        if scheme.lower() != "bearer":
            return None
        if not token.strip():
            raise AuthenticationError("Missing bearer token")
        try:
            claims = jwt.decode(token.strip(), SECRET_KEY, algorithms=["HS256"])
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(str(exc)) from exc
        scopes = str(claims.get("scope", "")).split()
        return AuthCredentials(["authenticated", *scopes]), SimpleUser(str(claims.get("sub")))


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    # Starlette's default answers 400 with the exception text; its docs show this instead.
    return JSONResponse({"error": str(exc)}, status_code=401)


async def index(request: Request) -> Response:
    return JSONResponse({"service": "example-api", "framework": "starlette"})


@requires("authenticated")
async def users_me(request: Request) -> Response:
    return JSONResponse({"username": request.user.display_name, "scopes": request.auth.scopes})


@requires("authenticated")
async def users_me_items(request: Request) -> Response:
    if not has_required_scope(request, ["items"]):
        # `@requires("items")` would answer a bare 403; saying why is one raise.
        raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items")
    return JSONResponse([{"item_id": "foo", "owner": request.user.display_name}])


@requires(["authenticated", "admin"])
async def admin(request: Request) -> Response:
    return JSONResponse({"users": 42})


app = Starlette(
    routes=[
        Route("/", index),
        Route("/users/me", users_me),
        Route("/users/me/items", users_me_items),
        Route("/admin", admin),
    ],
    middleware=[
        # authhygiene: the one added line. `schemes` says this is a Bearer API:
        # `@requires` answers a bare 403 to every refusal, and a 403 to Basic
        # credentials is otherwise kept (a Basic app's permission refusal
        # looks the same).
        Middleware(AuthHygiene, realm="example-api", schemes=("Bearer",)),
        Middleware(AuthenticationMiddleware, backend=BearerTokenBackend(), on_error=on_auth_error),
    ],
)
