"""Finding 21: an app's own 400 about some other token is not an auth failure.

Starlette's AuthenticationMiddleware answers an `AuthenticationError` with a
text/plain 400 carrying the backend's words, and authhygiene turns that into
the 401 it should have been. An endpoint's own 400 "Invalid token" (a card
token posted with a good access token, a password-reset link) has the same
shape; turning it into a 401 `invalid_token` would make a client throw away
a good access token. Each app runs bare and wrapped under real servers
(uvicorn, werkzeug), and the wrapped answer must be the bare one, byte for
byte, unless the words name what the auth middleware reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from flask import Flask, Response
from starlette.applications import Starlette
from starlette.authentication import AuthenticationBackend, AuthenticationError
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhygiene import AuthHygiene, AuthHygieneWSGI
from tests.e2e.servers import Reply, UvicornThread, WerkzeugThread, fetch, without_date

GOOD_ACCESS = "Bearer good-access-token-0123456789"
# Words an endpoint uses about a token that is not the request's credential.
OTHER_TOKEN_WORDS = ("Invalid token", "Expired token", "Invalid token.", "invalid signature")


class _Backend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> Any:
        if conn.headers.get("authorization", "").startswith("Basic "):
            raise AuthenticationError("Invalid basic auth credentials")
        return None


def _starlette() -> Starlette:
    async def card(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.query_params.get("say", "Invalid token"), 400)

    return Starlette(
        routes=[Route("/cards", card, methods=["GET", "POST"])],
        middleware=[Middleware(AuthenticationMiddleware, backend=_Backend())],
    )


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.api_route("/cards", methods=["GET", "POST"])
    def card(say: str = "Invalid token") -> None:
        raise HTTPException(400, detail=say)

    return app


def _flask() -> Flask:
    app = Flask(__name__)

    @app.route("/cards", methods=["GET", "POST"])
    def card() -> Response:
        from flask import request

        return Response(request.args.get("say", "Invalid token"), 400, mimetype="text/plain")

    return app


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[int, int]]]:
    """(bare port, wrapped port) per stack."""
    starlette_wrapped = _starlette()
    starlette_wrapped.add_middleware(AuthHygiene, realm="api")
    fastapi_wrapped = _fastapi()
    fastapi_wrapped.add_middleware(AuthHygiene, realm="api")
    flask_wrapped = _flask()
    flask_wrapped.wsgi_app = AuthHygieneWSGI(flask_wrapped.wsgi_app, realm="api")  # type: ignore[method-assign]
    with (
        UvicornThread(_starlette()) as s_bare,
        UvicornThread(starlette_wrapped) as s_wrapped,
        UvicornThread(_fastapi()) as f_bare,
        UvicornThread(fastapi_wrapped) as f_wrapped,
        WerkzeugThread(_flask().wsgi_app) as k_bare,
        WerkzeugThread(flask_wrapped) as k_wrapped,
    ):
        yield {
            "starlette": (s_bare.port, s_wrapped.port),
            "fastapi": (f_bare.port, f_wrapped.port),
            "flask": (k_bare.port, k_wrapped.port),
        }


def _pair(
    ports: tuple[int, int], path: str, method: str, headers: list[tuple[str, str]]
) -> tuple[Reply, Reply]:
    bare, wrapped = ports
    return (
        fetch(bare, path, method=method, headers=headers),
        fetch(wrapped, path, method=method, headers=headers),
    )


@pytest.mark.parametrize("stack", ["starlette", "fastapi", "flask"])
@pytest.mark.parametrize("words", OTHER_TOKEN_WORDS)
@pytest.mark.parametrize(
    ("method", "query", "headers"),
    [
        pytest.param("POST", "", [("Authorization", GOOD_ACCESS)], id="card-token-with-access"),
        pytest.param("GET", "&token=reset-link-0123456789", [], id="reset-link"),
        pytest.param(
            "GET",
            "&access_token=reset-link-0123456789",
            [("Authorization", GOOD_ACCESS)],
            id="both",
        ),
    ],
)
def test_an_apps_own_400_about_another_token_passes_through(
    servers: dict[str, tuple[int, int]],
    stack: str,
    words: str,
    method: str,
    query: str,
    headers: list[tuple[str, str]],
) -> None:
    path = "/cards?say=" + words.replace(" ", "%20") + query
    bare, wrapped = _pair(servers[stack], path, method, headers)
    assert bare.status == 400
    assert wrapped.status == 400
    assert wrapped.body == bare.body
    assert without_date(wrapped.headers) == without_date(bare.headers)
    assert wrapped.get("www-authenticate") is None


def test_starlette_authentication_middlewares_own_400_is_still_a_401(
    servers: dict[str, tuple[int, int]],
) -> None:
    bare, wrapped = _pair(servers["starlette"], "/cards", "GET", [("Authorization", "Basic dTpw")])
    assert bare.status == 400
    assert bare.body == b"Invalid basic auth credentials"
    assert wrapped.status == 401
    assert wrapped.get("content-type") == "application/problem+json"
    assert wrapped.json()["reason"] == "credentials_invalid"
    assert wrapped.get("www-authenticate")
