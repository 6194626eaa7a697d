"""Enforce mode (`mode="enforce"`): refuse before the app, or admit with
an identity.

Sans-I/O in two steps, so an adapter can run the one that may block (a
verifier fetching keys, hashing a password) where it will not stall others:
`plan` reads the request and says what to verify; `admission` turns the
verifier's verdict into what happens next. A refusal goes through the one
refusal path (`Runtime.decide`) as the app's answer it stands in for: the
same reasons, challenges, body and log as when the app refuses.

Authentication comes before authorization: a request no rule admits is
answered 401 while it carries no valid credential, and 403 once it does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from authhygiene.core.answer import AppAnswer, Declared
from authhygiene.core.challenge import Challenge
from authhygiene.core.credentials import (
    MAX_HEADER_CHARS,
    QUERY_TOKEN_PARAMS,
    TOKEN_SCHEMES,
    Credentials,
    RequestView,
    parse_credentials,
)
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Problem, Reason
from authhygiene.core.request import is_preflight
from authhygiene.core.requirements import Rule, Scopes
from authhygiene.core.verdict import Rejected, Verified, Verifier, chosen

__all__ = ["Admission", "Plan", "admission", "plan", "read_credentials"]

_ANY = Scopes()


@dataclass(frozen=True, slots=True)
class Plan:
    """What enforce mode does with a request before anything is verified:
    pass it on untouched (`passed`), or check `credential` with `verifier`
    against `scopes` (None: no rule admits the request)."""

    passed: bool
    scopes: Scopes | None = None
    verifier: Verifier | None = None
    credential: str | None = field(default=None, repr=False)  # secret
    # A credential no verifier reads (a cookie, another API-key header, a
    # token in the query): what the refusal says of it.
    unread: Mapping[str, object] | None = None


_PASSED = Plan(passed=True)


@dataclass(frozen=True, slots=True)
class Admission:
    """The app's turn with `identity` (the verified claims), or a refusal:
    `answer` is the app's answer it stands in for, `declared` its reason
    when the request alone does not say it."""

    identity: Verified | None = None
    answer: AppAnswer | None = None
    declared: Declared | None = None

    @property
    def refused(self) -> bool:
        return self.answer is not None


def plan(policy: Policy, view: RequestView) -> Plan:
    """Whether `view` needs a credential, and which one to verify."""
    if view.get("origin") and is_preflight(view.method, view.get("access-control-request-method")):
        # R20: a preflight never carries credentials, and its answer is the
        # CORS layer's (with `cors=`, ours, before the app runs).
        return _PASSED
    scopes: Scopes | None = _ANY
    if policy.require.given:
        rule: Rule | None = policy.require.match(
            view.method, view.route if view.route is not None else view.path
        )
        if rule is not None and rule.scopes is None:
            return _PASSED  # public
        scopes = rule.scopes if rule is not None else None
    alone = _bearer_alone(view)
    if alone is not None:
        found = chosen(policy.verifiers, alone)
        if found is not None:
            return Plan(passed=False, scopes=scopes, verifier=found[0], credential=found[1])
    credentials = read_credentials(policy, view)
    found = chosen(policy.verifiers, credentials)
    if found is None or credentials.misuse:
        # Nothing a verifier reads, or sent wrongly: the refusal path says which.
        return Plan(passed=False, scopes=scopes, unread=_unread(credentials))
    return Plan(passed=False, scopes=scopes, verifier=found[0], credential=found[1])


def read_credentials(policy: Policy, view: RequestView) -> Credentials:
    """The request's credentials as the policy reads them (its API-key
    headers, session cookies and schemes), before any app has answered."""
    return parse_credentials(
        view,
        api_key_headers=policy.api_key_headers,
        session_cookies=policy.session_cookies,
        schemes=policy.schemes,
    )


def admission(policy: Policy, planned: Plan, verdict: Verified | Rejected | None) -> Admission:
    """What happens next, given what the verifier said (None: nothing was
    verified)."""
    if planned.passed:
        return Admission()
    if not isinstance(verdict, Verified):
        declared = None
        if verdict is None and planned.unread is not None:
            facts = {**planned.unread, "accepted_schemes": _schemes(policy)}
            declared = Declared(Reason.CREDENTIALS_MISSING, facts, source="enforce")
        return Admission(answer=_refused_401(policy), declared=declared)
    if planned.scopes is None:
        return Admission(
            answer=AppAnswer(403),
            declared=Declared(
                Reason.FORBIDDEN, {"problem": Problem.NO_RULE_ADMITS.value}, source="require"
            ),
        )
    if planned.scopes.missing(verdict.scopes):
        if getattr(planned.verifier, "scheme", None) not in TOKEN_SCHEMES:
            # An API key or a user's password carries no scopes: no token
            # with more of them would do (RFC 6750 §3 speaks of tokens).
            facts = {"problem": Problem.SCOPES_NOT_CARRIED.value}
            return Admission(
                answer=AppAnswer(403), declared=Declared(Reason.FORBIDDEN, facts, source="require")
            )
        # `diagnose` names every required scope (`_scope_lacking`).
        return Admission(answer=AppAnswer(403))
    return Admission(identity=verdict)


def _refused_401(policy: Policy) -> AppAnswer:
    """The app's answer enforce mode stands in for: a 401 challenging with
    the schemes the verifiers read (so "another scheme" names them)."""
    challenges = [
        Challenge(scheme).with_params([("realm", policy.realm)]).render()
        for scheme in _schemes(policy)
    ]
    return AppAnswer(401, tuple(("www-authenticate", value) for value in challenges))


# RFC 6750 §2.1: b64token.
_B64TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_QUERY_TOKEN_RE = re.compile("|".join(QUERY_TOKEN_PARAMS), re.IGNORECASE)


def _bearer_alone(view: RequestView) -> Credentials | None:
    """The common request, read in a fraction of `parse_credentials`: one
    `Authorization: Bearer <b64token>` field and no token in the query.
    None for anything else (the full reading then finds what is wrong with
    it). Only the admission path takes this: a refusal is explained from
    the full reading."""
    values = view.get_all("authorization")
    if len(values) != 1:
        return None
    value = values[0]
    query = view.query
    if (
        not value.startswith("Bearer ")
        or len(value) > MAX_HEADER_CHARS
        or _B64TOKEN_RE.fullmatch(value, 7) is None
        # A token parameter in the query, spelled out or percent-encoded.
        or (query and ("%" in query or _QUERY_TOKEN_RE.search(query)))
    ):
        return None
    return Credentials("Bearer", value[7:], "header")


def _schemes(policy: Policy) -> list[str]:
    """The schemes the verifiers read, each once (the policy's without any)."""
    schemes = [
        scheme
        for verifier in policy.verifiers
        if isinstance(scheme := getattr(verifier, "scheme", None), str)
    ]
    return list(dict.fromkeys(schemes or policy.schemes))


def _unread(credentials: Credentials) -> Mapping[str, object] | None:
    """What the refusal says of a credential no verifier reads; None where
    the request path explains it better (nothing sent, sent wrongly, another
    scheme named in the Authorization header)."""
    if credentials.misuse or credentials.scheme is not None or credentials.unnamed_scheme:
        return None
    if credentials.source == "query":
        return {"problem": Problem.TOKEN_IN_QUERY.value}
    if credentials.api_key_header is not None:
        return {
            "problem": Problem.CREDENTIALS_NOT_READ.value,
            "sent_header": credentials.api_key_header,
        }
    if credentials.session_cookie is not None:
        return {
            "problem": Problem.CREDENTIALS_NOT_READ.value,
            "sent_cookie_name": credentials.session_cookie,
        }
    return None
