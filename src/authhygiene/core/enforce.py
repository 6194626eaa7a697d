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
from authhygiene.core.verdict import Rejected, Verified, Verifier, choices

__all__ = ["Admission", "Plan", "admission", "plan", "read_credentials"]

_ANY = Scopes()


@dataclass(frozen=True, slots=True)
class Plan:
    """What enforce mode does with a request before anything is verified:
    pass it on untouched (`passed`); answer a CORS preflight itself
    (`preflight`); or try `choices` (verifiers and the credential each
    checks) against `scopes` (None: no rule admits the request). On a
    public route (`public`) a credential is verified to hand the app its
    identity, and never refused."""

    passed: bool
    scopes: Scopes | None = None
    choices: tuple[tuple[Verifier, str], ...] = field(default=(), repr=False)  # secret
    # A credential no verifier reads (a cookie, another API-key header, a
    # token in the query): what the refusal says of it.
    unread: Mapping[str, object] | None = None
    public: bool = False
    preflight: bool = False

    @property
    def verifier(self) -> Verifier | None:
        return self.choices[0][0] if self.choices else None

    @property
    def credential(self) -> str | None:
        return self.choices[0][1] if self.choices else None


_PASSED = Plan(passed=True)
_PREFLIGHT = Plan(passed=False, preflight=True)


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
    rule: Rule | None = None
    if policy.require.given:
        rule = policy.require.match(
            view.method, view.route if view.route is not None else view.path
        )
    public = rule is not None and rule.scopes is None
    if _preflight(view):
        # R20: never a 401. A public rule lets it reach the app's CORS
        # layer; elsewhere it is answered here, granting nothing, so no
        # view runs for a request no credential came with (with `cors=`,
        # the CORS step answers it before this one).
        return _PASSED if public else _PREFLIGHT
    scopes: Scopes | None = (
        rule.scopes if rule is not None else (None if policy.require.given else _ANY)
    )
    alone = _bearer_alone(view)
    if alone is not None and policy.verifiers[0].credential(alone):
        # The first verifier reads the Bearer token: the full reading
        # would name the same credential.
        found = choices(policy.verifiers, alone)
    else:
        credentials = read_credentials(policy, view)
        found = () if credentials.misuse else choices(policy.verifiers, credentials)
        if not found and not public:
            # Nothing a verifier reads, or sent wrongly: the refusal path says which.
            return Plan(passed=False, scopes=scopes, unread=_unread(credentials))
    if public:
        # A password check costs by design (scrypt, the app's database): a
        # public route stays cheap and never calls it for a caller's name.
        found = tuple(choice for choice in found if getattr(choice[0], "scheme", None) != "Basic")
        return Plan(passed=False, choices=found, public=True) if found else _PASSED
    return Plan(passed=False, scopes=scopes, choices=found)


def read_credentials(policy: Policy, view: RequestView) -> Credentials:
    """The request's credentials as the policy reads them (its API-key
    headers, session cookies and schemes), before any app has answered."""
    return parse_credentials(
        view,
        api_key_headers=policy.api_key_headers,
        session_cookies=policy.session_cookies,
        schemes=policy.schemes,
    )


def _preflight(view: RequestView) -> bool:
    """A CORS preflight as a browser sends it: `OPTIONS` with an `Origin`
    and the method it asks for."""
    method = view.get("access-control-request-method")
    return (
        bool(view.get("origin"))
        and bool(method and method.strip())
        and is_preflight(view.method, method)
    )


def admission(
    policy: Policy,
    planned: Plan,
    verdict: Verified | Rejected | None,
    by: Verifier | None = None,
) -> Admission:
    """What happens next, given what the verifier (`by`, the plan's first
    when not given) said; None: nothing was verified."""
    if planned.passed or planned.preflight:
        return Admission()
    if planned.public:
        # Never refused; a valid credential still tells the app who calls.
        return Admission(identity=verdict if isinstance(verdict, Verified) else None)
    by = by if by is not None else planned.verifier
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
        if getattr(by, "scheme", None) not in TOKEN_SCHEMES:
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
    return list(policy.verifier_schemes or dict.fromkeys(policy.schemes))


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
