"""The verifier in the app's own auth code, as users write it, through real
servers: a FastAPI dependency under uvicorn and a Flask view under werkzeug
raise `Rejected.failure()`, and four bad tokens that the app's words alone
would all call `credentials_invalid` get four distinct reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from flask import Flask, request

from authhygiene import AuthHygiene, AuthHygieneWSGI
from authhygiene.verify import JWT, Rejected
from tests.e2e.servers import UvicornThread, WerkzeugThread, assert_absent, assert_problem, fetch
from tests.verify.test_jwt import NOW, OTHER_SECRET, SECRET, b64, claims

VERIFIER = JWT(algorithms=["HS256"], keys=SECRET, issuer="https://issuer.example")


_BEARER = HTTPBearer()


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(_BEARER)],
) -> dict[str, Any]:
    """The dependency as FastAPI's docs teach it, with the verifier."""
    outcome = VERIFIER.verify(credentials.credentials)
    if isinstance(outcome, Rejected):
        raise outcome.failure()
    return dict(outcome.claims)


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
        return {"sub": user["sub"]}

    return app


def _flask() -> Flask:
    app = Flask(__name__)

    @app.get("/me")
    def me() -> Any:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        outcome = VERIFIER.verify(token)
        if isinstance(outcome, Rejected):
            raise outcome.failure()
        return {"sub": outcome.claims["sub"]}

    return app


@pytest.fixture(scope="module", params=["fastapi-uvicorn", "flask-werkzeug"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "fastapi-uvicorn":
        with UvicornThread(AuthHygiene(_fastapi(), realm="api")) as server:
            yield server.port
    else:
        with WerkzeugThread(AuthHygieneWSGI(_flask().wsgi_app, realm="api")) as server:
            yield server.port


TOKENS = {
    "expired": (jwt.encode(claims(exp=NOW - 3600), SECRET, algorithm="HS256"), "token_expired"),
    "bad-signature": (
        jwt.encode(claims(), OTHER_SECRET, algorithm="HS256"),
        "token_signature_invalid",
    ),
    "not-yet-valid": (
        jwt.encode(claims(nbf=NOW + 3600), SECRET, algorithm="HS256"),
        "token_not_yet_valid",
    ),
    "garbage": ("definitely-not-a-jwt", "credentials_invalid"),
    "alg-none": (f"{b64({'alg': 'none'})}.{b64(claims())}.", "token_algorithm_rejected"),
}


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_each_bad_token_gets_its_own_reason(port: int, name: str) -> None:
    token, reason = TOKENS[name]
    reply = fetch(port, "/me", headers=[("Authorization", f"Bearer {token}")])
    problem = assert_problem(reply, status=401, reason=reason)
    assert_absent([token], reply.wire_text, json.dumps(problem))
    assert 'error="invalid_token"' in (reply.get("www-authenticate") or "")


def test_a_valid_token_passes(port: int) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    reply = fetch(port, "/me", headers=[("Authorization", f"Bearer {token}")])
    assert reply.status == 200
    assert reply.json() == {"sub": "user-1"}
