"""The RFC 9457 `application/problem+json` body of a failure response.

What it may say is governed by the policy's `explain` level:

- "minimal": type, title, status, reason, request id and the OAuth `error`;
- "safe" (default): also `detail`, `hint` and the reason's facts that help
  the legitimate caller (times, accepted schemes, required scope);
- "full": also how the failure was diagnosed and the app's own words next to
  ours. Still never a credential or anything read from one beyond times.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from typing import Any

from authhygiene.core.answer import MAX_DETAIL_CHARS, MAX_MEMBER_NAME_CHARS
from authhygiene.core.challenge import rfc6750_text
from authhygiene.core.credentials import registered_scheme
from authhygiene.core.diagnose import Failure
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import REASONS, Problem, Reason
from authhygiene.core.redact import REDACTED, SINK_WORK_FACTOR, clean_for_sink

__all__ = ["CONTENT_TYPE", "FactWalk", "detail", "explanation", "hint", "own_word", "problem_body"]

CONTENT_TYPE = "application/problem+json"
MAX_FACT_CHARS = 256
# Our hints are short; a scope the app named may make one longer.
MAX_HINT_CHARS = 512
# What of a member value from the app (or the app's facts) is walked: its
# depth, the items of one list or object, and the values in all.
MAX_MEMBER_DEPTH = 8
MAX_MEMBER_ITEMS = 32
MAX_MEMBER_VALUES = 512
# RFC 8259 §6 / RFC 7493 §2.2: integers beyond ±(2**53 - 1) are not read alike
# by every client (and a huge one costs quadratic time to print).
_MAX_EXACT_INT = 2**53 - 1

_MISUSE_DETAIL: dict[str, str] = {
    Problem.EMPTY_TOKEN: "The Authorization header names a scheme but carries no credential.",
    Problem.MULTIPLE_AUTHORIZATION_HEADERS: (
        "The request carried more than one Authorization header."
    ),
    Problem.TOKEN_IN_HEADER_AND_QUERY: (
        "The token was sent both in the Authorization header and in the query string;"
        " send it once (RFC 6750 §3.1)."
    ),
    Problem.DOUBLED_SCHEME: (
        "The Authorization header repeats the scheme word ('Bearer Bearer ...')."
    ),
    Problem.QUOTED_TOKEN: "The token is wrapped in quotes; send it bare.",
    Problem.WHITESPACE_IN_TOKEN: "The token contains whitespace or a line break.",
    Problem.INVALID_CHARACTERS: (
        "The token contains characters a bearer token cannot have (RFC 6750 §2.1)."
    ),
    Problem.OVERSIZED: "The Authorization header is too large to be examined.",
    Problem.BASIC_NOT_BASE64: (
        "The Basic credentials are not the base64 of 'user:password' (RFC 7617)."
    ),
}


def _first(values: object) -> object:
    return values[0] if isinstance(values, list | tuple) and values else None


def _schemes_text(schemes: object) -> str:
    if isinstance(schemes, list | tuple) and schemes:
        return ", ".join(str(s) for s in schemes)
    return "Bearer"


def _missing(facts: Mapping[str, object]) -> str:
    problem = facts.get("problem")
    accepted = facts.get("accepted_schemes")
    if problem == Problem.CREDENTIALS_NOT_READ:
        if facts.get("sent_header"):
            what = f"an API key in the '{facts['sent_header']}' header"
        elif facts.get("scheme"):
            what = f"'Authorization: {facts['scheme']} ...'"
        elif facts.get("sent_cookie_name"):
            what = "a session cookie"
        else:
            what = "credentials"
        return f"This request carried {what}, but not in a form this API reads."
    if problem == Problem.TOKEN_IN_QUERY and _first(accepted) in _API_KEY_SCHEMES:
        return (
            "The key was sent in the query string, which this API does not read; send it in"
            " the request header this API reads."
        )
    if problem == Problem.TOKEN_IN_QUERY:
        return (
            "The token was sent in the query string, which this API does not read; send it"
            f" in the Authorization header ({_schemes_text(accepted)})."
        )
    if problem == Problem.API_KEY_IN_WRONG_HEADER:
        expected = facts.get("expected_headers")
        names = ", ".join(str(name) for name in expected) if isinstance(expected, list) else "?"
        return (
            f"An API key was sent in the '{facts.get('sent_header')}' header; this API reads"
            f" it from {names}."
        )
    return f"This request carried no credentials; this API accepts {_schemes_text(accepted)}."


def _scheme_not_accepted(facts: Mapping[str, object]) -> str:
    accepted = _schemes_text(facts.get("accepted_schemes"))
    if not facts.get("scheme"):
        # Its first word is no scheme we know: it may be the credential, never named.
        return (
            f"The Authorization header has no scheme this API knows; this API accepts {accepted}."
        )
    return f"The request used the '{facts.get('scheme', '?')}' scheme; this API accepts {accepted}."


def _malformed(facts: Mapping[str, object]) -> str | None:
    problem = str(facts.get("problem"))
    if problem == Problem.MISSING_SCHEME:
        return (
            "The Authorization header has no scheme, only a credential; send"
            f" 'Authorization: <scheme> <credential>' with a scheme this API accepts"
            f" ({_schemes_text(facts.get('accepted_schemes'))})."
        )
    return _MISUSE_DETAIL.get(problem)


def _expired(facts: Mapping[str, object]) -> str | None:
    if "expired_at" not in facts:
        return None
    ago = facts.get("expired_seconds_ago")
    text = f"The token expired at {facts['expired_at']}"
    text += f", {ago} s before this request" if isinstance(ago, int) else ""
    if facts.get("clock_skew_suspected"):
        text += "; if it was issued moments ago, this server's clock may be ahead of the issuer's"
    return text + "."


def _not_yet_valid(facts: Mapping[str, object]) -> str | None:
    if "valid_in_seconds" not in facts:
        return None
    since = facts.get("not_before") or facts.get("issued_at")
    text = f"The token is not valid for another {facts.get('valid_in_seconds')} s (from {since})"
    if facts.get("clock_skew_suspected"):
        text += ": the issuer's clock may be ahead of this server's"
    return text + "."


def _algorithm(facts: Mapping[str, object]) -> str | None:
    if not facts.get("alg"):
        return None
    accepted = facts.get("accepted_algorithms")
    tail = f"; this API accepts {_schemes_text(accepted)}" if accepted else ""
    if str(facts["alg"]).lower() == "none":
        return f"The token is unsigned ('alg': 'none'), which is never accepted{tail}."
    return f"The token is signed with '{facts['alg']}', which is not accepted{tail}."


def _invalid(facts: Mapping[str, object]) -> str | None:
    problem = facts.get("problem")
    if problem == Problem.NOT_A_JWT:
        return "The token is not a JWT (three base64url parts separated by dots)."
    if problem == Problem.VALID_TOKEN_REFUSED:
        return (
            "The token is valid (its signature, issuer, audience and times check out),"
            " but the app refused it for a reason of its own, such as a revoked session"
            " or a disabled user."
        )
    if problem == Problem.CLAIM_MISSING and facts.get("missing_claim"):
        return f"The token has no '{facts['missing_claim']}' claim, which this API requires."
    if problem == Problem.CRIT_NOT_UNDERSTOOD:
        return "The token's header lists critical extensions ('crit') this API does not support."
    return None


def _key_unknown(facts: Mapping[str, object]) -> str | None:
    if facts.get("kid"):
        return (
            f"The token names signing key '{facts['kid']}', which this API does not have:"
            " the issuer rotated its keys, or the token comes from another issuer."
        )
    return None


def _type_rejected(facts: Mapping[str, object]) -> str | None:
    expected = facts.get("expected_typ")
    if expected:
        sent = f"'{facts['typ']}'" if facts.get("typ") else "no type"
        return f"The token's type is {sent}; this API takes '{expected}' access tokens."
    return None


def _too_large(facts: Mapping[str, object]) -> str | None:
    if facts.get("token_bytes") and facts.get("max_token_bytes"):
        return (
            f"The token is {facts['token_bytes']} bytes; this API reads tokens of at most"
            f" {facts['max_token_bytes']} bytes."
        )
    return None


def _audience(facts: Mapping[str, object]) -> str | None:
    expected = facts.get("expected_audience")
    if expected:
        return f"The token's audience is not this API's ({_schemes_text(expected)})."
    return None


def _issuer(facts: Mapping[str, object]) -> str | None:
    expected = facts.get("expected_issuer")
    if expected:
        return f"The token's issuer is not the one this API trusts ({_schemes_text(expected)})."
    return None


def _scope(facts: Mapping[str, object]) -> str | None:
    if facts.get("required_scope"):
        return f"This resource requires the scope '{facts['required_scope']}'."
    return None


# Our own sentence per reason, from its facts; None: the reason's title says it.
_EXPLAINED: dict[Reason, Callable[[Mapping[str, object]], str | None]] = {
    Reason.CREDENTIALS_MISSING: _missing,
    Reason.SCHEME_NOT_ACCEPTED: _scheme_not_accepted,
    Reason.CREDENTIALS_MALFORMED: _malformed,
    Reason.TOKEN_EXPIRED: _expired,
    Reason.TOKEN_NOT_YET_VALID: _not_yet_valid,
    Reason.TOKEN_ALGORITHM_REJECTED: _algorithm,
    Reason.CREDENTIALS_INVALID: _invalid,
    Reason.INSUFFICIENT_SCOPE: _scope,
    Reason.TOKEN_KEY_UNKNOWN: _key_unknown,
    Reason.TOKEN_TYPE_REJECTED: _type_rejected,
    Reason.TOKEN_TOO_LARGE: _too_large,
    Reason.TOKEN_AUDIENCE_MISMATCH: _audience,
    Reason.TOKEN_ISSUER_MISMATCH: _issuer,
}


def explanation(failure: Failure, secrets: tuple[str, ...] = ()) -> str:
    """Our own sentence for `detail` when the app gave none. It names facts
    the client or the app wrote (a token's `alg`, a header name, a scope):
    each passes the sink before it is written into the sentence."""
    explain = _EXPLAINED.get(failure.reason)
    if explain is None:
        return REASONS[failure.reason].title + "."
    return explain(_SunkFacts(failure.facts, secrets)) or REASONS[failure.reason].title + "."


class _SunkFacts(Mapping[str, object]):
    """The facts as a sentence may name them: each read passes the sink
    first (only the few a sentence reads pay for it)."""

    __slots__ = ("_facts", "_secrets")

    def __init__(self, facts: Mapping[str, object], secrets: tuple[str, ...]) -> None:
        self._facts, self._secrets = facts, secrets

    def __getitem__(self, key: str) -> object:
        return _clean_fact(self._facts[key], self._secrets)

    def __iter__(self) -> Iterator[str]:
        return iter(self._facts)

    def __len__(self) -> int:
        return len(self._facts)

    def __contains__(self, key: object) -> bool:
        return key in self._facts


# Words that are ours, not the client's or the app's: the problem kinds,
# the names of the facts the diagnosis writes, and scheme names we know.
# None is an echo of a credential (`registered_scheme`), so none passes the sink.
_OWN_WORDS = frozenset(
    {problem.value for problem in Problem}
    | {
        "accepted_algorithms",
        "accepted_schemes",
        "alg",
        "clock_skew_suspected",
        "expected_headers",
        "expired_at",
        "expired_seconds_ago",
        "iss",
        "issued_at",
        "kid",
        "not_before",
        "problem",
        "required_scope",
        "scheme",
        "sent_cookie_name",
        "sent_header",
        "server_time",
        "valid_in_seconds",
    }
)
_SCHEME_WORD_CHARS = 32


def own_word(text: object, secrets: tuple[str, ...]) -> bool:
    """Whether `text` is a word of ours (see `_OWN_WORDS`) or a scheme we
    know by name, and none of the request's `secrets`: written as it is,
    without a pass through the sink. Plain ASCII `str` only."""
    if not (
        type(text) is str
        and text.isascii()
        and (text in _OWN_WORDS or (len(text) <= _SCHEME_WORD_CHARS and registered_scheme(text)))
    ):
        return False
    # An own word has no `%`: a secret is in it as sent or in another case
    # (what `holds_secret_form` looks for), and only a secret no longer than it.
    folded = text.lower()
    for secret in secrets:  # noqa: SIM110 (a plain loop: all() over a generator costs more)
        if len(secret) <= len(text) and secret.lower() in folded:
            return False
    return True


def _clean_fact(value: object, secrets: tuple[str, ...]) -> object:
    """A fact as a sentence may name it: the same bounded walk as the body's
    (text of any type through the sink, numbers JSON can say exactly)."""
    return FactWalk(secrets).value(value)


def detail(failure: Failure, secrets: tuple[str, ...] = ()) -> str:
    """One sentence on what was wrong. The app's own words lead it when they
    agree with the diagnosis; where the request, the token or a library's
    exception tell us more (or tell us otherwise), our sentence stands
    alone and the app's words are kept as `app_detail`."""
    ours = explanation(failure, secrets)
    theirs = _app_words(failure, secrets)
    if theirs is None:
        return ours
    if ours == REASONS[failure.reason].title + ".":
        return theirs  # we know no more than the app said
    if _keeps_app_words(failure):
        return f"{theirs.rstrip('. ')}: {ours[0].lower()}{ours[1:]}"
    return ours


def _app_words(failure: Failure, secrets: tuple[str, ...]) -> str | None:
    """The app's own words as they may leave: scrubbed whole, then shortened."""
    if not failure.app_detail:
        return None
    return clean_for_sink(failure.app_detail, MAX_DETAIL_CHARS, secrets) or None


def _keeps_app_words(failure: Failure) -> bool:
    source = failure.source
    if source.startswith("exception:"):
        return False  # a library's internal text (R13); ours says it better
    if failure.facts.get("problem") == Problem.CREDENTIALS_NOT_READ:
        return False  # the app said "not provided"; the request carried some
    if source == "request":
        return failure.words is failure.reason  # "Not authenticated" + nothing carried
    return source == "jwt-claims" or (
        source.startswith(("recogniser:", "app:")) and bool(failure.facts)
    )


# What to do about a specific problem the request showed.
_PROBLEM_HINTS: dict[str, str] = {
    Problem.DOUBLED_SCHEME: (
        "Remove the second scheme word: send 'Authorization: {scheme} <token>'."
    ),
    Problem.MISSING_SCHEME: (
        "Put the scheme before the credential: 'Authorization: {scheme} <token>'."
    ),
    Problem.QUOTED_TOKEN: "Send the token without quotes: 'Authorization: {scheme} <token>'.",
    Problem.WHITESPACE_IN_TOKEN: (
        "Send the token on one line, with no spaces or line breaks inside it."
    ),
    Problem.EMPTY_TOKEN: "Put the token after the scheme word: 'Authorization: {scheme} <token>'.",
    Problem.BASIC_NOT_BASE64: "Send 'Authorization: Basic ' followed by base64('user:password').",
    Problem.MULTIPLE_AUTHORIZATION_HEADERS: "Send one Authorization header, not several.",
    Problem.TOKEN_IN_HEADER_AND_QUERY: "Send the token once, in the Authorization header only.",
    Problem.TOKEN_IN_QUERY: (
        "Move the token from the URL to the header: 'Authorization: {scheme} <token>'."
    ),
    Problem.API_KEY_IN_WRONG_HEADER: "Send the API key in the {expected} header.",
    Problem.NOT_A_JWT: "Send the JWT access token issued for this API, not another kind of token.",
    Problem.CREDENTIALS_NOT_READ: "Send the credentials the way this API reads them: {accepted}.",
}

# Challenge schemes that stand for an API key sent in a header of its own
# (FastAPI's APIKeyHeader answers "WWW-Authenticate: APIKey").
_API_KEY_SCHEMES = frozenset({"ApiKey", "API-Key", "X-API-Key"})


def hint(failure: Failure) -> str:
    facts = failure.facts
    accepted = facts.get("accepted_schemes")
    scheme = accepted[0] if isinstance(accepted, list) and accepted else "Bearer"
    if failure.reason is Reason.CREDENTIALS_MALFORMED and isinstance(facts.get("scheme"), str):
        scheme = str(facts["scheme"])  # the client's own, accepted scheme (DRF's "Token")
    if failure.reason is Reason.CREDENTIALS_MISSING and scheme in _API_KEY_SCHEMES:
        expected = facts.get("expected_headers")
        if isinstance(expected, list) and expected and not facts.get("problem"):
            return f"Send the API key in the '{expected[0]}' header: '{expected[0]}: <key>'."
        return "Send the API key in the request header this API reads (e.g. 'X-API-Key: <key>')."
    problem = str(facts.get("problem"))
    if problem == Problem.CREDENTIALS_NOT_READ and accepted and scheme not in _API_KEY_SCHEMES:
        # One scheme named: say where and how (a cookie or a key header sent
        # to an API that reads the Authorization header).
        return (
            "Send the credentials in the Authorization header:"
            f" 'Authorization: {scheme} <credentials>'."
        )
    if problem in _PROBLEM_HINTS:
        expected = facts.get("expected_headers")
        return _PROBLEM_HINTS[problem].format(
            scheme=scheme,
            accepted=_schemes_text(accepted) if accepted else "see its documentation",
            expected=", ".join(map(str, expected)) if isinstance(expected, list) else "?",
        )
    if failure.reason is Reason.TOKEN_ALGORITHM_REJECTED and facts.get("accepted_algorithms"):
        return (
            "Request a token signed with one of: "
            f"{_schemes_text(facts.get('accepted_algorithms'))}."
        )
    if facts.get("clock_skew_suspected"):
        base = REASONS[failure.reason].hint
        return (
            base + " If fresh tokens fail too, synchronise the clocks (NTP) of the issuer and"
            " this server."
        )
    required = facts.get("required_scope")
    return REASONS[failure.reason].hint.format(
        scheme=scheme,
        accepted=_schemes_text(accepted),
        required=f" ('{required}')" if required else "",
    )


# What the walk writes as a JSON array (a set in no particular order).
_SEQUENCES = (list, tuple, set, frozenset)


class FactWalk:
    """One body's walk over values from the app or its facts: bounded in
    depth, items and values in all before any of it is looked at, every
    string (member names too) scrubbed whole at the sink, and only what JSON
    can say exactly kept (no NaN, no Infinity, no integer past 2**53)."""

    __slots__ = ("left", "secrets")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.left = MAX_MEMBER_VALUES

    def value(self, value: object, depth: int = 0) -> Any:
        self.left -= 1
        if self.left < 0 or value is None:
            return None
        if isinstance(value, str):  # most facts: first
            if own_word(value, self.secrets):
                return value
            return clean_for_sink(value, MAX_FACT_CHARS, self.secrets)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT else None
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if (
            isinstance(value, Mapping | list | tuple | set | frozenset)
            and depth >= MAX_MEMBER_DEPTH
        ):
            return None
        if isinstance(value, Mapping):
            members: dict[str, Any] = {}
            for key, item in islice(value.items(), MAX_MEMBER_ITEMS):
                name = self.name(key)
                if name is not None and name not in members:
                    members[name] = self.value(item, depth + 1)
            return members
        if isinstance(value, _SEQUENCES):
            return [self.value(item, depth + 1) for item in islice(value, MAX_MEMBER_ITEMS)]
        return self.value(_text(value), depth)

    def name(self, key: object) -> str | None:
        """A member name as it may leave; None when scrubbing found a
        credential in it: such a name says nothing a client dispatches on."""
        raw = key if isinstance(key, str) else _text(key)
        if raw is None:
            return None
        if own_word(raw, self.secrets):
            return raw
        name = clean_for_sink(raw, MAX_MEMBER_NAME_CHARS, self.secrets)
        if REDACTED in name and REDACTED not in raw:
            return None
        return name


def _text(value: object) -> str | None:
    """A value that is not text, as text the sink can search: bytes decoded
    (their repr would escape a secret into a form no sink looks for)."""
    try:
        if isinstance(value, bytes | bytearray):
            raw = bytes(value[: MAX_FACT_CHARS * SINK_WORK_FACTOR])
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        return str(value)
    except Exception:  # an object whose __str__ fails says nothing
        return None


def _fact(value: object, secrets: tuple[str, ...]) -> Any:
    return FactWalk(secrets).value(value)


# Members of the app's problem that ours replace.
_APP_MEMBERS_REPLACED = frozenset({"status", "detail", "error", "error_description"})


def _add(
    body: dict[str, Any],
    members: Mapping[str, object],
    walk: FactWalk,
    *,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Add `members` (facts, or the app's own) that `body` does not have yet."""
    for key, value in islice(members.items(), MAX_MEMBER_ITEMS * 2):
        if key in skip:
            continue
        name = walk.name(key)
        if name is not None and name not in body and name not in skip:
            body[name] = walk.value(value, 1)


def _encode(body: Mapping[str, Any]) -> bytes:
    # allow_nan=False: NaN and Infinity are not JSON (RFC 8259 §6); the walk
    # keeps them out, and this is the last guard.
    return json.dumps(body, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()


def problem_body(
    policy: Policy,
    failure: Failure,
    *,
    status: int,
    error: str | None,
    request_id: str,
    instance: str | None,
    secrets: tuple[str, ...] = (),
    app_status: int | None = None,
    text: str | None = None,
    description: str | None = None,
) -> bytes:
    """Encode the body. `secrets` (the request's) are scrubbed from every
    string, member names included, that came from the app or the request."""
    info = REASONS[failure.reason]
    if text is None:  # the caller may have it already (`detail`)
        text = detail(failure, secrets)
    body: dict[str, Any] = {
        "type": policy.problem_type(failure.reason.value),
        "title": info.title,
        "status": status,
    }
    walk = FactWalk(secrets)
    app = failure.app_problem
    if app and app_status == status:
        # The app already speaks RFC 9457 and we keep its status: its type,
        # title and instance are what its clients dispatch on.
        for member in ("type", "title", "instance"):
            if isinstance(app.get(member), str):
                body[member] = clean_for_sink(str(app[member]), MAX_FACT_CHARS, secrets)
    if policy.explain != "minimal":
        body["detail"] = text
    if instance is not None and "instance" not in body:
        body["instance"] = instance
    body["reason"] = failure.reason.value
    if policy.explain != "minimal":
        # Built from facts, some the app's (a scope): through the sink too.
        body["hint"] = clean_for_sink(hint(failure), MAX_HINT_CHARS, secrets)
        _add(body, failure.facts, walk)
    if policy.explain == "full":
        # Development: how we know, and what the unverified token's header
        # and time claims say (never identity claims such as `sub`).
        body["diagnosis"] = failure.source
        token = {
            key: walk.value(value)
            for key, value in failure.log_facts.items()
            if key not in policy.log_claims  # identity claims are for the log only
        }
        if token:
            body["token"] = token
    # The app's extension members (RFC 9457 §3.2) stay, scrubbed.
    _add(body, app or {}, walk, skip=_APP_MEMBERS_REPLACED)
    theirs = _app_words(failure, secrets)
    if (
        policy.explain != "minimal"
        and theirs
        and not _keeps_app_words(failure)
        and text != theirs
        and "app_detail" not in body
    ):
        body["app_detail"] = theirs  # the app's words survive
    body["request_id"] = request_id
    # OAuth 2.0 clients read these two (RFC 6749 §5.2 shape) where RFC 6750
    # (or RFC 9470) defines a code; where it says "no error code" (missing
    # credentials, another scheme, a plain 403) there is none here either.
    if error is not None:
        body["error"] = error
        if policy.explain != "minimal":
            # The caller's, scrubbed again where folding changed the text.
            body["error_description"] = description or rfc6750_text(text)
    try:
        return _encode(body)
    except (ValueError, TypeError, RecursionError):
        # Never reached by what the walk lets through; if it ever is, the
        # members we wrote ourselves still make a well-formed body.
        core = ("type", "title", "status", "detail", "reason", "request_id", "error")
        return _encode({key: body[key] for key in core if key in body})
