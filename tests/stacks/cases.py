"""The one table of cases: each stack, each request, what the stack answers
on its own (`before`, checked against the real stack without the middleware),
what it must answer with the one line (`status`, `reason`, `error`), and
with the one line plus `verify=` and `require=` (`verified`, verified.py):
the same unless the case says otherwise.

`{name}` in a path or header value stands for a credential from
`tokens.minted()`, minted at request time (expiry is relative to now).
The expected answers follow RFC 6750 §3.1 and the project's reason table:
no credentials or another scheme -> 401 without `error`; malformed -> 400
`invalid_request`; a rejected token -> 401 `invalid_token`; scope -> 403
`insufficient_scope`; valid but not allowed -> 403 without `error`.
"""

# One case per line, so the table reads as a table.
# ruff: noqa: E501

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = [
    "CASES",
    "FAULT",
    "FOUR_FAILURES",
    "FOUR_REASONS",
    "NOT_TRUE",
    "STACK_TITLES",
    "Case",
    "WithVerify",
    "bearer",
]

# `reason` of a case the middleware must leave alone (the app's bytes pass).
PASS = None
# `reason` of a server fault: any 5xx, never a 401.
FAULT = "server_fault"


class _NotTrue:
    """A fact that must be absent or false."""

    def __repr__(self) -> str:
        return "absent-or-false"


NOT_TRUE = _NotTrue()

STACK_TITLES = {
    "fastapi": "FastAPI (`add_middleware`)",
    "fastapi-outside": "FastAPI (wrapped outside)",
    "starlette": "Starlette `AuthenticationMiddleware`",
    "starlette-jwt": "Starlette `AuthenticationMiddleware` (JWT backend)",
    "drf": "Django REST framework",
    "flask-jwt-extended": "Flask-JWT-Extended",
    "flask-httpauth": "Flask-HTTPAuth",
    "werkzeug": "Flask / werkzeug exceptions",
}

Headers = tuple[tuple[str, str], ...]
Facts = tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class WithVerify:
    """What a case answers with `verify=` and `require=` where that differs
    from the one line alone."""

    status: int
    reason: str | None
    error: str | None = None
    scope: str | None = None
    facts: Facts = ()
    detail: str | None = None


@dataclass(frozen=True)
class Case:
    stack: str
    name: str  # what the README's table calls the case
    path: str
    headers: Headers
    before: int  # the stack's own status
    says: str  # words of the stack's own answer (body or challenge)
    status: int  # the status with the one line
    reason: str | None  # PASS: unchanged; FAULT: a 5xx
    error: str | None = None  # RFC 6750 `error` in challenge and body
    scope: str | None = None
    facts: Facts = ()  # exact value, range, or NOT_TRUE
    detail: str | None = None  # the app's words that must survive in `detail`
    method: str = "GET"
    verified: WithVerify | None = None  # None: as with the one line

    def with_verify(self) -> Case:
        """This case as the verified variant must answer it."""
        if self.verified is None:
            return self
        v = self.verified
        return replace(
            self,
            status=v.status,
            reason=v.reason,
            error=v.error,
            scope=v.scope,
            facts=v.facts,
            detail=v.detail,
            verified=None,
        )

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        return f"{self.stack}:{slug}"


def auth(*values: str) -> Headers:
    return tuple(("Authorization", value) for value in values)


def bearer(name: str) -> Headers:
    return auth(f"Bearer {{{name}}}")


# Within the clock-skew window (policy default 120 s) the issuer's clock may
# be behind; an hour is no skew.
_EXPIRED_95 = (
    ("expired_seconds_ago", range(95, 120)),
    ("clock_skew_suspected", True),
    ("expired_at", str),
    ("server_time", str),
)
_EXPIRED_1H = (
    ("expired_seconds_ago", range(3600, 3700)),
    ("clock_skew_suspected", NOT_TRUE),
    ("expired_at", str),
    ("server_time", str),
)
_NOT_YET = (
    ("valid_in_seconds", range(1, 31)),
    ("clock_skew_suspected", True),
    ("server_time", str),
)
_IN_QUERY = (("problem", "token_in_query"),)
_UNCAUGHT = "Internal Server Error"

# With verify=: what the app's own keys say where its words are generic.
_V = WithVerify
_V_EXPIRED = _V(401, "token_expired", "invalid_token", facts=_EXPIRED_95)
_V_BADSIG = _V(401, "token_signature_invalid", "invalid_token")
_V_GARBAGE = _V(401, "credentials_invalid", "invalid_token", facts=(("problem", "not_a_jwt"),))
_V_REFUSED = _V(
    401, "credentials_invalid", "invalid_token", facts=(("problem", "valid_token_refused"),)
)
_V_ITEMS = _V(403, "insufficient_scope", "insufficient_scope", scope="items")
_V_WRONG_PAIR = (("problem", "wrong_user_or_password"),)

# The four token failures every stack that takes JWTs must tell apart with
# verify= (the acceptance), by the credential each case sends, and
# the route of each stack they are sent to. Starlette's docs' backend is a
# Basic API: no token to tell apart (it has `verify=Basic(...)`).
FOUR_REASONS = {
    "expired95": "token_expired",
    "badsig": "token_signature_invalid",
    "nbf30": "token_not_yet_valid",
    "garbage": "credentials_invalid",
}
FOUR_FAILURES = {
    "fastapi": "/bearer",
    "fastapi-outside": "/uncaught",
    "starlette-jwt": "/me",
    "drf": "/jwt",
    "flask-jwt-extended": "/protected",
    "flask-httpauth": "/jwt",
    "werkzeug": "/jwt",
}


# fmt: off
def _fastapi() -> list[Case]:
    s = "fastapi"
    not_auth = '"Not authenticated"'
    cannot = "Could not validate credentials"
    return [
        Case(s, "HTTPBearer: no credentials", "/bearer", (), 401, not_auth, 401, "credentials_missing"),
        Case(s, "HTTPBearer: `Token` scheme", "/bearer", auth("Token {other}"), 401, not_auth, 401, "scheme_not_accepted"),
        Case(s, "HTTPBearer: `Basic` credentials", "/bearer", auth("Basic {basic}"), 401, not_auth, 401, "scheme_not_accepted"),
        Case(s, "HTTPBearer: `Bearer Bearer <token>`", "/bearer", auth("Bearer Bearer {valid}"), 401, cannot, 400, "credentials_malformed", "invalid_request"),
        Case(s, "HTTPBearer: quoted token", "/bearer", auth('Bearer "{valid}"'), 401, cannot, 400, "credentials_malformed", "invalid_request"),
        Case(s, "HTTPBearer: whitespace in token", "/bearer", auth("Bearer {other} {garbage}"), 401, cannot, 400, "credentials_malformed", "invalid_request"),
        Case(s, "HTTPBearer: empty `Bearer `", "/bearer", auth("Bearer "), 401, not_auth, 400, "credentials_malformed", "invalid_request"),
        Case(s, "HTTPBearer: two Authorization headers", "/bearer", auth("Bearer {garbage}", "Bearer {other}"), 401, cannot, 400, "credentials_malformed", "invalid_request"),
        Case(s, "HTTPBearer: token in header and `?access_token=`", "/bearer?access_token={other}", bearer("garbage"), 401, cannot, 400, "credentials_malformed", "invalid_request"),
        Case(s, "HTTPBearer: token only in `?access_token=`", "/bearer?access_token={valid}", (), 401, not_auth, 401, "credentials_missing", facts=_IN_QUERY),
        Case(s, "HTTPBearer: token only in `?token=`", "/bearer?token={valid}", (), 401, not_auth, 401, "credentials_missing", facts=_IN_QUERY),
        Case(s, "HTTPBearer: JWT expired 95 s ago", "/bearer", bearer("expired95"), 401, cannot, 401, "token_expired", "invalid_token", facts=_EXPIRED_95, detail=cannot, verified=_V_EXPIRED),
        Case(s, "HTTPBearer: JWT expired an hour ago", "/bearer", bearer("expired1h"), 401, cannot, 401, "token_expired", "invalid_token", facts=_EXPIRED_1H),
        Case(s, "HTTPBearer: JWT valid in 30 s (`nbf`)", "/bearer", bearer("nbf30"), 401, cannot, 401, "token_not_yet_valid", "invalid_token", facts=_NOT_YET),
        Case(s, "HTTPBearer: JWT with `alg: none`", "/bearer", bearer("alg_none"), 401, cannot, 401, "token_algorithm_rejected", "invalid_token"),
        # Without verify= the middleware has no key: a bad signature behind the
        # app's generic words is only "rejected", as garbage is; with it, the keys say.
        Case(s, "HTTPBearer: JWT with a bad signature", "/bearer", bearer("badsig"), 401, cannot, 401, "credentials_invalid", "invalid_token", verified=_V_BADSIG),
        Case(s, "HTTPBearer: garbage token", "/bearer", bearer("garbage"), 401, cannot, 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "HTTPBearer: a deleted user's valid token", "/bearer", bearer("deleted_user"), 401, cannot, 401, "credentials_invalid", "invalid_token", verified=_V_REFUSED),
        Case(s, "HTTPBearer: valid token", "/bearer", bearer("valid"), 200, '"user"', 200, PASS),
        Case(s, "OAuth2PasswordBearer: no credentials", "/oauth2", (), 401, not_auth, 401, "credentials_missing"),
        Case(s, "OAuth2PasswordBearer: `JWT` scheme", "/oauth2", auth("JWT {valid}"), 401, not_auth, 401, "scheme_not_accepted"),
        Case(s, "OAuth2PasswordBearer: JWT expired 95 s ago", "/oauth2", bearer("expired95"), 401, cannot, 401, "token_expired", "invalid_token", facts=_EXPIRED_95),
        Case(s, "HTTPBasic: no credentials", "/basic", (), 401, not_auth, 401, "credentials_missing"),
        Case(s, "HTTPBasic: wrong password", "/basic", auth("Basic {basic_bad}"), 401, "Incorrect username or password", 401, "credentials_invalid", detail="Incorrect username or password", verified=_V(401, "credentials_invalid", facts=_V_WRONG_PAIR)),
        Case(s, "HTTPBasic: a Bearer token", "/basic", bearer("valid"), 401, not_auth, 401, "scheme_not_accepted"),
        Case(s, "APIKeyHeader: no key", "/apikey", (), 401, not_auth, 401, "credentials_missing"),
        Case(s, "APIKeyHeader: wrong key", "/apikey", (("X-API-Key", "{apikey_bad}"),), 401, cannot, 401, "credentials_invalid", verified=_V(401, "credentials_invalid", facts=(("problem", "api_key_unknown"),))),
        Case(s, "APIKeyHeader: key only in `?api_key=`", "/apikey?api_key={apikey}", (), 401, not_auth, 401, "credentials_missing", facts=_IN_QUERY),
        Case(s, "OAuth2 scopes tutorial: token without `items`", "/items", bearer("valid"), 401, "Not enough permissions", 403, "insufficient_scope", "insufficient_scope", scope="items"),
        Case(s, "OAuth2 scopes tutorial: token with `items`", "/items", bearer("items"), 200, '"an item"', 200, PASS),
        Case(s, "OAuth2 scopes tutorial: no credentials", "/items", (), 401, not_auth, 401, "credentials_missing"),
        Case(s, "HTTPBearer before 0.122: no credentials", "/legacy", (), 403, not_auth, 401, "credentials_missing"),
        Case(s, "HTTPBearer before 0.122: `Basic` credentials", "/legacy", auth("Basic {basic}"), 403, "Invalid authentication credentials", 401, "scheme_not_accepted"),
        Case(s, "HTTPBearer before 0.122: JWT expired 95 s ago", "/legacy", bearer("expired95"), 401, cannot, 401, "token_expired", "invalid_token", facts=_EXPIRED_95),
        Case(s, "validation error (422), no credentials", "/validate?n=abc", (), 422, "int_parsing", 422, PASS),
        Case(s, "validation error (422), valid token", "/bearer/validate?n=abc", bearer("valid"), 422, "int_parsing", 422, PASS),
        Case(s, "`HTTPException(400)`, no credentials", "/signup", (), 400, "Invalid value for field", 400, PASS, method="POST"),
    ]


def _uncaught(s: str) -> list[Case]:
    """pyjwt exceptions escaping the endpoint (`jwt.decode` without try/except)."""
    u = _UNCAUGHT
    prefix = "uncaught pyjwt "
    return [
        Case(s, prefix + "`ExpiredSignatureError`", "/uncaught", bearer("expired95"), 500, u, 401, "token_expired", "invalid_token", facts=_EXPIRED_95),
        Case(s, prefix + "`ImmatureSignatureError`", "/uncaught", bearer("nbf30"), 500, u, 401, "token_not_yet_valid", "invalid_token"),
        Case(s, prefix + "`InvalidAudienceError`", "/uncaught", bearer("wrong_aud"), 500, u, 401, "token_audience_mismatch", "invalid_token"),
        Case(s, prefix + "`InvalidIssuerError`", "/uncaught", bearer("wrong_iss"), 500, u, 401, "token_issuer_mismatch", "invalid_token"),
        Case(s, prefix + "`InvalidSignatureError`", "/uncaught", bearer("badsig"), 500, u, 401, "token_signature_invalid", "invalid_token"),
        Case(s, prefix + "`InvalidAlgorithmError` (HS512)", "/uncaught", bearer("hs512"), 500, u, 401, "token_algorithm_rejected", "invalid_token"),
        Case(s, prefix + "`InvalidAlgorithmError` (`alg: none`)", "/uncaught", bearer("alg_none"), 500, u, 401, "token_algorithm_rejected", "invalid_token"),
        Case(s, prefix + "`DecodeError`", "/uncaught", bearer("garbage"), 500, u, 401, "credentials_invalid", "invalid_token"),
        Case(s, prefix + "`MissingRequiredClaimError`", "/uncaught", bearer("no_aud"), 500, u, 401, "credentials_invalid", "invalid_token"),
        Case(s, prefix + "`PyJWKClientError` (JWKS down)", "/uncaught/jwks", bearer("valid"), 500, u, 500, FAULT),
        Case(s, prefix + "`InvalidKeyError`", "/uncaught/key", bearer("valid"), 500, u, 500, FAULT),
        Case(s, "decoded without error", "/uncaught", bearer("valid"), 200, '"user"', 200, PASS),
    ]


def _starlette() -> list[Case]:
    s = "starlette"
    invalid = "Invalid basic auth credentials"
    return [
        Case(s, "`@requires`: no credentials", "/me", (), 403, "Forbidden", 401, "credentials_missing"),
        Case(s, "`AuthenticationError`: wrong password", "/me", auth("Basic {basic_bad}"), 400, invalid, 401, "credentials_invalid", detail=invalid, verified=_V(401, "credentials_invalid", facts=_V_WRONG_PAIR)),
        Case(s, "`@requires`: a Bearer token", "/me", bearer("valid"), 403, "Forbidden", 401, "scheme_not_accepted"),
        Case(s, "`@requires(\"admin\")`: a user without it", "/admin", auth("Basic {basic}"), 403, "Forbidden", 403, "forbidden"),
        Case(s, "the app's own 400, no credentials", "/form", (), 400, "Missing form field", 400, PASS),
        Case(s, "the app's own 400, valid credentials", "/form", auth("Basic {basic}"), 400, "Missing form field", 400, PASS),
        Case(s, "valid credentials", "/me", auth("Basic {basic}"), 200, '"user"', 200, PASS),
    ]


def _starlette_jwt() -> list[Case]:
    s = "starlette-jwt"
    invalid = "Invalid bearer token"
    return [
        Case(s, "`@requires`: no credentials", "/me", (), 403, "Forbidden", 401, "credentials_missing"),
        Case(s, "`AuthenticationError`: JWT expired 95 s ago", "/me", bearer("expired95"), 400, invalid, 401, "token_expired", "invalid_token", facts=_EXPIRED_95, detail=invalid, verified=_V_EXPIRED),
        Case(s, "`AuthenticationError`: JWT with a bad signature", "/me", bearer("badsig"), 400, invalid, 401, "credentials_invalid", "invalid_token", verified=_V_BADSIG),
        Case(s, "`AuthenticationError`: JWT valid in 30 s (`nbf`)", "/me", bearer("nbf30"), 400, invalid, 401, "token_not_yet_valid", "invalid_token", facts=_NOT_YET),
        Case(s, "`AuthenticationError`: garbage token", "/me", bearer("garbage"), 400, invalid, 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "`AuthenticationError`: a deleted user's valid token", "/me", bearer("deleted_user"), 400, invalid, 401, "credentials_invalid", "invalid_token"),
        Case(s, "`@requires(\"items\")`: a token without `items`", "/items", bearer("valid"), 403, "Forbidden", 403, "forbidden", verified=_V_ITEMS),
        Case(s, "`@requires(\"items\")`: a token with `items`", "/items", bearer("items"), 200, '"an item"', 200, PASS),
        Case(s, "valid token", "/me", bearer("valid"), 200, '"user"', 200, PASS),
    ]


def _drf() -> list[Case]:
    s = "drf"
    not_provided = "Authentication credentials were not provided."
    return [
        Case(s, "`TokenAuthentication`: no credentials", "/token", (), 401, not_provided, 401, "credentials_missing"),
        Case(s, "`TokenAuthentication`: unknown token", "/token", auth("Token {drf_bad}"), 401, "Invalid token.", 401, "credentials_invalid", detail="Invalid token"),
        Case(s, "`TokenAuthentication`: a Bearer token", "/token", bearer("valid"), 401, not_provided, 401, "scheme_not_accepted"),
        Case(s, "`TokenAuthentication`: whitespace in token", "/token", auth("Token {drf_bad} {other}"), 401, "should not contain spaces", 400, "credentials_malformed"),
        Case(s, "`SessionAuthentication` first: no credentials", "/session", (), 403, not_provided, 401, "credentials_missing"),
        Case(s, "`BasicAuthentication`: no credentials", "/basic", (), 401, not_provided, 401, "credentials_missing"),
        Case(s, "`BasicAuthentication`: wrong password", "/basic", auth("Basic {basic_bad}"), 401, "Invalid username/password.", 401, "credentials_invalid", verified=_V(401, "credentials_invalid", facts=_V_WRONG_PAIR)),
        Case(s, "`PermissionDenied`: valid token", "/denied", auth("Token {drf_token}"), 403, "You do not have permission", 403, "forbidden"),
        Case(s, "`AuthenticationFailed` raised by the view", "/failed", auth("Token {drf_token}"), 401, "Invalid token.", 401, "credentials_invalid"),
        Case(s, "serializer validation error (400), valid token", "/validate?email=nope", auth("Token {drf_token}"), 400, "valid email", 400, PASS),
        Case(s, "valid token", "/token", auth("Token {drf_token}"), 200, '"user"', 200, PASS),
        Case(s, "custom `JWTAuthentication`: no credentials", "/jwt", (), 401, not_provided, 401, "credentials_missing"),
        Case(s, "custom `JWTAuthentication`: JWT expired 95 s ago", "/jwt", bearer("expired95"), 401, "Invalid token.", 401, "token_expired", "invalid_token", facts=_EXPIRED_95),
        Case(s, "custom `JWTAuthentication`: JWT with a bad signature", "/jwt", bearer("badsig"), 401, "Invalid token.", 401, "credentials_invalid", "invalid_token", verified=_V_BADSIG),
        Case(s, "custom `JWTAuthentication`: JWT valid in 30 s (`nbf`)", "/jwt", bearer("nbf30"), 401, "Invalid token.", 401, "token_not_yet_valid", "invalid_token", facts=_NOT_YET),
        Case(s, "custom `JWTAuthentication`: garbage token", "/jwt", bearer("garbage"), 401, "Invalid token.", 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "custom `JWTAuthentication`: a deleted user's valid token", "/jwt", bearer("deleted_user"), 401, "User not found.", 401, "credentials_invalid", "invalid_token", verified=_V_REFUSED),
        Case(s, "custom `JWTAuthentication`: valid token", "/jwt", bearer("valid"), 200, '"user"', 200, PASS),
        Case(s, "custom permission: a token without `items`", "/jwt/items", bearer("valid"), 403, "You do not have permission", 403, "forbidden", verified=_V_ITEMS),
        Case(s, "custom permission: a token with `items`", "/jwt/items", bearer("items"), 200, '"an item"', 200, PASS),
    ]


def _jwt_extended() -> list[Case]:
    s = "flask-jwt-extended"
    return [
        Case(s, "no credentials", "/protected", (), 401, "Missing Authorization Header", 401, "credentials_missing"),
        Case(s, "JWT expired 95 s ago", "/protected", bearer("expired95"), 401, "Token has expired", 401, "token_expired", "invalid_token", facts=_EXPIRED_95, detail="Token has expired", verified=_V_EXPIRED),
        Case(s, "JWT with a bad signature", "/protected", bearer("badsig"), 422, "Signature verification failed", 401, "token_signature_invalid", "invalid_token"),
        Case(s, "garbage token", "/protected", bearer("garbage"), 422, "Not enough segments", 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "`token_in_blocklist_loader`: a revoked token", "/protected", bearer("revoked"), 401, "Token has been revoked", 401, "token_revoked", "invalid_token"),
        Case(s, "`user_lookup_loader`: a deleted user's valid token", "/protected", bearer("deleted_user"), 401, "Error loading the user", 401, "credentials_invalid", "invalid_token", verified=_V_REFUSED),
        Case(s, "refresh token as access token", "/protected", bearer("refresh"), 422, "Only non-refresh tokens are allowed", 401, "credentials_invalid", "invalid_token"),
        Case(s, "JWT valid in 30 s (`nbf`)", "/protected", bearer("nbf30"), 422, "not yet valid", 401, "token_not_yet_valid", "invalid_token", facts=_NOT_YET),
        Case(s, "JWT with `alg: none`", "/protected", bearer("alg_none"), 422, "alg value is not allowed", 401, "token_algorithm_rejected", "invalid_token"),
        Case(s, "JWT for another audience", "/protected", bearer("wrong_aud"), 422, "udience", 401, "token_audience_mismatch", "invalid_token"),
        Case(s, "`JWT` scheme", "/protected", auth("JWT {valid}"), 401, "Missing 'Bearer' type", 401, "scheme_not_accepted"),
        Case(s, "`Bearer Bearer <token>`", "/protected", auth("Bearer Bearer {valid}"), 422, "Bad Authorization header", 400, "credentials_malformed", "invalid_request"),
        Case(s, "token only in `?access_token=`", "/protected?access_token={valid}", (), 401, "Missing Authorization Header", 401, "credentials_missing", facts=_IN_QUERY),
        Case(s, "valid token", "/protected", bearer("valid"), 200, "logged_in_as", 200, PASS),
        Case(s, "the app's own 422, valid token", "/signup", bearer("valid"), 422, "Missing data for required field", 422, PASS, method="POST"),
        Case(s, "the app's own 422, no credentials", "/contact", (), 422, "Not a valid email address", 422, PASS, method="POST"),
    ]


def _httpauth() -> list[Case]:
    s = "flask-httpauth"
    unauthorized = "Unauthorized Access"
    return [
        Case(s, "`HTTPBasicAuth`: no credentials", "/basic", (), 401, unauthorized, 401, "credentials_missing"),
        Case(s, "`HTTPBasicAuth`: wrong password", "/basic", auth("Basic {basic_bad}"), 401, unauthorized, 401, "credentials_invalid"),
        Case(s, "`login_required(role=\"admin\")`: a user without it", "/admin", auth("Basic {basic}"), 403, unauthorized, 403, "forbidden"),
        Case(s, "`HTTPTokenAuth`: no credentials", "/token", (), 401, unauthorized, 401, "credentials_missing"),
        # A JWT verifier, for the JWT routes below, says so of an opaque token (verified.NOT_VERIFIED).
        Case(s, "`HTTPTokenAuth`: unknown token", "/token", bearer("other"), 401, unauthorized, 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "`HTTPTokenAuth`: quoted token", "/token", auth('Bearer "{opaque}"'), 401, unauthorized, 400, "credentials_malformed", "invalid_request"),
        Case(s, "`HTTPTokenAuth`: `Token` scheme", "/token", auth("Token {opaque}"), 401, unauthorized, 401, "scheme_not_accepted"),
        Case(s, "`HTTPTokenAuth`: token only in `?access_token=`", "/token?access_token={opaque}", (), 401, unauthorized, 401, "credentials_missing", facts=_IN_QUERY),
        Case(s, "`HTTPTokenAuth`: valid token", "/token", bearer("opaque"), 200, '"user"', 200, PASS),
        Case(s, "`HTTPTokenAuth` with JWTs: no credentials", "/jwt", (), 401, unauthorized, 401, "credentials_missing"),
        Case(s, "`HTTPTokenAuth` with JWTs: JWT expired 95 s ago", "/jwt", bearer("expired95"), 401, unauthorized, 401, "token_expired", "invalid_token", facts=_EXPIRED_95),
        Case(s, "`HTTPTokenAuth` with JWTs: JWT with a bad signature", "/jwt", bearer("badsig"), 401, unauthorized, 401, "credentials_invalid", "invalid_token", verified=_V_BADSIG),
        Case(s, "`HTTPTokenAuth` with JWTs: JWT valid in 30 s (`nbf`)", "/jwt", bearer("nbf30"), 401, unauthorized, 401, "token_not_yet_valid", "invalid_token", facts=_NOT_YET),
        Case(s, "`HTTPTokenAuth` with JWTs: garbage token", "/jwt", bearer("garbage"), 401, unauthorized, 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "`HTTPTokenAuth` with JWTs: a deleted user's valid token", "/jwt", bearer("deleted_user"), 401, unauthorized, 401, "credentials_invalid", "invalid_token", verified=_V_REFUSED),
        Case(s, "`HTTPTokenAuth` with JWTs: valid token", "/jwt", bearer("valid"), 200, '"user"', 200, PASS),
        Case(s, "`login_required(role=\"items\")`: a token without `items`", "/jwt/items", bearer("valid"), 403, unauthorized, 403, "forbidden", verified=_V_ITEMS),
        Case(s, "`login_required(role=\"items\")`: a token with `items`", "/jwt/items", bearer("items"), 200, '"an item"', 200, PASS),
    ]


def _werkzeug() -> list[Case]:
    s = "werkzeug"
    page = "<title>401 Unauthorized</title>"
    return [
        Case(s, "`abort(401)`: no credentials", "/abort", (), 401, page, 401, "credentials_missing"),
        Case(s, "`Unauthorized(www_authenticate=...)`: unknown token", "/raise", bearer("other"), 401, 'Bearer realm=api', 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "`Unauthorized(...)`: token only in `?api_key=`", "/raise?api_key={opaque}", (), 401, 'Bearer realm=api', 401, "credentials_missing", facts=_IN_QUERY),
        Case(s, "`abort(401)` before `abort(403)`: no credentials", "/admin", (), 401, page, 401, "credentials_missing"),
        Case(s, "`abort(403)`: valid token", "/admin", bearer("opaque"), 403, "<title>403 Forbidden</title>", 403, "forbidden"),
        Case(s, "`abort(401)` on a pyjwt error: no credentials", "/jwt", (), 401, page, 401, "credentials_missing"),
        Case(s, "`abort(401)` on a pyjwt error: JWT expired 95 s ago", "/jwt", bearer("expired95"), 401, page, 401, "token_expired", "invalid_token", facts=_EXPIRED_95),
        Case(s, "`abort(401)` on a pyjwt error: JWT with a bad signature", "/jwt", bearer("badsig"), 401, page, 401, "credentials_invalid", "invalid_token", verified=_V_BADSIG),
        Case(s, "`abort(401)` on a pyjwt error: JWT valid in 30 s (`nbf`)", "/jwt", bearer("nbf30"), 401, page, 401, "token_not_yet_valid", "invalid_token", facts=_NOT_YET),
        Case(s, "`abort(401)` on a pyjwt error: garbage token", "/jwt", bearer("garbage"), 401, page, 401, "credentials_invalid", "invalid_token", verified=_V_GARBAGE),
        Case(s, "`abort(401)`: a deleted user's valid token", "/jwt", bearer("deleted_user"), 401, page, 401, "credentials_invalid", "invalid_token", verified=_V_REFUSED),
        Case(s, "`abort(401)` on a pyjwt error: valid token", "/jwt", bearer("valid"), 200, '"user"', 200, PASS),
    ]


# fmt: on


CASES: tuple[Case, ...] = (
    *_fastapi(),
    *_uncaught("fastapi"),
    *_uncaught("fastapi-outside"),
    *_starlette(),
    *_starlette_jwt(),
    *_drf(),
    *_jwt_extended(),
    *_httpauth(),
    *_werkzeug(),
)
