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
from collections.abc import Mapping
from typing import Any

from authhygiene.core.challenge import rfc6750_text
from authhygiene.core.diagnose import Failure
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import REASONS, Reason
from authhygiene.core.redact import scrub

__all__ = ["CONTENT_TYPE", "detail", "explanation", "hint", "problem_body"]

CONTENT_TYPE = "application/problem+json"
MAX_FACT_CHARS = 256

_MISUSE_DETAIL = {
    "empty_token": "The Authorization header names a scheme but carries no credential.",
    "multiple_authorization_headers": "The request carried more than one Authorization header.",
    "token_in_header_and_query": (
        "The token was sent both in the Authorization header and in the query string;"
        " send it once (RFC 6750 §3.1)."
    ),
    "doubled_scheme": "The Authorization header repeats the scheme word ('Bearer Bearer ...').",
    "quoted_token": "The token is wrapped in quotes; send it bare.",
    "whitespace_in_token": "The token contains whitespace or a line break.",
    "invalid_characters": (
        "The token contains characters a bearer token cannot have (RFC 6750 §2.1)."
    ),
    "oversized": "The Authorization header is too large to be examined.",
    "basic_not_base64": "The Basic credentials are not the base64 of 'user:password' (RFC 7617).",
}


def _first(values: object) -> object:
    return values[0] if isinstance(values, list | tuple) and values else None


def _schemes_text(schemes: object) -> str:
    if isinstance(schemes, list | tuple) and schemes:
        return ", ".join(str(s) for s in schemes)
    return "Bearer"


def explanation(failure: Failure) -> str:
    """Our own sentence for `detail` when the app gave none."""
    facts = failure.facts
    reason = failure.reason
    if reason is Reason.CREDENTIALS_MISSING and facts.get("problem") == "credentials_not_read":
        if facts.get("sent_header"):
            what = f"an API key in the '{facts['sent_header']}' header"
        elif facts.get("scheme"):
            what = f"'Authorization: {facts['scheme']} ...'"
        else:
            what = "a session cookie"
        return f"This request carried {what}, but not in a form this API reads."
    if (
        reason is Reason.CREDENTIALS_MISSING
        and facts.get("problem") == "token_in_query"
        and _first(facts.get("accepted_schemes")) in _API_KEY_SCHEMES
    ):
        return (
            "The key was sent in the query string, which this API does not read; send it in"
            " the request header this API reads."
        )
    if reason is Reason.CREDENTIALS_MISSING and facts.get("problem") == "token_in_query":
        return (
            "The token was sent in the query string, which this API does not read; send it"
            f" in the Authorization header ({_schemes_text(facts.get('accepted_schemes'))})."
        )
    if reason is Reason.CREDENTIALS_MISSING and facts.get("problem") == "api_key_in_wrong_header":
        expected = facts.get("expected_headers")
        names = ", ".join(str(name) for name in expected) if isinstance(expected, list) else "?"
        return (
            f"An API key was sent in the '{facts.get('sent_header')}' header; this API reads"
            f" it from {names}."
        )
    if reason is Reason.CREDENTIALS_MISSING:
        return (
            "This request carried no credentials; this API accepts"
            f" {_schemes_text(facts.get('accepted_schemes'))}."
        )
    if reason is Reason.SCHEME_NOT_ACCEPTED:
        accepted = facts.get("accepted_schemes")
        return (
            f"The request used the '{facts.get('scheme', '?')}' scheme; this API accepts"
            f" {_schemes_text(accepted)}."
        )
    if reason is Reason.CREDENTIALS_MALFORMED and str(facts.get("problem")) in _MISUSE_DETAIL:
        return _MISUSE_DETAIL[str(facts["problem"])]
    if reason is Reason.TOKEN_EXPIRED and "expired_at" in facts:
        ago = facts.get("expired_seconds_ago")
        text = f"The token expired at {facts['expired_at']}"
        text += f", {ago} s before this request" if isinstance(ago, int) else ""
        if facts.get("clock_skew_suspected"):
            text += (
                "; if it was issued moments ago, this server's clock may be ahead of the issuer's"
            )
        return text + "."
    if reason is Reason.TOKEN_NOT_YET_VALID and "valid_in_seconds" in facts:
        wait = facts.get("valid_in_seconds")
        since = facts.get("not_before") or facts.get("issued_at")
        text = f"The token is not valid for another {wait} s (from {since})"
        if facts.get("clock_skew_suspected"):
            text += ": the issuer's clock may be ahead of this server's"
        return text + "."
    if reason is Reason.TOKEN_ALGORITHM_REJECTED and facts.get("alg"):
        accepted = facts.get("accepted_algorithms")
        tail = f"; this API accepts {_schemes_text(accepted)}" if accepted else ""
        if str(facts["alg"]).lower() == "none":
            return f"The token is unsigned ('alg': 'none'), which is never accepted{tail}."
        return f"The token is signed with '{facts['alg']}', which is not accepted{tail}."
    if reason is Reason.CREDENTIALS_INVALID and facts.get("problem") == "not_a_jwt":
        return "The token is not a JWT (three base64url parts separated by dots)."
    if reason is Reason.INSUFFICIENT_SCOPE and facts.get("required_scope"):
        return f"This resource requires the scope '{facts['required_scope']}'."
    return REASONS[reason].title + "."


def detail(failure: Failure, secrets: tuple[str, ...] = ()) -> str:
    """One sentence on what was wrong. The app's own words lead it when they
    agree with the diagnosis; where the request, the token or a library's
    exception tell us more (or tell us otherwise), our sentence stands
    alone and the app's words are kept as `app_detail`."""
    ours = explanation(failure)
    theirs = scrub(failure.app_detail, secrets) if failure.app_detail else None
    if theirs is None:
        return ours
    if ours == REASONS[failure.reason].title + ".":
        return theirs  # we know no more than the app said
    if _keeps_app_words(failure):
        return f"{theirs.rstrip('. ')}: {ours[0].lower()}{ours[1:]}"
    return ours


def _keeps_app_words(failure: Failure) -> bool:
    source = failure.source
    if source.startswith("exception:"):
        return False  # a library's internal text (R13); ours says it better
    if failure.facts.get("problem") == "credentials_not_read":
        return False  # the app said "not provided"; the request carried some
    if source == "request":
        return failure.words is failure.reason  # "Not authenticated" + nothing carried
    return source == "jwt-claims" or (
        source.startswith(("recogniser:", "app:")) and bool(failure.facts)
    )


# What to do about a specific problem the request showed.
_PROBLEM_HINTS = {
    "doubled_scheme": "Remove the second scheme word: send 'Authorization: {scheme} <token>'.",
    "quoted_token": "Send the token without quotes: 'Authorization: {scheme} <token>'.",
    "whitespace_in_token": "Send the token on one line, with no spaces or line breaks inside it.",
    "empty_token": "Put the token after the scheme word: 'Authorization: {scheme} <token>'.",
    "basic_not_base64": "Send 'Authorization: Basic ' followed by base64('user:password').",
    "multiple_authorization_headers": "Send one Authorization header, not several.",
    "token_in_header_and_query": "Send the token once, in the Authorization header only.",
    "token_in_query": (
        "Move the token from the URL to the header: 'Authorization: {scheme} <token>'."
    ),
    "api_key_in_wrong_header": "Send the API key in the {expected} header.",
    "not_a_jwt": "Send the JWT access token issued for this API, not another kind of token.",
    "credentials_not_read": "Send the credentials the way this API reads them: {accepted}.",
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
        return "Send the API key in the request header this API reads (e.g. 'X-API-Key: <key>')."
    problem = str(facts.get("problem"))
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


def _fact(value: object, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_fact(item, secrets) for item in value[:32]]
    return scrub(str(value)[:MAX_FACT_CHARS], secrets)


def _app_value(value: object, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {str(k)[:64]: _app_value(v, secrets) for k, v in list(value.items())[:32]}
    return _fact(value, secrets)


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
) -> bytes:
    """Encode the body. `secrets` (the request's token) are scrubbed from
    every string that came from the app or the request."""
    info = REASONS[failure.reason]
    text = detail(failure, secrets)
    body: dict[str, Any] = {
        "type": policy.problem_type(failure.reason.value),
        "title": info.title,
        "status": status,
    }
    app = failure.app_problem
    if app and app_status == status:
        # The app already speaks RFC 9457 and we keep its status: its type,
        # title and instance are what its clients dispatch on.
        for member in ("type", "title", "instance"):
            if isinstance(app.get(member), str):
                body[member] = scrub(str(app[member])[:MAX_FACT_CHARS], secrets)
    if policy.explain != "minimal":
        body["detail"] = text
    if instance is not None and "instance" not in body:
        body["instance"] = instance
    body["reason"] = failure.reason.value
    if policy.explain != "minimal":
        body["hint"] = hint(failure)
        facts: Mapping[str, object] = failure.facts
        for key, value in facts.items():
            if key not in body:
                body[key] = _fact(value, secrets)
    if policy.explain == "full":
        # Development: how we know, and what the unverified token's header
        # and time claims say (never identity claims such as `sub`).
        body["diagnosis"] = failure.source
        token = {
            key: _fact(value, secrets)
            for key, value in failure.log_facts.items()
            if key not in policy.log_claims  # identity claims are for the log only
        }
        if token:
            body["token"] = token
    for key, value in (app or {}).items():
        # The app's extension members (RFC 9457 §3.2) stay, scrubbed.
        if key not in body and key not in ("status", "detail", "error", "error_description"):
            body[key] = _app_value(value, secrets)
    if (
        policy.explain != "minimal"
        and failure.app_detail
        and not _keeps_app_words(failure)
        and text != scrub(failure.app_detail, secrets)
        and "app_detail" not in body
    ):
        body["app_detail"] = scrub(failure.app_detail, secrets)  # the app's words survive
    body["request_id"] = request_id
    # OAuth 2.0 clients read these two (RFC 6749 §5.2 shape) where RFC 6750
    # (or RFC 9470) defines a code; where it says "no error code" (missing
    # credentials, another scheme, a plain 403) there is none here either.
    if error is not None:
        body["error"] = error
        if policy.explain != "minimal":
            body["error_description"] = rfc6750_text(text)
    return json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=str).encode()
