"""`require_scopes(...)`: a route's scopes in FastAPI's own idiom, a
dependency, under uvicorn: with enforce mode's verified identity, and in
explain mode with the app's own Starlette `AuthenticationMiddleware`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
import pytest
from fastapi import Depends, FastAPI, Request
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from authhygiene import AuthHygiene, require_scopes
from authhygiene.verify import JWT
from tests.e2e.servers import UvicornThread, fetch

SECRET = "r" * 40


def token(scope: str) -> str:
    claims = {"sub": "ada", "scope": scope, "exp": int(time.time()) + 600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


# FastAPI's Annotated idiom: the dependency hands the route the user.
Writer = Annotated[BaseUser, Depends(require_scopes("items:read", "items:write"))]


def routes(app: FastAPI) -> FastAPI:
    @app.get("/items", dependencies=[Depends(require_scopes("items:read"))])
    async def items(request: Request) -> dict[str, Any]:
        return {"user": request.user.display_name}

    @app.post("/items")
    async def add(user: Writer) -> dict[str, Any]:
        return {"user": user.display_name}

    return app


class BearerBackend(AuthenticationBackend):
    """The app's own auth, as Starlette's docs teach it."""

    async def authenticate(self, conn: HTTPConnection) -> Any:
        header = conn.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        try:
            claims = jwt.decode(header[7:], SECRET, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise AuthenticationError("Invalid bearer token") from exc
        return AuthCredentials(claims["scope"].split()), SimpleUser(claims["sub"])


@pytest.fixture(scope="module", params=["enforce", "explain"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    app = routes(FastAPI())
    if request.param == "enforce":
        verify = JWT(algorithms=["HS256"], keys=SECRET)
        app.add_middleware(AuthHygiene, realm="api", mode="enforce", verify=verify)
    else:
        app.add_middleware(AuthenticationMiddleware, backend=BearerBackend())
        app.add_middleware(AuthHygiene, realm="api")
    with UvicornThread(app) as server:
        yield server.port


@pytest.mark.parametrize(
    ("method", "scope", "status", "reason", "required"),
    [
        ("GET", "items:read", 200, None, None),
        ("GET", "profile", 403, "insufficient_scope", "items:read"),
        ("GET", None, 401, "credentials_missing", None),
        ("POST", "items:read items:write", 200, None, None),
        ("POST", "items:read", 403, "insufficient_scope", "items:read items:write"),
    ],
)
def test_the_dependency_answers_exactly(
    port: int,
    method: str,
    scope: str | None,
    status: int,
    reason: str | None,
    required: str | None,
) -> None:
    headers = [("Authorization", f"Bearer {token(scope)}")] if scope is not None else []
    reply = fetch(port, "/items", method=method, headers=headers)

    assert reply.status == status
    body = json.loads(reply.body)
    if status == 200:
        assert body == {"user": "ada"}
        return
    assert body["reason"] == reason
    assert reply.get("Cache-Control") == "no-store"
    challenge = reply.get("WWW-Authenticate") or ""
    assert challenge.startswith("Bearer")
    if required is not None:
        assert body["required_scope"] == required
        assert f'scope="{required}"' in challenge
        assert 'error="insufficient_scope"' in challenge
