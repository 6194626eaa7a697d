"""`verify=` in explain mode: the app decides who gets in; when it refuses a
Bearer token, the middleware verifies it with the app's keys and says why.
Apps written as their docs teach, through real servers: FastAPI's OAuth2
tutorial (pyjwt, one 401 "Could not validate credentials" for every bad
token) under uvicorn, and Flask-JWT-Extended under werkzeug."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer
from flask import Flask
from flask_jwt_extended import JWTManager, jwt_required

from authhygiene import AuthHygiene, AuthHygieneWSGI, PolicyError
from authhygiene.core.answer import AppAnswer
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide
from authhygiene.core.policy import Policy
from authhygiene.verify import JWT
from tests.e2e.servers import UvicornThread, WerkzeugThread, assert_problem, fetch
from tests.verify.test_jwt import OTHER_SECRET, SECRET, b64

REVOKED = {"user-revoked"}
_OAUTH2 = OAuth2PasswordBearer(tokenUrl="token")


def current_user(token: Annotated[str, Depends(_OAUTH2)]) -> str:
    """FastAPI's tutorial, as written: every failure is the same 401."""
    failed = HTTPException(
        status_code=401,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload = jwt.decode(token, SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise failed from None
    if payload.get("sub") in REVOKED:
        raise failed
    return str(payload["sub"])


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
        return {"sub": user}

    return app


def _flask() -> Flask:
    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = SECRET
    JWTManager(app)

    @app.get("/me")
    @jwt_required()
    def me() -> dict[str, str]:
        return {"ok": "yes"}

    return app


VERIFIER = JWT(algorithms=["HS256"], keys=SECRET)


@pytest.fixture(scope="module", params=["fastapi-uvicorn", "flask-jwt-extended-werkzeug"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "fastapi-uvicorn":
        with UvicornThread(AuthHygiene(_fastapi(), realm="api", verify=VERIFIER)) as server:
            yield server.port
    else:
        app = _flask()
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", verify=VERIFIER)  # type: ignore[method-assign]
        with WerkzeugThread(app) as server:
            yield server.port


def _token(key: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "user-1", "exp": now + 600, "iat": now, **claims}
    return jwt.encode(body, key, algorithm="HS256")


CASES: dict[str, tuple[Any, str]] = {
    "expired": (lambda: _token(exp=int(time.time()) - 3600), "token_expired"),
    "bad-signature": (lambda: _token(OTHER_SECRET), "token_signature_invalid"),
    "not-yet-valid": (lambda: _token(nbf=int(time.time()) + 3600), "token_not_yet_valid"),
    "garbage": (lambda: "definitely-not-a-jwt", "credentials_invalid"),
    "alg-none": (
        lambda: f"{b64({'alg': 'none'})}.{b64({'sub': 'x'})}.",
        "token_algorithm_rejected",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_four_bad_tokens_four_reasons(port: int, name: str) -> None:
    token, reason = CASES[name]
    reply = fetch(port, "/me", headers=[("Authorization", f"Bearer {token()}")])
    problem = assert_problem(reply, status=401, reason=reason)
    assert problem["reason"] == reason


def test_a_valid_token_still_gets_in(port: int) -> None:
    reply = fetch(port, "/me", headers=[("Authorization", f"Bearer {_token()}")])
    assert reply.status == 200


def test_a_valid_token_the_app_refused_is_said_to_be_valid() -> None:
    with UvicornThread(AuthHygiene(_fastapi(), realm="api", verify=VERIFIER)) as server:
        token = _token(sub="user-revoked")
        reply = fetch(server.port, "/me", headers=[("Authorization", f"Bearer {token}")])
    problem = assert_problem(reply, status=401, reason="credentials_invalid")
    assert problem.get("problem") == "valid_token_refused"
    assert "valid" in problem["detail"]
    assert "revoked session" in problem["detail"]


def _decide(verify: JWT | None, token: str, status: int = 401, body: bytes = b"") -> dict[str, Any]:
    options: dict[str, Any] = {"realm": "api"}
    if verify is not None:
        options["verify"] = verify
    view = RequestView("GET", "/me", "", (("authorization", f"Bearer {token}"),), "127.0.0.1")
    answer = AppAnswer(status, (("www-authenticate", "Bearer"),), body)
    decision = decide(Policy.from_options(options), view, answer)
    assert decision is not None
    return dict(decision.log)


def test_without_verify_the_same_tokens_are_only_guessed() -> None:
    """The baseline the issue measured: the app's words alone."""
    assert _decide(None, _token(OTHER_SECRET))["reason"] == "credentials_invalid"
    assert _decide(VERIFIER, _token(OTHER_SECRET))["reason"] == "token_signature_invalid"
    assert _decide(VERIFIER, _token(OTHER_SECRET))["diagnosis"] == "verify"


def test_an_app_that_says_it_saw_no_token_is_not_overruled() -> None:
    """FastAPI's 'Not authenticated' for a request whose token it never read
    (it reads a cookie): the token is not the app's, nothing to verify."""
    log = _decide(VERIFIER, _token(OTHER_SECRET), body=b'{"detail":"Not authenticated"}')
    assert log["reason"] == "credentials_missing"


def test_a_403_for_a_valid_token_keeps_the_apps_reason() -> None:
    token, body = _token(), b'{"detail":"Not enough permissions"}'
    verified = _decide(VERIFIER, token, status=403, body=body)
    assert verified["reason"] == _decide(None, token, status=403, body=body)["reason"]
    assert verified["diagnosis"] != "verify"


def test_verify_takes_a_verifier() -> None:
    with pytest.raises(PolicyError, match="verify= takes a verifier"):
        Policy.from_options({"realm": "api", "verify": "HS256"})


# Found by attacking explain mode: the app's own words or status, where they
# say more than "the token is valid", stand.
FJWT_REVOKED = b'{"msg":"Token has been revoked"}'
TUTORIAL_401 = b'{"detail":"Could not validate credentials"}'


def test_a_token_expired_within_the_leeway_is_expired_not_valid() -> None:
    """The app checks times with no leeway; the verifier's 60 s must not
    turn its 'expired' into 'valid'."""
    token = _token(exp=int(time.time()) - 20)
    log = _decide(VERIFIER, token, body=TUTORIAL_401)
    assert log["reason"] == "token_expired"


def test_the_apps_more_precise_words_stand_for_a_valid_token() -> None:
    assert _decide(VERIFIER, _token(), body=FJWT_REVOKED)["reason"] == "token_revoked"


def test_a_valid_token_with_an_insufficient_scope_challenge_is_a_403() -> None:
    view = RequestView("GET", "/me", "", (("authorization", f"Bearer {_token()}"),), "127.0.0.1")
    answer = AppAnswer(401, (("www-authenticate", 'Bearer error="insufficient_scope"'),), b"")
    decision = decide(Policy.from_options({"realm": "api", "verify": VERIFIER}), view, answer)
    assert decision is not None
    assert (decision.status, decision.log["reason"]) == (403, "insufficient_scope")


def test_a_403_for_its_own_reason_is_not_overruled_by_a_stricter_verifier() -> None:
    strict = JWT(algorithms=["HS256"], keys=SECRET, required_claims=["exp"], leeway=0)
    token = jwt.encode({"sub": "user-1"}, SECRET, algorithm="HS256")  # the app takes no-exp tokens
    body = b'{"detail":"Not enough permissions"}'
    verified = _decide(strict, token, status=403, body=body)
    assert verified["reason"] == _decide(None, token, status=403, body=body)["reason"]
    assert verified["diagnosis"] != "verify"


def test_verify_takes_an_instance_not_the_class() -> None:
    with pytest.raises(PolicyError, match="verify= takes a verifier"):
        Policy.from_options({"realm": "api", "verify": JWT})
