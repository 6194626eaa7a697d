"""How auth code we don't own says why it refused: one table.

Each row: the statuses it applies to, what it matches (the app's words, an
RFC 6750 error in its challenge), the shape a 400/422 must have to be that
library's (a 400/422 is otherwise the app's own answer), the reason it maps
to, and where its wording was taken from. `EXCEPTIONS` does the same for
library exceptions an app lets escape, by qualified class name, so the core
imports no library.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from authhygiene.core.answer import MAX_WORDS_CHARS, AppAnswer, Declared
from authhygiene.core.reasons import Reason

__all__ = ["EXCEPTIONS", "RECOGNISERS", "Recogniser", "declared_from_exception", "recognise"]


@dataclass(frozen=True, slots=True)
class Recogniser:
    """One way a framework or auth library phrases a failure.

    `reason` None means "this refusal is not about authentication" (e.g. a
    CSRF failure): the answer passes through untouched.
    """

    source: str
    statuses: frozenset[int]
    reason: Reason | None
    message: re.Pattern[str] | None = None
    challenge_error: str | None = None
    # For a 400/422 only: the library's own answer shape, required to match.
    shape: str | None = None


_AUTH = frozenset({401, 403})
# Flask-JWT-Extended answers bad tokens with 422 and a body of exactly
# {"msg": ...}; Starlette's AuthenticationMiddleware answers AuthenticationError
# with a text/plain 400. The adapters hand us a 400/422 only when the request
# carried credentials, and a 400/422 row fires only on its library's shape.
_FJWT = frozenset({401, 403, 422})
SHAPE_FJWT = "flask-jwt-extended"
SHAPE_TEXT = "text/plain"
# Each row names where its wording was taken from. Earlier rows win.
RECOGNISERS: tuple[Recogniser, ...] = (
    Recogniser(
        "CSRF refusals: Django CsrfViewMiddleware (django/views/csrf.py), DRF"
        " SessionAuthentication ('CSRF Failed: ...'), Flask-WTF ('The CSRF token is missing.')",
        frozenset({403}),
        None,
        message=re.compile(r"\b[CX]SRF\b|\bcross[- ]site request forgery\b", re.I),
    ),
    Recogniser(
        "RFC 6750 §3.1 challenge error set by the app",
        _AUTH,
        Reason.INSUFFICIENT_SCOPE,
        challenge_error="insufficient_scope",
    ),
    Recogniser(
        "RFC 6750 §3.1 challenge error set by the app",
        _AUTH,
        Reason.CREDENTIALS_MALFORMED,
        challenge_error="invalid_request",
    ),
    Recogniser(
        "FastAPI docs, 'OAuth2 scopes' tutorial: 401 'Not enough permissions'",
        _AUTH,
        Reason.INSUFFICIENT_SCOPE,
        message=re.compile(r"^not enough permissions\b", re.I),
    ),
    Recogniser(
        "OAuth-style JSON body or message naming the scope",
        _AUTH,
        Reason.INSUFFICIENT_SCOPE,
        message=re.compile(r"\binsufficient[_ ]scope\b|\bmissing (required )?scopes?\b", re.I),
    ),
    Recogniser(
        "pyjwt ExpiredSignatureError text, Flask-JWT-Extended 4.x 'Token has expired'",
        _FJWT,
        Reason.TOKEN_EXPIRED,
        message=re.compile(r"\b(signature|token) (has )?expired\b", re.I),
        shape=SHAPE_FJWT,
    ),
    Recogniser(
        "pyjwt InvalidSignatureError text (jwt/api_jws.py), Flask-JWT-Extended 4.x 422",
        _FJWT,
        Reason.TOKEN_SIGNATURE_INVALID,
        message=re.compile(r"^signature verification failed\.?$", re.I),
        shape=SHAPE_FJWT,
    ),
    Recogniser(
        "pyjwt ImmatureSignatureError text ('The token is not yet valid (nbf)')",
        _FJWT,
        Reason.TOKEN_NOT_YET_VALID,
        message=re.compile(r"\btoken is not yet valid\b", re.I),
        shape=SHAPE_FJWT,
    ),
    Recogniser(
        "pyjwt InvalidAlgorithmError text, Flask-JWT-Extended 4.x 422",
        _FJWT,
        Reason.TOKEN_ALGORITHM_REJECTED,
        message=re.compile(r"^the specified alg value is not allowed\.?$", re.I),
        shape=SHAPE_FJWT,
    ),
    Recogniser(
        "pyjwt InvalidAudienceError text, Flask-JWT-Extended 4.x 422",
        _FJWT,
        Reason.TOKEN_AUDIENCE_MISMATCH,
        message=re.compile(r"^(audience doesn't match|invalid audience)\.?$", re.I),
        shape=SHAPE_FJWT,
    ),
    Recogniser(
        "pyjwt InvalidIssuerError text, Flask-JWT-Extended 4.x 422",
        _FJWT,
        Reason.TOKEN_ISSUER_MISMATCH,
        message=re.compile(r"^invalid issuer\.?$", re.I),
        shape=SHAPE_FJWT,
    ),
    Recogniser(
        "DRF TokenAuthentication / BasicAuthentication: 'Invalid token header. Token string"
        " should not contain spaces.' and the like (rest_framework/authentication.py)",
        _AUTH,
        Reason.CREDENTIALS_MALFORMED,
        message=re.compile(
            r"invalid (token|basic) header|should not contain (spaces|invalid characters)", re.I
        ),
    ),
    Recogniser(
        "Flask-JWT-Extended 4.x fresh_jwt_required: 401 'Fresh token required' (sign in"
        " again: RFC 9470's step-up)",
        _AUTH,
        Reason.STEP_UP_REQUIRED,
        message=re.compile(r"^fresh token required\b", re.I),
    ),
    Recogniser(
        "Flask-JWT-Extended 4.x revoked-token callback: 401 'Token has been revoked'",
        _AUTH,
        Reason.TOKEN_REVOKED,
        message=re.compile(r"\btoken has been revoked\b", re.I),
    ),
    Recogniser(
        "Flask-JWT-Extended 4.x 422s for unusable tokens (pyjwt DecodeError texts,"
        " WrongTokenError, InvalidHeaderError, MissingRequiredClaimError)",
        frozenset({422}),
        Reason.CREDENTIALS_INVALID,
        message=re.compile(
            r"^(not enough segments|too many segments|invalid (header|crypto|payload) padding"
            r"|invalid (header|payload) string.*|only (non-refresh|refresh|access) tokens are"
            r" allowed|bad authorization header.*|invalid token type.*"
            r"|token is missing the .{1,40} claim)\.?$",
            re.I,
        ),
        shape=SHAPE_FJWT,
    ),
    Recogniser(
        "No credentials, in the words of FastAPI security classes ('Not authenticated', 401"
        " since 0.122, 403 before), DRF NotAuthenticated ('Authentication credentials were"
        " not provided.'), Flask-JWT-Extended ('Missing Authorization Header')",
        _AUTH,
        Reason.CREDENTIALS_MISSING,
        message=re.compile(
            r"^not authenticated\.?$|authentication credentials were not provided"
            r"|^missing authorization header",
            re.I,
        ),
    ),
    Recogniser(
        "Rejected credentials, in the words of FastAPI HTTPBearer < 0.122 (403 'Invalid"
        " authentication credentials') and the FastAPI docs ('Could not validate"
        " credentials'), DRF AuthenticationFailed ('Invalid token.', 'Incorrect"
        " authentication credentials.', 'Invalid username/password.')",
        _AUTH,
        Reason.CREDENTIALS_INVALID,
        message=re.compile(
            r"invalid authentication credentials|could not validate credentials"
            r"|^invalid token\.?$|incorrect authentication credentials|invalid username/password",
            re.I,
        ),
    ),
    Recogniser(
        "DRF PermissionDenied: 'You do not have permission to perform this action.'",
        frozenset({403}),
        Reason.FORBIDDEN,
        message=re.compile(r"you do not have permission to perform this action", re.I),
    ),
    Recogniser(
        "Starlette AuthenticationMiddleware default on_error: 400 text/plain with the"
        " AuthenticationError's text, e.g. the docs' 'Invalid basic auth credentials'"
        " (starlette/middleware/authentication.py). The text must name what the"
        " middleware reads (credentials, the Authorization header, a bearer/JWT/API"
        " token): a bare 'Invalid token' or 'Expired token' is as likely a card,"
        " reset or webhook token the endpoint refused, with good credentials.",
        frozenset({400}),
        Reason.CREDENTIALS_INVALID,
        message=re.compile(
            r"^(invalid|bad|wrong|incorrect|expired|malformed|unknown|missing) (?:"
            r"((basic|bearer|http|api) )?(auth(entication)? )?credentials?"
            r"|(basic|bearer|jwt|api|access|auth(entication)?|authorization) (auth )?token"
            r"|jwt|api[- ]?key|((basic|bearer) )?auth(orization)? header"
            r")\.?$",
            re.I,
        ),
        shape=SHAPE_TEXT,
    ),
)


def _shape(answer: AppAnswer) -> str | None:
    content_type = next(iter(answer.get_all("content-type")), "").lower()
    if content_type.startswith("text/plain"):
        return SHAPE_TEXT
    if "json" in content_type and answer.body[:1] == b"{":
        try:
            data = json.loads(answer.body)
        except (ValueError, RecursionError):
            return None
        if isinstance(data, dict) and list(data) == ["msg"] and isinstance(data["msg"], str):
            return SHAPE_FJWT
    return None


def recognise(
    status: int, texts: list[str], errors: set[str], answer: AppAnswer
) -> Recogniser | None:
    """The row that recognises the app's words (`texts`, its challenges'
    `errors`), if any."""
    # A 400/422 is an app's own answer unless it has a library's exact shape.
    shape = _shape(answer) if status not in _AUTH else None
    for row in RECOGNISERS:
        if status not in row.statuses:
            continue
        if status not in _AUTH and (row.shape is None or row.shape != shape):
            continue
        if row.challenge_error is not None and row.challenge_error in errors:
            return row
        if row.message is not None and any(row.message.search(text) for text in texts):
            return row
    return None


# Exceptions an app lets escape, by qualified class name (the core imports no
# library), most specific first: the first one in the exception's MRO wins.
# A reason of None is a server fault (key or JWKS trouble): never a 401.
EXCEPTIONS: tuple[tuple[str, Reason | None], ...] = (
    ("jwt.exceptions.PyJWKClientError", None),
    ("jwt.exceptions.InvalidKeyError", None),
    ("jwt.exceptions.ExpiredSignatureError", Reason.TOKEN_EXPIRED),
    ("jwt.exceptions.ImmatureSignatureError", Reason.TOKEN_NOT_YET_VALID),
    ("jwt.exceptions.InvalidAudienceError", Reason.TOKEN_AUDIENCE_MISMATCH),
    ("jwt.exceptions.InvalidIssuerError", Reason.TOKEN_ISSUER_MISMATCH),
    ("jwt.exceptions.InvalidSignatureError", Reason.TOKEN_SIGNATURE_INVALID),
    ("jwt.exceptions.InvalidAlgorithmError", Reason.TOKEN_ALGORITHM_REJECTED),
    ("jwt.exceptions.MissingRequiredClaimError", Reason.CREDENTIALS_INVALID),
    ("jwt.exceptions.DecodeError", Reason.CREDENTIALS_INVALID),
    ("jwt.exceptions.InvalidTokenError", Reason.CREDENTIALS_INVALID),
)


def declared_from_exception(exception: BaseException) -> Declared | None:
    """An uncaught library exception that explains a refusal, as if the app
    had raised AuthFailure; None for anything else (it propagates)."""
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exception).__mro__}
    for name, reason in EXCEPTIONS:
        if name in names:
            if reason is None:
                return None
            return Declared(reason, {}, _exception_text(exception), f"exception:{name}")
    return None


def _exception_text(exception: BaseException) -> str | None:
    # Bounded to the work cap, never to the display length: the sink scrubs
    # the whole of it before shortening (a token in the message is cut
    # nowhere else). A `__str__` that raises says nothing.
    try:
        text = str(exception)
    except Exception:
        return None
    return text[:MAX_WORDS_CHARS] or None
