"""What the adapters share of `verify=`: enforce mode's step before the app
(`core.enforce` decides, this runs it through the runtime), and knowing
when verifying may block, so the ASGI adapter moves it off the event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from authhygiene._runtime import Runtime
from authhygiene._trouble import Trouble
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision
from authhygiene.core.enforce import Plan, admission, plan, read_credentials
from authhygiene.core.reasons import Reason
from authhygiene.core.request import Request
from authhygiene.core.verdict import Rejected, Verified, Verifier, chosen
from authhygiene.identity import Identity

# Verifiers that raise, reported to the default logger (`use_logger` is
# theirs to offer; one that raises may not).
_BROKEN = Trouble()
_RETRY_AFTER_S = 5

__all__ = ["Outcome", "blocks", "planned", "refusal_blocks", "settled", "verified"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Enforce mode's step before the app: a refusal to send (`decision`,
    rewrite=False in report-only mode: then the app runs all the same), or
    the app's turn, with the identity when a credential was verified."""

    decision: Decision | None = None
    identity: Identity | None = None


_PASS = Outcome()


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
    """The verdict. A verifier that broke its promise never to raise (an
    app's own, its database down) judged nothing: a server fault, 503,
    never the client's; the operator hears of it once a minute."""
    try:
        return verifier.verify(credential, time.time())
    except Exception as error:
        _BROKEN.report("verifier_error", error, checked_by=type(verifier).__name__)
        return Rejected(Reason.VERIFIER_UNAVAILABLE, {"retry_after": _RETRY_AFTER_S})


def settled(
    runtime: Runtime,
    request: Request,
    planned_: Plan,
    verdict: Verified | Rejected | None,
) -> Outcome:
    """Refuse (through the one refusal path) or admit, given the verdict."""
    if planned_.passed:
        return _PASS
    outcome = admission(runtime.policy, planned_, verdict)
    if outcome.answer is not None:
        return Outcome(decision=runtime.decide(request, outcome.answer, outcome.declared, verdict))
    if outcome.identity is None:
        return _PASS
    scheme = getattr(planned_.verifier, "scheme", None)
    return Outcome(identity=Identity(outcome.identity, scheme if isinstance(scheme, str) else None))


def refusal_blocks(runtime: Runtime, view: RequestView) -> bool:
    """Explain mode: whether explaining this refusal may wait on a
    verifier (the ASGI adapter then decides in a worker thread)."""
    policy = runtime.policy
    if not any(getattr(verifier, "may_block", False) for verifier in policy.verifiers):
        return False  # static keys, API keys: nothing to wait for
    found = chosen(policy.verifiers, read_credentials(policy, view))
    return found is not None and blocks(*found)
