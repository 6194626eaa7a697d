"""`verify=` under Django (`settings.AUTHHYGIENE`): the view that decodes a
JWT with pyjwt and reports pyjwt's message (`/api/jwt-items`) is explained
with the app's key, through Django's sync and async test clients."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from django.conf import settings
from django.test.utils import override_settings

from authhygiene.verify import JWT
from tests.django.conftest import fetch


def _token(key: str, **claims: object) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "u", "exp": now + 600, "iat": now, **claims}, key, algorithm="HS256")


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(
            lambda key: _token(key, exp=int(time.time()) - 3600), "token_expired", id="expired"
        ),
        pytest.param(lambda key: _token("z" * 64), "token_signature_invalid", id="bad-signature"),
        pytest.param(
            lambda key: _token(key, nbf=int(time.time()) + 3600), "token_not_yet_valid", id="nbf"
        ),
        pytest.param(lambda key: "garbage", "credentials_invalid", id="garbage"),
    ],
)
def test_django_explains_with_the_apps_key(kind: str, make: object, reason: str) -> None:
    key = settings.HYGIENE_TEST_JWT_KEY
    verifier = JWT(algorithms=["HS256"], keys=key)
    token = make(key)  # type: ignore[operator]
    with override_settings(AUTHHYGIENE={"realm": "api", "verify": verifier}):
        response, body = fetch(kind, "/api/jwt-items", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    problem = json.loads(body)
    assert problem["reason"] == reason
    assert token not in body.decode()
