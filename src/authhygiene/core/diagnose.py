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
from dataclasses import dataclass, field

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
from authhygiene.core.credentials import TOKEN_SCHEMES, Credentials
from authhygiene.core.jwt_peek import JwtFacts, fact_text, peek
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Problem, Reason
from authhygiene.core.recognisers import (
    EXCEPTIONS,
    RECOGNISERS,
    Recogniser,
    declared_from_exception,
    recognise,
)
from authhygiene.core.requirements import Scopes
from authhygiene.core.verdict import Rejected, Verified, choices, telling

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
    "time_reason",
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


def time_reason(
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
        return {"sent_cookie_name": credentials.session_cookie}
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


@dataclass(slots=True)
class _Evidence:
    """What one refusal shows, read once; the steps below each look at it
    and either explain the refusal or pass it on."""

    policy: Policy
    credentials: Credentials
    answer: AppAnswer
    challenges: list[Challenge] | None
    # What the API accepts as far as we can tell, and what we know it takes:
    # its own challenges' schemes, and `schemes` when configured (the
    # default ("Bearer",) is a guess we never hold a request to).
    accepted: tuple[str, ...]
    known: set[str]
    message: str | None
    described: list[str]
    moment: int
    jwt: JwtFacts | None
    log_facts: dict[str, object]
    app_problem: Mapping[str, object] | None
    facts: dict[str, object] = field(default_factory=dict)
    row: Recogniser | None = None
    texts: list[str] = field(default_factory=list)
    errors: set[str] = field(default_factory=set)
    about_authentication: bool = False
    # What `verify=` said of the token, once asked (`_verification`).
    verdict: Verified | Rejected | None = None
    # The scopes the route requires (`require=`), when a rule names some.
    required: Scopes | None = None

    def failure(self, reason: Reason, source: str) -> Failure:
        return Failure(
            reason,
            self.facts,
            self.log_facts,
            self.message,
            tuple(self.challenges) if self.challenges is not None else None,
            source,
            self.app_problem,
            self.row.reason if self.row is not None else None,
        )

    def accepts(self) -> None:
        self.facts["accepted_schemes"] = list(self.accepted)

    def timed(self) -> tuple[Reason, dict[str, object]] | None:
        return time_reason(self.jwt, self.moment, self.policy.clock_skew_window)


def _evidence(policy: Policy, credentials: Credentials, answer: AppAnswer, now: float) -> _Evidence:
    challenges = parse_challenges(answer.get_all("www-authenticate"), credentials.secrets)
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
    return _Evidence(
        policy,
        credentials,
        answer,
        challenges,
        _accepted(policy.schemes, challenges),
        {c.scheme for c in challenges or ()}
        | (set(policy.schemes) if policy.schemes_given else set()),
        message,
        described,
        moment,
        jwt,
        _jwt_log_facts(jwt, moment),
        app_problem_members(answer),
    )


def _declared(ev: _Evidence, declared: Declared) -> Failure:
    """The app (or a library it let escape) said why: its reason stands."""
    facts = ev.facts
    facts.update(declared.facts)
    required = facts.get("required_scope")
    if required is not None:
        # One spelling for body and challenge (RFC 6750 §3 scope syntax).
        items = required if isinstance(required, list | tuple | set) else [required]
        facts["required_scope"] = _scope(items, ev.credentials.secrets)
    if declared.detail:
        ev.message = clean_text(declared.detail)
    if declared.reason is Reason.TOKEN_ALGORITHM_REJECTED:
        facts.update(_algorithm_reason(ev.jwt, ev.policy.algorithms, always=True) or {})
    if declared.reason in (Reason.TOKEN_EXPIRED, Reason.TOKEN_NOT_YET_VALID):
        timed = ev.timed()
        if timed is not None and timed[0] is declared.reason:
            ev.facts = {**timed[1], **facts}
    return ev.failure(declared.reason, declared.source)


def _recognised_ours(ev: _Evidence) -> bool:
    """Read the app's words against the recognisers; False when the answer
    is not an auth failure at all."""
    answer = ev.answer
    ev.errors = {c.param("error") or "" for c in ev.challenges or () if c.param("error")}
    oauth_error = json_error(answer) if answer.body[:1] == b"{" else None
    ev.texts = [t for t in (oauth_error, ev.message, page_text(answer), *ev.described) if t]
    row = recognise(answer.status, ev.texts, ev.errors, answer)
    if row is not None and row.reason is None:
        return False  # not about authentication (R2 does not apply)
    if row is not None and _contradicted(row.reason, ev.jwt, ev.moment):
        row = None  # "Reset token has expired" about another token than this one
    if row is None and answer.status not in (401, 403):
        return False  # a 400/422 is ours only when a recogniser names it: never a form error
    ev.row = row
    ev.about_authentication = row is not None and row.reason in _AUTHENTICATION_REASONS
    return True


# The steps, in order: RFC 6750 §3.1 first (what the request carried decides
# those, whatever the app said), then the app's recognised words, then what
# the unverified token shows. Each explains the refusal or returns None.


def _nothing_presented(ev: _Evidence) -> Failure | None:
    credentials, policy = ev.credentials, ev.policy
    if credentials.presented:
        return None
    # The headers `APIKey` verifiers read: the API names them exactly.
    read = list(policy.verifier_headers)
    if credentials.stray_key_header and (policy.api_key_headers_given or read):
        ev.facts["problem"] = Problem.API_KEY_IN_WRONG_HEADER.value
        ev.facts["sent_header"] = credentials.stray_key_header
        ev.facts["expected_headers"] = read or list(policy.api_key_headers)
    elif read:
        ev.facts["expected_headers"] = read
    ev.accepts()
    return ev.failure(Reason.CREDENTIALS_MISSING, "request")


def _malformed(ev: _Evidence) -> Failure | None:
    credentials = ev.credentials
    if not credentials.misuse:
        return None
    ev.facts["problem"] = credentials.misuse[0].value
    if credentials.scheme and credentials.scheme in ev.known:
        ev.facts["scheme"] = credentials.scheme
    ev.accepts()
    return ev.failure(Reason.CREDENTIALS_MALFORMED, "request")


def _other_scheme(ev: _Evidence) -> bool:
    """Whether the app's answer shows it took the credentials for none.

    Another scheme than the API takes is "no credentials" to it (RFC 6750
    §3.1). Where we know what it takes (its own challenges, or `schemes`
    configured), a 401, a bare 403 or a 403 about authentication proves it;
    a 403 that says something of its own ("Admins only") shows the app read
    them (RFC 9110 §15.5.4). Where we only guess (the default schemes), the
    app must say it saw nothing ("Not authenticated", "Missing ...")."""
    status, row = ev.answer.status, ev.row
    if ev.known:
        return status != 403 or ev.message is None or ev.about_authentication
    if status == 401:
        return row is None or row.reason in (
            Reason.CREDENTIALS_MISSING,
            Reason.CREDENTIALS_MALFORMED,
        )
    # FastAPI < 0.122 HTTPBearer said this 403 for another scheme only;
    # DRF's "Invalid token." shows the token was read.
    return (
        status == 403
        and row is not None
        and (
            row.reason is Reason.CREDENTIALS_MISSING
            or any(_WRONG_SCHEME_403_RE.search(text) for text in ev.texts)
        )
    )


def _another_scheme(ev: _Evidence) -> Failure | None:
    credentials = ev.credentials
    if credentials.unnamed_scheme:
        named = False  # a first word we cannot name may be the credential: never named
    elif credentials.scheme is not None and credentials.scheme not in (
        ev.known or set(ev.policy.schemes)
    ):
        named = True
    else:
        return None
    if not _other_scheme(ev):
        return None
    if named:
        ev.facts["scheme"] = credentials.scheme
    ev.accepts()
    return ev.failure(Reason.SCHEME_NOT_ACCEPTED, "request")


def _recognised(ev: _Evidence) -> Failure | None:
    row = ev.row
    if row is None or row.reason is None or ev.about_authentication:
        return None
    reason, facts = row.reason, ev.facts
    if reason is Reason.INSUFFICIENT_SCOPE:
        scope = next((c.param("scope") for c in ev.challenges or () if c.param("scope")), None)
        scope = scope or _scope_in(ev.texts)
        if scope:
            facts["required_scope"] = _scope([scope], ev.credentials.secrets)
        elif ev.required is not None and ev.required.names:
            facts["required_scope"] = str(ev.required)  # the route's, from `require=`
    if reason is Reason.TOKEN_ALGORITHM_REJECTED:
        facts.update(_algorithm_reason(ev.jwt, ev.policy.algorithms, always=True) or {})
    if reason is Reason.CREDENTIALS_MALFORMED and ev.credentials.scheme:
        facts["scheme"] = ev.credentials.scheme  # hints name the client's own scheme
        ev.accepts()
    timed = ev.timed()
    if timed is not None and timed[0] is reason:
        facts.update(timed[1])
    return ev.failure(reason, f"recogniser:{row.source}")


def _token_in_query(ev: _Evidence) -> Failure | None:
    if (
        ev.credentials.source == "query"
        and ev.answer.status == 401
        and "invalid_token" not in ev.errors
        and (ev.message is None or _NOT_SEEN_RE.search(ev.message))
    ):
        # RFC 6750 §2.3 makes the query method optional, and the app's words
        # say it saw no credentials: it does not read the query string.
        ev.facts["problem"] = Problem.TOKEN_IN_QUERY.value
        ev.accepts()
        return ev.failure(Reason.CREDENTIALS_MISSING, "request")
    return None


def _forbidden(ev: _Evidence) -> Failure | None:
    if ev.answer.status == 403 and not ev.about_authentication:
        return ev.failure(Reason.FORBIDDEN, "status")
    return None


def _not_read(ev: _Evidence) -> Failure | None:
    row = ev.row
    if row is None or row.reason is not Reason.CREDENTIALS_MISSING:
        return None
    # The app found nothing it reads, yet the request carried something:
    # say what, and where the API looks instead.
    ev.facts["problem"] = Problem.CREDENTIALS_NOT_READ.value
    ev.facts.update(_carried(ev.credentials))
    if ev.known:
        ev.accepts()
    return ev.failure(Reason.CREDENTIALS_MISSING, f"recogniser:{row.source}")


def _algorithm(ev: _Evidence) -> Failure | None:
    algorithm = _algorithm_reason(ev.jwt, ev.policy.algorithms)
    if algorithm is None:
        return None
    ev.facts.update(algorithm)
    return ev.failure(Reason.TOKEN_ALGORITHM_REJECTED, "jwt-claims")


def _claimed_times(ev: _Evidence) -> Failure | None:
    timed = ev.timed()
    if timed is None:
        return None
    ev.facts.update(timed[1])
    return ev.failure(timed[0], "jwt-claims")


def _not_a_jwt(ev: _Evidence) -> Failure | None:
    credentials = ev.credentials
    if (
        ev.policy.token_format == "jwt"
        and ev.jwt is None
        and credentials.token
        and credentials.scheme in ("Bearer", "DPoP")
    ):
        ev.facts["problem"] = Problem.NOT_A_JWT.value
        return ev.failure(Reason.CREDENTIALS_INVALID, "request")
    return None


def _verification(ev: _Evidence) -> Verified | Rejected | None:
    """What the app's own keys say of its Bearer token (`verify=`), asked
    once per refusal; None where there is nothing to verify or the app says
    it read no credentials (the token is not the one it judged)."""
    verifiers = ev.policy.verifiers
    if not verifiers or (ev.row is not None and ev.row.reason is Reason.CREDENTIALS_MISSING):
        return None
    if ev.verdict is None:
        try:
            for verifier, credential in choices(verifiers, ev.credentials):
                verdict = verifier.verify(credential, ev.moment)
                if isinstance(verdict, Verified):
                    ev.verdict = verdict  # one of two issuers' verifiers, say
                    break
                reported: Rejected | None = ev.verdict if isinstance(ev.verdict, Rejected) else None
                ev.verdict = telling(reported, verdict)
        except Exception:  # a verifier never raises; one of the app's own might
            return None
    return ev.verdict


def _verify_failed(ev: _Evidence) -> Failure | None:
    """A token the app's keys reject, on a refusal about authentication (a
    401, or a 403 whose words are about the credentials): the keys know why,
    where the app's words only suggest. A 403 for its own reason stands: the
    app accepted the token, whatever a stricter verifier thinks."""
    if ev.answer.status != 401 and not ev.about_authentication:
        return None
    outcome = _verification(ev)
    if not isinstance(outcome, Rejected) or (
        # Keys we could not fetch say nothing of the credential: in explain
        # mode the app judged it, and its words explain the refusal.
        outcome.reason is Reason.VERIFIER_UNAVAILABLE and ev.policy.mode == "explain"
    ):
        return None
    timed = ev.timed()
    # The time facts the unverified look gives (with the skew suspicion).
    facts = timed[1] if timed is not None and timed[0] is outcome.reason else outcome.facts
    ev.facts.update(facts)
    return ev.failure(outcome.reason, "verify")


def _scope_lacking(ev: _Evidence) -> Failure | None:
    """A verified token without a scope the route requires (`require=`):
    403 `insufficient_scope` naming every scope the route requires (RFC
    6750 §3.1), whatever the app said (a Starlette `requires`, a DRF
    permission, a role check), since the keys and the rule both know."""
    required = ev.required
    # A 403 only: a 401 for a valid token said something else (a token not
    # valid yet by the app's clock, a deleted user), and the app's words or
    # `_verified_yet_refused` tell what.
    if (
        required is None
        or not required.names
        or ev.answer.status != 403
        or ev.credentials.scheme not in TOKEN_SCHEMES  # only a token carries scopes
    ):
        return None
    outcome = _verification(ev)
    if not isinstance(outcome, Verified) or not required.missing(outcome.scopes):
        return None
    ev.facts["required_scope"] = str(required)
    return ev.failure(Reason.INSUFFICIENT_SCOPE, "verify")


def _verified_yet_refused(ev: _Evidence) -> Failure | None:
    """A token the app's keys accept, answered 401 with no reason of the
    app's own: by this server's clock it expired or is not valid yet (the
    verifier's leeway forgives what the app did not), else the app refused
    a valid token for a reason of its own (a revoked session, a disabled
    user)."""
    # A 400 too: Starlette's AuthenticationError answers one by default.
    if ev.answer.status not in (400, 401) or not isinstance(_verification(ev), Verified):
        return None
    timed = ev.timed()
    if timed is not None:
        ev.facts.update(timed[1])
        return ev.failure(timed[0], "verify")
    ev.facts["problem"] = Problem.VALID_TOKEN_REFUSED.value
    return ev.failure(Reason.CREDENTIALS_INVALID, "verify")


_STEPS = (
    _nothing_presented,
    _malformed,
    _another_scheme,
    _verify_failed,
    _scope_lacking,
    _recognised,
    _token_in_query,
    _forbidden,
    _not_read,
    _verified_yet_refused,
    # What the unverified token shows, most telling first.
    _algorithm,
    _claimed_times,
    _not_a_jwt,
)


def _logged_claims_as_verified(ev: _Evidence) -> None:
    """The claims logged (`log_claims`, such as `sub`) once a verifier has
    spoken: the verified ones for a valid token, none for a rejected one (a
    forged token names whom it likes; the log must not repeat it as fact)."""
    verdict, names = ev.verdict, ev.policy.log_claims
    if verdict is None or not names:
        return
    if isinstance(verdict, Rejected):
        if verdict.reason is not Reason.VERIFIER_UNAVAILABLE:
            for name in names:
                ev.log_facts.pop(name, None)
        return
    for name in names:
        value = verdict.claims.get(name)
        if isinstance(value, str):
            ev.log_facts[name] = fact_text(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1 << 53:
            ev.log_facts[name] = value
        else:
            ev.log_facts.pop(name, None)


def diagnose(
    *,
    policy: Policy,
    credentials: Credentials,
    answer: AppAnswer,
    declared: Declared | None,
    now: float,
    required: Scopes | None = None,
    verdict: Verified | Rejected | None = None,
) -> Failure | None:
    """Explain the app's refusal, or None when it is not an auth failure.
    `required`: the scopes the route requires, when `require=` names some;
    `verdict`: what a verifier said of the credential already (enforce mode
    asks before the app: asked again, a failure would cost a second check)."""
    ev = _evidence(policy, credentials, answer, now)
    ev.required = required
    ev.verdict = verdict
    if declared is not None:
        # A library's exception the app let escape (pyjwt's DecodeError) says
        # less than the app's keys; the app's own AuthFailure always stands.
        verified = _verify_failed(ev) if declared.source.startswith("exception:") else None
        declared_failure = verified or _declared(ev, declared)
        _logged_claims_as_verified(ev)
        return declared_failure
    if not _recognised_ours(ev):
        return None
    for step in _STEPS:
        found = step(ev)
        if found is not None:
            _logged_claims_as_verified(ev)
            return found
    _logged_claims_as_verified(ev)
    row = ev.row
    return ev.failure(
        Reason.CREDENTIALS_INVALID, f"recogniser:{row.source}" if row is not None else "status"
    )
