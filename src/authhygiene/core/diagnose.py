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

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from authhygiene.core.answer import (
    AppAnswer,
    Declared,
    app_message,
    app_problem_members,
    clean_text,
    json_error,
    page_text,
    utf8,
)
from authhygiene.core.challenge import Challenge, echoes_secret, parse_challenges, scope_value
from authhygiene.core.credentials import Credentials
from authhygiene.core.jwt_peek import JwtFacts, peek
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason
from authhygiene.core.recognisers import (
    EXCEPTIONS,
    RECOGNISERS,
    Recogniser,
    declared_from_exception,
    recognise,
)

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

# Recognised words that are about authentication, not authorization: a 403
# that says them is the anonymous 403 of R2.
_AUTHENTICATION_REASONS = frozenset({Reason.CREDENTIALS_MISSING, Reason.CREDENTIALS_INVALID})


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


def iso(timestamp: int) -> str:
    """RFC 3339 UTC, seconds precision."""
    t = time.gmtime(timestamp)  # formatted by hand: strftime is slow here
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
    )


_SCOPE_IN_TEXT_RE = re.compile(
    r"\bscopes?\b[:=]?\s*['\"]?([A-Za-z0-9:._/\-]{1,64})['\"]?\.?\s*$", re.I
)


# How apps say "you sent nothing" (FastAPI's "Not authenticated", DRF's
# "Authentication credentials were not provided.", "Missing Authorization
# Header" from Flask-JWT-Extended).
_NOT_SEEN_RE = re.compile(
    r"not authenticated|not provided|missing|required|no (auth\w*|credentials|token)", re.I
)


_WRONG_SCHEME_403_RE = re.compile(r"^invalid authentication credentials\.?$", re.I)


def _scope(items: object, secrets: tuple[str, ...]) -> str:
    """The scope a refusal names, in one spelling (RFC 6750 §3), without a
    scope token that echoes one of the request's secrets (an app that puts
    the token it was sent into its own challenge's `scope`)."""
    words = " ".join(map(str, items)).split() if isinstance(items, list | tuple | set) else []
    return scope_value(word for word in words if not echoes_secret(word, secrets, entropy=False))


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
    if facts.aud:
        out["aud"] = facts.aud[0] if len(facts.aud) == 1 else list(facts.aud)
    for claim in ("exp", "nbf", "iat"):
        value = getattr(facts, claim)
        if value is not None:
            out[claim] = iso(value)
            out[f"{claim}_delta_s"] = value - now
    out.update(facts.claims)
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
    challenges = parse_challenges(answer.get_all("www-authenticate"), credentials.secrets)
    accepted = _accepted(schemes, challenges)
    # What we know the API takes: its own challenges' schemes, and `schemes`
    # when configured. The default ("Bearer",) is a guess we never hold a
    # request to.
    known = {c.scheme for c in challenges or ()} | (set(schemes) if schemes_given else set())
    message = app_message(answer)
    # An app's challenge may explain itself where its body does not.
    described = [utf8(text) for c in challenges or () if (text := c.param("error_description"))]
    if message is None and described:
        message = clean_text(described[0])
    moment = int(now)
    jwt = (
        peek(credentials.token, policy.log_claims)
        if credentials.token and credentials.scheme in ("Bearer", "DPoP", None)
        else None
    )
    log_facts = _jwt_log_facts(jwt, moment)
    facts: dict[str, object] = {}

    app_problem = app_problem_members(answer)
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
            facts["required_scope"] = _scope(items, credentials.secrets)
        if declared.detail:
            message = clean_text(declared.detail)
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
    oauth_error = json_error(answer) if answer.body[:1] == b"{" else None
    texts = [text for text in (oauth_error, message, page_text(answer), *described) if text]
    row = recognise(answer.status, texts, errors, answer)
    if row is not None and row.reason is None:
        return None  # not about authentication (R2 does not apply)
    if row is not None and _contradicted(row.reason, jwt, moment):
        row = None  # "Reset token has expired" about another token than this one
    if row is None and answer.status not in (401, 403):
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
    if other_scheme and credentials.unnamed_scheme:
        # A first word that is no scheme we can name may be the credential
        # itself: it is a secret, and the answer never names it.
        facts["accepted_schemes"] = list(accepted)
        return failure(Reason.SCHEME_NOT_ACCEPTED, "request")
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
                facts["required_scope"] = _scope([scope], credentials.secrets)
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
