"""A FastAPI app and a Flask app as their users write them (HTTPBearer
and HTTPBasic, `abort(401)`), behind the middleware with a Throttle, and a
harness that sends one request through either in-process, from a chosen
client address, and counts how many requests reached the app."""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from flask import Flask, abort, request
from werkzeug.test import Client

from authhygiene import AuthHygiene
from authhygiene.wsgi import AuthHygieneWSGI

GOOD = "good-" + secrets.token_urlsafe(16)
PASSWORD = "pw-" + secrets.token_urlsafe(12)
REALM = "api"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Calls:
    count: int = 0


def fastapi_app(calls: Calls) -> FastAPI:
    app = FastAPI()
    bearer = HTTPBearer()
    users = HTTPBasic()

    def token(creds: HTTPAuthorizationCredentials = Depends(bearer)) -> str:  # noqa: B008
        calls.count += 1
        if creds.credentials != GOOD:
            raise HTTPException(401, "Invalid token", headers={"WWW-Authenticate": "Bearer"})
        return creds.credentials

    def user(creds: HTTPBasicCredentials = Depends(users)) -> str:  # noqa: B008
        calls.count += 1
        if not secrets.compare_digest(creds.password, PASSWORD):
            raise HTTPException(401, "Incorrect password", headers={"WWW-Authenticate": "Basic"})
        return creds.username

    @app.get("/items")
    def items(_: str = Depends(token)) -> dict[str, Any]:
        return {"items": [1, 2]}

    @app.get("/me")
    def me(name: str = Depends(user)) -> dict[str, Any]:
        return {"user": name}

    return app


def flask_app(calls: Calls) -> Flask:
    app = Flask(__name__)

    @app.get("/items")
    def items() -> Any:
        calls.count += 1
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            abort(401)
        if header[7:] != GOOD:
            abort(401, description="Invalid token")
        return {"items": [1, 2]}

    @app.get("/me")
    def me() -> Any:
        calls.count += 1
        auth = request.authorization
        if auth is None or auth.password != PASSWORD:
            abort(401)
        return {"user": auth.username}

    return app


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Served:
    """One app behind the middleware, in-process."""

    kind: str
    options: dict[str, Any]
    calls: Calls = field(default_factory=Calls)
    middleware: Any = None

    def __post_init__(self) -> None:
        if self.kind == "asgi":
            self.middleware = AuthHygiene(fastapi_app(self.calls), **self.options)
        else:
            flask = flask_app(self.calls)
            flask.wsgi_app = AuthHygieneWSGI(flask.wsgi_app, **self.options)  # type: ignore[method-assign]
            self.middleware = flask.wsgi_app
            self._flask = flask

    def send(
        self,
        path: str = "/items",
        authorization: str | None = None,
        *,
        client: str = "192.0.2.10",
        method: str = "GET",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if authorization is not None:
            sent["Authorization"] = authorization
        if self.kind == "asgi":
            return asyncio.run(self._asgi(path, sent, client, method))
        response = Client(self._flask).open(
            path, method=method, headers=sent, environ_base={"REMOTE_ADDR": client}
        )
        body = response.get_data()
        return Answer(
            response.status_code, {k.lower(): v for k, v in response.headers.items()}, body
        )

    async def _asgi(self, path: str, sent: dict[str, str], client: str, method: str) -> Answer:
        transport = httpx.ASGITransport(app=self.middleware, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.request(method, path, headers=sent)
        return Answer(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )
