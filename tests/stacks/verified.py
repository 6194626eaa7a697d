"""The third variant of every stack: the one line plus `verify=` with the
stack's own keys, configured as each app checks its credentials (the HMAC
key, algorithm, audience and issuer tokens.py signs with; the app's own
Basic and API-key checks), and `require=` naming the scope of each route
whose own check demands one (FastAPI's `Security(scopes=...)`, Starlette's
`@requires`, a DRF permission, a Flask-HTTPAuth role).

Which verifier fits which stack is one table, `VERIFIERS`. `NO_TOKENS`
names the stacks left out of the four-token-failures check and why;
`NOT_VERIFIED` the credentials no verifier here can check, and why (the
README's table prints both under its rows).
"""

from __future__ import annotations

import secrets
from typing import Any

from authhygiene.verify import JWT, APIKey, Basic, Scopes

from .tokens import API_KEY, AUDIENCE, BASIC_PASSWORD, BASIC_USER, ISSUER, SIGNING_KEY

__all__ = ["NOT_VERIFIED", "NO_TOKENS", "VERIFIERS", "verified_options"]


def _jwt() -> JWT:
    # What every app here passes to jwt.decode (or Flask-JWT-Extended's
    # defaults: HS256, JWT_DECODE_AUDIENCE, JWT_DECODE_ISSUER).
    return JWT(algorithms=["HS256"], keys=SIGNING_KEY, audience=AUDIENCE, issuer=ISSUER)


def _basic_check(user: str, password: str) -> bool:
    # The apps' own check (compare_digest on both), as `Basic(check=...)` takes it.
    good_user = secrets.compare_digest(user.encode(), BASIC_USER.encode())
    good_password = secrets.compare_digest(password.encode(), BASIC_PASSWORD.encode())
    return good_user and good_password


def _basic() -> Basic:
    return Basic(check=_basic_check)


def _api_key() -> APIKey:
    return APIKey(keys={"key-holder": API_KEY})


# stack -> (the verifiers that fit the credentials it takes, the routes' scopes)
VERIFIERS: dict[str, tuple[tuple[Any, ...], tuple[tuple[str, str, Scopes], ...]]] = {
    "fastapi": ((_jwt, _basic, _api_key), (("GET", "/items", Scopes("items")),)),
    "fastapi-outside": ((_jwt, _basic, _api_key), (("GET", "/items", Scopes("items")),)),
    "starlette": ((_basic,), ()),
    "starlette-jwt": ((_jwt,), (("GET", "/items", Scopes("items")),)),
    "drf": ((_jwt, _basic), (("GET", "/jwt/items", Scopes("items")),)),
    "flask-jwt-extended": ((_jwt,), ()),
    "flask-httpauth": ((_jwt, _basic), (("GET", "/jwt/items", Scopes("items")),)),
    "werkzeug": ((_jwt,), ()),
}

# Stacks that take no token, so have no four token failures to tell apart.
NO_TOKENS = {
    "starlette": "the docs' backend is a Basic API: `verify=Basic(check=...)` says"
    " `wrong_user_or_password`; its JWT twin is the JWT backend's rows.",
}

# Credentials that no verifier of authhygiene.verify checks, and why: their
# rows' `verify=` column is the one line's guess, or the JWT verifier's
# "not a JWT" where the stack's JWT routes have one configured.
NOT_VERIFIED = {
    "drf": "`TokenAuthentication`: an opaque key in the app's own table, sent as"
    " `Authorization: Token`; `APIKey` reads a header of its own, never `Authorization`.",
    "flask-httpauth": "the opaque `HTTPTokenAuth` token, looked up in the app's own dict:"
    " the JWT verifier of the JWT routes calls it `not_a_jwt`.",
    "werkzeug": "the opaque tokens of `/raise` and `/admin`, compared by the view itself:"
    " the JWT verifier of `/jwt` calls them `not_a_jwt`.",
}


def verified_options(stack: str) -> dict[str, Any]:
    """`verify=` and `require=` of `stack`'s verified variant, built afresh."""
    factories, rules = VERIFIERS[stack]
    options: dict[str, Any] = {"verify": tuple(factory() for factory in factories)}
    if rules:
        options["require"] = list(rules)
    return options
