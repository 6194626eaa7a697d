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

from dataclasses import dataclass

from authhygiene.core.answer import AppAnswer, Declared
from authhygiene.core.challenge import Challenge
from authhygiene.core.credentials import RequestView, parse_credentials
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Problem, Reason
from authhygiene.core.request import is_preflight
from authhygiene.core.requirements import Rule, Scopes
from authhygiene.core.verdict import Rejected, Verified, Verifier, chosen

__all__ = ["Admission", "Plan", "admission", "plan"]

_ANY = Scopes()


@dataclass(frozen=True, slots=True)
class Plan:
    """What enforce mode does with a request before anything is verified:
    pass it on untouched (`passed`), or check `credential` with `verifier`
    against `scopes` (None: no rule admits the request)."""

    passed: bool
    scopes: Scopes | None = None
    verifier: Verifier | None = None
    credential: str | None = None


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
    if is_preflight(view.method, view.get("access-control-request-method")):
        return _PASSED  # R20: a preflight never carries credentials
    scopes: Scopes | None = _ANY
    if policy.require.given:
        rule: Rule | None = policy.require.match(view.method, view.path)
        if rule is not None and rule.scopes is None:
            return _PASSED  # public
        scopes = rule.scopes if rule is not None else None
    credentials = parse_credentials(
        view,
        api_key_headers=policy.api_key_headers,
        session_cookies=policy.session_cookies,
        schemes=policy.schemes,
    )
    found = chosen(policy.verifiers, credentials)
    if found is None or credentials.misuse:
        # Nothing a verifier reads, or sent wrongly: the refusal path says which.
        return Plan(passed=False, scopes=scopes)
    return Plan(passed=False, scopes=scopes, verifier=found[0], credential=found[1])


def admission(policy: Policy, planned: Plan, verdict: Verified | Rejected | None) -> Admission:
    """What happens next, given what the verifier said (None: nothing was
    verified)."""
    if planned.passed:
        return Admission()
    if not isinstance(verdict, Verified):
        return Admission(answer=_refused_401(policy))
    if planned.scopes is None:
        return Admission(
            answer=AppAnswer(403),
            declared=Declared(
                Reason.FORBIDDEN, {"problem": Problem.NO_RULE_ADMITS.value}, source="require"
            ),
        )
    if planned.scopes.missing(verdict.scopes):
        # `diagnose` names every required scope (`_scope_lacking`).
        return Admission(answer=AppAnswer(403))
    return Admission(identity=verdict)


def _refused_401(policy: Policy) -> AppAnswer:
    """The app's answer enforce mode stands in for: a 401 challenging with
    the schemes the verifiers read (so "another scheme" names them)."""
    schemes = [
        scheme
        for verifier in policy.verifiers
        if isinstance(scheme := getattr(verifier, "scheme", None), str)
    ] or list(policy.schemes)
    challenges = [
        Challenge(scheme).with_params([("realm", policy.realm)]).render()
        for scheme in dict.fromkeys(schemes)
    ]
    return AppAnswer(401, tuple(("www-authenticate", value) for value in challenges))
