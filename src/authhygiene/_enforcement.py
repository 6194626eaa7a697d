"""What the adapters share of `verify=`: enforce mode's step before the app
(`core.enforce` decides, this runs it through the runtime), and knowing
when verifying may block, so the ASGI adapter moves it off the event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from authhygiene._runtime import Runtime
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision
from authhygiene.core.enforce import Plan, admission, plan, read_credentials
from authhygiene.core.request import Request
from authhygiene.core.verdict import Rejected, Verified, Verifier, choices, telling
from authhygiene.identity import Identity

__all__ = [
    "PREFLIGHT_HEADERS",
    "Outcome",
    "blocks",
    "plan_blocks",
    "planned",
    "refusal_blocks",
    "settled",
    "verified",
    "verified_plan",
]

# A preflight enforce mode answers itself: 204, granting nothing (no
# Access-Control-Allow-*: the browser keeps the cross-origin call from
# leaving), never a 401, and no view runs for it.
PREFLIGHT_HEADERS = (
    ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
    ("cache-control", "no-store"),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Enforce mode's step before the app: a refusal to send (`decision`,
    rewrite=False in report-only mode: then the app runs all the same), or
    the app's turn, with the identity when a credential was verified."""

    decision: Decision | None = None
    identity: Identity | None = None
    # Answer the CORS preflight with 204 and `PREFLIGHT_HEADERS`.
    preflight: bool = False


_PASS = Outcome()
_PREFLIGHT = Outcome(preflight=True)


def planned(runtime: Runtime, view: RequestView) -> Plan:
    return plan(runtime.policy, view)


def blocks(verifier: Verifier, credential: str) -> bool:
    """Whether verifying `credential` may wait (keys to fetch, a password
    hash, the app's own check): see each verifier's `needs_io`."""
    needs_io = getattr(verifier, "needs_io", None)
    if needs_io is None:
        return False
    try:
        return bool(needs_io(credential, time.time()))
    except Exception:
        return True  # unsure: the worker thread costs little, a stalled loop a lot


def verified(verifier: Verifier, credential: str) -> Verified | Rejected | None:
    """The verdict (the runtime's verifiers are `Guarded`: one that raises
    is a 503 `verifier_unavailable`, reported once a minute)."""
    return verifier.verify(credential, time.time())


def plan_blocks(planned_: Plan) -> bool:
    """Whether verifying the plan's credential may wait (any verifier)."""
    return any(blocks(verifier, credential) for verifier, credential in planned_.choices)


def verified_plan(planned_: Plan) -> tuple[Verifier | None, Verified | Rejected | None]:
    """Each of the plan's verifiers in turn until one accepts (two issuers'
    JWT verifiers); else the first one's rejection. (None, None) when there
    is nothing to verify."""
    first: tuple[Verifier | None, Verified | Rejected | None] = (None, None)
    for verifier, credential in planned_.choices:
        verdict = verified(verifier, credential)
        if isinstance(verdict, Verified):
            return verifier, verdict
        reported = first[1] if isinstance(first[1], Rejected) else None
        if isinstance(verdict, Rejected) and telling(reported, verdict) is verdict:
            first = (verifier, verdict)
    return first


def settled(
    runtime: Runtime,
    request: Request,
    planned_: Plan,
    by: Verifier | None,
    verdict: Verified | Rejected | None,
    *,
    record: bool = True,
) -> Outcome:
    """Refuse (through the one refusal path) or admit, given what `by` said.
    `record`: as `Runtime.decide`'s (False when the throttle counts first)."""
    if planned_.passed:
        return _PASS
    if planned_.preflight:
        # Report-only changes nothing on the wire: the app's CORS layer answers.
        return _PASS if runtime.policy.report_only else _PREFLIGHT
    outcome = admission(runtime.policy, planned_, verdict, by)
    if outcome.answer is not None:
        decision = runtime.decide(request, outcome.answer, outcome.declared, verdict, record=record)
        return Outcome(decision=decision)
    if outcome.identity is None:
        return _PASS
    scheme = getattr(by, "scheme", None)
    return Outcome(identity=Identity(outcome.identity, scheme if isinstance(scheme, str) else None))


def refusal_blocks(runtime: Runtime, view: RequestView) -> bool:
    """Explain mode: whether explaining this refusal may wait on a
    verifier (the ASGI adapter then decides in a worker thread)."""
    policy = runtime.policy
    if not policy.verifiers_may_block:
        return False  # static keys, API keys: nothing to wait for
    found = choices(policy.verifiers, read_credentials(policy, view))
    return any(blocks(verifier, credential) for verifier, credential in found)
