"""The credentials the stack tests send, minted fresh for every request.

All obviously fake (so a failing assertion can never show a real secret) and
all in `minted()`, so every test can check that none of them comes back in a
body, a header or a log line. JWTs carry the claims every stack here checks
(`aud`, `iss`, `sub`) plus the ones Flask-JWT-Extended wants (`type`,
`fresh`, `jti`), so one token means the same to every stack. `scope` is
space-separated (RFC 8693 §4.2): "profile" alone, or "profile items" for the
routes that check the `items` scope.
"""

from __future__ import annotations

import base64
import json
import time

import jwt

__all__ = [
    "API_KEY",
    "AUDIENCE",
    "BASIC_PASSWORD",
    "BASIC_USER",
    "DELETED_USER",
    "DRF_TOKEN",
    "ISSUER",
    "OPAQUE_TOKEN",
    "REVOKED_JTI",
    "SIGNING_KEY",
    "minted",
    "secrets_of",
]

SIGNING_KEY = "stacks-throwaway-hmac-key-not-a-secret-0123456789-0123456789-abcdef"
OTHER_KEY = "stacks-some-other-hmac-key-not-a-secret-9876543210-9876543210-abcdef"
AUDIENCE = "api"
ISSUER = "https://issuer.test"
BASIC_USER = "stacks-user"
BASIC_PASSWORD = "stacks-pw-not-a-secret"
API_KEY = "stacks-api-key-not-a-secret-42"
DRF_TOKEN = "stacks0drf0token0not0a0secret0000000042"
OPAQUE_TOKEN = "stacks-opaque-token-not-a-secret-7"
# A user whose tokens still verify but who is gone from the app's users.
DELETED_USER = "stacks-deleted-user"
# The `jti` of a token the app has revoked (Flask-JWT-Extended's blocklist).
REVOKED_JTI = "stacks-revoked-jti"


def _claims(now: int, **overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": BASIC_USER,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now - 5,
        "exp": now + 600,
        "jti": f"jti-{now}",
        "type": "access",
        "fresh": False,
        "scope": "profile",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def minted(now: int | None = None) -> dict[str, str]:
    """Every credential a case may name, by the placeholder it is named with."""
    now = int(time.time()) if now is None else now

    def hs256(**overrides: object) -> str:
        return jwt.encode(_claims(now, **overrides), SIGNING_KEY, algorithm="HS256")

    unsigned = (
        _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        + "."
        + _b64(json.dumps(_claims(now)).encode())
        + "."
    )
    return {
        "valid": hs256(),
        "items": hs256(scope="profile items"),
        "expired95": hs256(exp=now - 95, iat=now - 700),
        "expired1h": hs256(exp=now - 3600, iat=now - 4200),
        "nbf30": hs256(nbf=now + 30),
        "alg_none": unsigned,
        "hs512": jwt.encode(_claims(now), SIGNING_KEY, algorithm="HS512"),
        "badsig": jwt.encode(_claims(now), OTHER_KEY, algorithm="HS256"),
        "wrong_aud": hs256(aud="some-other-api"),
        "wrong_iss": hs256(iss="https://other-issuer.test"),
        "no_aud": hs256(aud=None),
        "refresh": hs256(type="refresh"),
        "deleted_user": hs256(sub=DELETED_USER),
        "revoked": hs256(jti=REVOKED_JTI),
        "garbage": "stacks-garbage-token-not-a-jwt-000",
        "other": "stacks-other-opaque-token-0000001",
        "opaque": OPAQUE_TOKEN,
        "basic": _basic(BASIC_USER, BASIC_PASSWORD),
        "basic_bad": _basic(BASIC_USER, "stacks-wrong-pw-not-a-secret"),
        "apikey": API_KEY,
        "apikey_bad": "stacks-wrong-api-key-not-a-secret",
        "drf_token": DRF_TOKEN,
        "drf_bad": "stacks0drf0token0wrong0not0a0secret0001",
    }


def secrets_of(values: dict[str, str]) -> list[str]:
    """What must never come back: every credential whole, the payload and
    signature of every JWT (a re-encoded echo would show them), and the
    passwords inside Basic credentials."""
    out = [BASIC_PASSWORD, "stacks-wrong-pw-not-a-secret"]
    for value in values.values():
        out.append(value)
        parts = value.split(".")
        if len(parts) == 3:
            out.extend(part for part in parts[1:] if len(part) >= 16)
    return out
