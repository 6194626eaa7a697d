"""Why was this request refused? From the app's answer and the request alone.

The app decides who gets in; this module only explains a refusal the app
already made. The order of evidence is fixed:

1. the app said exactly why (an `AuthFailure`, passed in as `Declared`);
2. the request proves it (no credentials, a scheme the API does not take,
   malformed credentials): RFC 6750 §3.1 ties these to their error codes
   whatever the app's words were;
3. the app's answer says it in a form listed in `RECOGNISERS`;
4. an unverified look at a JWT explains it (an `exp` in the past);
5. otherwise: the credentials were rejected (401) or are not allowed (403).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from authhygiene.core.challenge import Challenge, parse_challenges, scope_value
from authhygiene.core.credentials import Credentials
from authhygiene.core.jwt_peek import JwtFacts, peek
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason

__all__ = [
    "EXCEPTIONS",
    "RECOGNISERS",
    "AppAnswer",
    "Declared",
    "Failure",
    "Recogniser",
    "app_message",
    "declared_from_exception",
    "diagnose",
    "iso",
]

MAX_DETAIL_CHARS = 200
# JSON members apps commonly put their message in, in order of preference.
MESSAGE_KEYS = ("detail", "message", "msg", "error_description", "error")


@dataclass(frozen=True, slots=True)
class AppAnswer:
    """What the app answered: status, lower-cased headers and a bounded body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True, slots=True)
class Declared:
    """The app's own explanation, from an `AuthFailure` it raised."""

    reason: Reason
    facts: Mapping[str, object] = field(default_factory=dict)
    detail: str | None = None
    source: str = "app:AuthFailure"


@dataclass(frozen=True, slots=True)
class Failure:
    """A diagnosed refusal. `facts` may go in the body (subject to the
    policy's `explain` level); `log_facts` go only to the log."""

    reason: Reason
    facts: Mapping[str, object]
    log_facts: Mapping[str, object]
    app_detail: str | None
    challenges: tuple[Challenge, ...] | None
    source: str
    # The app's own RFC 9457 body, when it sent one: its members are kept.
    app_problem: Mapping[str, object] | None = None
    # What the app's own words were recognised as saying, if anything.
    words: Reason | None = None


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
# Recognised words that are about authentication, not authorization: a 403
# that says them is the anonymous 403 of R2.
_AUTHENTICATION_REASONS = frozenset({Reason.CREDENTIALS_MISSING, Reason.CREDENTIALS_INVALID})

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
        " (starlette/middleware/authentication.py)",
        frozenset({400}),
        Reason.CREDENTIALS_INVALID,
        message=re.compile(
            r"^(invalid|bad|wrong|incorrect|expired|malformed|unknown|missing)"
            r" (basic |bearer |jwt |api |access )?(auth(entication)? )?"
            r"(credentials?|token|jwt|api[- ]?key|auth(orization)? header|signature)\.?$",
            re.I,
        ),
        shape=SHAPE_TEXT,
    ),
)


def iso(timestamp: int) -> str:
    """RFC 3339 UTC, seconds precision."""
    t = time.gmtime(timestamp)  # formatted by hand: strftime is slow here
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
    )


def _clean(text: str) -> str:
    # Printable text only, whitespace folded, bounded: it may reach a body.
    text = " ".join(text[: MAX_DETAIL_CHARS * 4].split())
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 3].rstrip() + "..."
    return text


def _message_from_json(data: object) -> str | None:
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping):
        for key in MESSAGE_KEYS:
            found = _message_from_json(data.get(key))
            if found:
                return found
    if isinstance(data, list) and data:
        # FastAPI's validation errors and DRF's lists: the first entry's message.
        return _message_from_json(data[0])
    return None


# Bodies that only restate the status line say nothing the status does not,
# and would contradict a corrected status ("Forbidden" on a 401).
_STATUS_PHRASES = frozenset(
    {
        "unauthorized",
        "forbidden",
        "bad request",
        "401 unauthorized",
        "403 forbidden",
        "access denied",
        "permission denied",
        "not authorized",
    }
)


def app_message(answer: AppAnswer) -> str | None:
    """The app's own explanation: from JSON (detail/message/msg/...) or short
    plain text. HTML pages, long bodies and bare status phrases are not messages."""
    message = _app_message(answer)
    if message and message.lower().rstrip(".! ") in _STATUS_PHRASES:
        return None
    return message


def _app_message(answer: AppAnswer) -> str | None:
    if not answer.body:
        return None
    content_type = next(iter(answer.get_all("content-type")), "").lower()
    if any(answer.get_all("content-encoding")):
        return None
    try:
        text = answer.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            message = _message_from_json(json.loads(text))
        except (ValueError, RecursionError):
            message = None
        return _clean(message) if message else None
    if content_type.startswith("text/plain") or not content_type:
        stripped = text.strip()
        if stripped and len(stripped) <= MAX_DETAIL_CHARS and "<" not in stripped:
            return _clean(stripped)
    return None


_MAX_APP_PROBLEM_MEMBERS = 32


def _app_problem(answer: AppAnswer) -> dict[str, object] | None:
    """The app's own problem details (RFC 9457 §3), when it sent them."""
    content_type = next(iter(answer.get_all("content-type")), "").lower()
    if not content_type.startswith("application/problem+json") or answer.get_all(
        "content-encoding"
    ):
        return None
    try:
        data = json.loads(answer.body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or len(data) > _MAX_APP_PROBLEM_MEMBERS:
        return None
    return {str(key)[:64]: value for key, value in data.items()}


def _json_error(answer: AppAnswer) -> str | None:
    try:
        data = json.loads(answer.body)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return None


_TAG_RE = re.compile(r"<[^>]{0,512}>")
_PAGE_EXCERPT_BYTES = 4096


def _page_text(answer: AppAnswer) -> str | None:
    """The visible text at the start of an HTML page, for recognising it
    (Django's CSRF page is HTML); never shown to anyone."""
    if not answer.body or "html" not in next(iter(answer.get_all("content-type")), ""):
        return None
    text = answer.body[:_PAGE_EXCERPT_BYTES].decode("utf-8", "replace")
    return " ".join(_TAG_RE.sub(" ", text).split())


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


def _recognise(
    status: int, texts: list[str], errors: set[str], answer: AppAnswer
) -> Recogniser | None:
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


_SCOPE_IN_TEXT_RE = re.compile(
    r"\bscopes?\b[:=]?\s*['\"]?([A-Za-z0-9:._/\-]{1,64})['\"]?\.?\s*$", re.I
)


# How apps say "you sent nothing" (FastAPI's "Not authenticated", DRF's
# "Authentication credentials were not provided.", "Missing Authorization
# Header" from Flask-JWT-Extended).
_NOT_SEEN_RE = re.compile(
    r"not authenticated|not provided|missing|required|no (auth\w*|credentials|token)", re.I
)


def _utf8(header_text: str) -> str:
    """Header values arrive latin-1 decoded; apps usually wrote UTF-8."""
    try:
        return header_text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header_text


_WRONG_SCHEME_403_RE = re.compile(r"^invalid authentication credentials\.?$", re.I)


def _scope_in(texts: list[str]) -> str | None:
    """A single scope named at the end of an app's message ("Missing scope items")."""
    for text in texts:
        match = _SCOPE_IN_TEXT_RE.search(text)
        if match:
            return match.group(1).rstrip(".") or None
    return None


def _accepted(schemes: tuple[str, ...], challenges: list[Challenge] | None) -> tuple[str, ...]:
    """What the API accepts, as far as we can tell: the schemes the app's own
    valid challenges name (the app knows), else the policy's."""
    named: list[str] = []
    for challenge in challenges or ():
        if challenge.scheme not in named:
            named.append(challenge.scheme)
    return tuple(named) or schemes


def _jwt_log_facts(facts: JwtFacts | None, now: int) -> dict[str, object]:
    if facts is None:
        return {}
    out: dict[str, object] = {"alg": facts.alg, "kid": facts.kid, "iss": facts.iss}
    for claim in ("exp", "nbf", "iat"):
        value = getattr(facts, claim)
        if value is not None:
            out[claim] = iso(value)
            out[f"{claim}_delta_s"] = value - now
    return {key: value for key, value in out.items() if value is not None}


def _time_reason(
    facts: JwtFacts | None, now: int, window: int
) -> tuple[Reason, dict[str, object]] | None:
    """exp / nbf / iat against this server's clock (RFC 7519 §4.1.4-6), with
    the signed distance and a clock-skew suspicion when it is small."""
    if facts is None:
        return None
    if facts.exp is not None and facts.exp <= now:
        ago = now - facts.exp
        return Reason.TOKEN_EXPIRED, {
            "expired_at": iso(facts.exp),
            "server_time": iso(now),
            "expired_seconds_ago": ago,
            "clock_skew_suspected": ago <= window,
        }
    if facts.nbf is not None and facts.nbf > now:
        wait = facts.nbf - now
        return Reason.TOKEN_NOT_YET_VALID, {
            "not_before": iso(facts.nbf),
            "server_time": iso(now),
            "valid_in_seconds": wait,
            "clock_skew_suspected": wait <= window,
        }
    if facts.iat is not None and facts.iat > now:
        # Issued "in the future": pyjwt refuses it as ImmatureSignatureError.
        ahead = facts.iat - now
        return Reason.TOKEN_NOT_YET_VALID, {
            "issued_at": iso(facts.iat),
            "server_time": iso(now),
            "valid_in_seconds": ahead,
            "clock_skew_suspected": ahead <= window,
        }
    return None


def _contradicted(reason: Reason | None, facts: JwtFacts | None, now: int) -> bool:
    """The app's words name a time failure the request's own JWT does not have."""
    if facts is None:
        return False
    if reason is Reason.TOKEN_EXPIRED:
        return facts.exp is not None and facts.exp > now
    if reason is Reason.TOKEN_NOT_YET_VALID:
        return not (
            (facts.nbf is not None and facts.nbf > now)
            or (facts.iat is not None and facts.iat > now)
        )
    return False


def _carried(credentials: Credentials) -> dict[str, object]:
    if credentials.api_key_header is not None and credentials.scheme is None:
        return {"sent_header": credentials.api_key_header}
    if credentials.scheme is not None:
        return {"scheme": credentials.scheme}
    if credentials.session_cookie is not None:
        return {"sent_cookie": credentials.session_cookie}
    return {}


def _algorithm_reason(
    facts: JwtFacts | None, algorithms: tuple[str, ...] | None, *, always: bool = False
) -> dict[str, object] | None:
    """RFC 8725 §3.1: `alg: none` is never acceptable; an algorithm outside
    the policy's list is not either. `always`: the app already said so."""
    if facts is None or facts.alg is None:
        return None
    if (
        always
        or facts.alg.lower() == "none"
        or (algorithms is not None and facts.alg not in algorithms)
    ):
        found: dict[str, object] = {"alg": facts.alg}
        if algorithms is not None:
            found["accepted_algorithms"] = list(algorithms)
        return found
    return None


def diagnose(
    *,
    policy: Policy,
    credentials: Credentials,
    answer: AppAnswer,
    declared: Declared | None,
    now: float,
) -> Failure | None:
    """Explain the app's refusal, or None when it is not an auth failure."""
    schemes, schemes_given = policy.schemes, policy.schemes_given
    window = policy.clock_skew_window
    challenges = parse_challenges(answer.get_all("www-authenticate"))
    accepted = _accepted(schemes, challenges)
    # What we know the API takes: its own challenges' schemes, and `schemes`
    # when configured. The default ("Bearer",) is a guess we never hold a
    # request to.
    known = {c.scheme for c in challenges or ()} | (set(schemes) if schemes_given else set())
    message = app_message(answer)
    # An app's challenge may explain itself where its body does not.
    described = [_utf8(text) for c in challenges or () if (text := c.param("error_description"))]
    if message is None and described:
        message = _clean(described[0])
    moment = int(now)
    jwt = (
        peek(credentials.token)
        if credentials.token and credentials.scheme in ("Bearer", "DPoP", None)
        else None
    )
    log_facts = _jwt_log_facts(jwt, moment)
    facts: dict[str, object] = {}

    app_problem = _app_problem(answer)
    row: Recogniser | None = None

    def failure(reason: Reason, source: str) -> Failure:
        return Failure(
            reason,
            facts,
            log_facts,
            message,
            tuple(challenges) if challenges is not None else None,
            source,
            app_problem,
            row.reason if row is not None else None,
        )

    if declared is not None:
        facts.update(declared.facts)
        required = facts.get("required_scope")
        if required is not None:
            # One spelling for body and challenge (RFC 6750 §3 scope syntax).
            items = required if isinstance(required, list | tuple | set) else [required]
            facts["required_scope"] = scope_value(" ".join(map(str, items)).split())
        if declared.detail:
            message = _clean(declared.detail)
        if declared.reason is Reason.TOKEN_ALGORITHM_REJECTED:
            facts.update(_algorithm_reason(jwt, policy.algorithms, always=True) or {})
        if declared.reason in (Reason.TOKEN_EXPIRED, Reason.TOKEN_NOT_YET_VALID):
            timed = _time_reason(jwt, moment, window)
            if timed is not None and timed[0] is declared.reason:
                facts = {**timed[1], **facts}
        return failure(declared.reason, declared.source)

    errors = {
        challenge.param("error") or "" for challenge in challenges or () if challenge.param("error")
    }
    json_error = _json_error(answer) if answer.body[:1] == b"{" else None
    texts = [text for text in (json_error, message, _page_text(answer), *described) if text]
    row = _recognise(answer.status, texts, errors, answer)
    if row is not None and row.reason is None:
        return None  # not about authentication (R2 does not apply)
    if row is not None and _contradicted(row.reason, jwt, moment):
        row = None  # "Reset token has expired" about another token than this one
    if row is None and answer.status not in _AUTH:
        return None  # a 400/422 is ours only when a recogniser names it: never a form error

    # RFC 6750 §3.1: what the request carried decides these, whatever the app said.
    if not credentials.presented:
        if credentials.stray_key_header and policy.api_key_headers_given:
            facts["problem"] = "api_key_in_wrong_header"
            facts["sent_header"] = credentials.stray_key_header
            facts["expected_headers"] = list(policy.api_key_headers)
        facts["accepted_schemes"] = list(accepted)
        return failure(Reason.CREDENTIALS_MISSING, "request")
    if credentials.misuse:
        facts["problem"] = credentials.misuse[0].value
        if credentials.scheme and credentials.scheme in known:
            facts["scheme"] = credentials.scheme
        facts["accepted_schemes"] = list(accepted)
        return failure(Reason.CREDENTIALS_MALFORMED, "request")
    # Another scheme than the API takes is "no credentials" to it (RFC 6750
    # §3.1). Where we know what it takes (its own challenges, or `schemes`
    # configured), a 401, a bare 403 or a 403 about authentication proves it;
    # a 403 that says something of its own ("Admins only") shows the app read
    # them (RFC 9110 §15.5.4). Where we only guess (the default schemes), the
    # app must say it saw nothing ("Not authenticated", "Missing ...").
    about_authentication = row is not None and row.reason in _AUTHENTICATION_REASONS
    if known:
        other_scheme = answer.status != 403 or message is None or about_authentication
    else:
        # Only a guess: a 401 whose words do not say the credentials were
        # read and rejected, or a 403 about authentication (FastAPI < 0.122).
        other_scheme = (
            answer.status == 401
            and (
                row is None
                or row.reason in (Reason.CREDENTIALS_MISSING, Reason.CREDENTIALS_MALFORMED)
            )
        ) or (
            answer.status == 403
            and row is not None
            and (
                row.reason is Reason.CREDENTIALS_MISSING
                # FastAPI < 0.122 HTTPBearer said this for another scheme only;
                # DRF's "Invalid token." shows the token was read.
                or any(_WRONG_SCHEME_403_RE.search(text) for text in texts)
            )
        )
    if (
        other_scheme
        and credentials.scheme is not None
        and credentials.scheme not in (known or set(schemes))
    ):
        facts["scheme"] = credentials.scheme
        facts["accepted_schemes"] = list(accepted)
        return failure(Reason.SCHEME_NOT_ACCEPTED, "request")

    if row is not None and row.reason is not None and not about_authentication:
        reason = row.reason
        if reason is Reason.INSUFFICIENT_SCOPE:
            scope = next((c.param("scope") for c in challenges or () if c.param("scope")), None)
            scope = scope or _scope_in(texts)
            if scope:
                facts["required_scope"] = scope
        if reason is Reason.TOKEN_ALGORITHM_REJECTED:
            facts.update(_algorithm_reason(jwt, policy.algorithms, always=True) or {})
        if reason is Reason.CREDENTIALS_MALFORMED and credentials.scheme:
            facts["scheme"] = credentials.scheme  # hints name the client's own scheme
            facts["accepted_schemes"] = list(accepted)
        timed = _time_reason(jwt, moment, window)
        if timed is not None and timed[0] is reason:
            facts.update(timed[1])
        return failure(reason, f"recogniser:{row.source}")

    if (
        credentials.source == "query"
        and answer.status == 401
        and "invalid_token" not in errors
        and (message is None or _NOT_SEEN_RE.search(message))
    ):
        # RFC 6750 §2.3 makes the query method optional, and the app's words
        # say it saw no credentials: it does not read the query string.
        facts["problem"] = "token_in_query"
        facts["accepted_schemes"] = list(accepted)
        return failure(Reason.CREDENTIALS_MISSING, "request")
    if answer.status == 403 and not about_authentication:
        return failure(Reason.FORBIDDEN, "status")
    if row is not None and row.reason is Reason.CREDENTIALS_MISSING:
        # The app found nothing it reads, yet the request carried something:
        # say what, and where the API looks instead.
        facts["problem"] = "credentials_not_read"
        facts.update(_carried(credentials))
        if known:
            facts["accepted_schemes"] = list(accepted)
        return failure(Reason.CREDENTIALS_MISSING, f"recogniser:{row.source}")

    # What the unverified token shows, most telling first.
    algorithm = _algorithm_reason(jwt, policy.algorithms)
    if algorithm is not None:
        facts.update(algorithm)
        return failure(Reason.TOKEN_ALGORITHM_REJECTED, "jwt-claims")
    timed = _time_reason(jwt, moment, window)
    if timed is not None:
        facts.update(timed[1])
        return failure(timed[0], "jwt-claims")
    if (
        policy.token_format == "jwt"
        and jwt is None
        and credentials.token
        and credentials.scheme in ("Bearer", "DPoP")
    ):
        facts["problem"] = "not_a_jwt"
        return failure(Reason.CREDENTIALS_INVALID, "request")
    source = f"recogniser:{row.source}" if row is not None else "status"
    return failure(Reason.CREDENTIALS_INVALID, source)


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
            return Declared(reason, {}, str(exception)[:200] or None, f"exception:{name}")
    return None
