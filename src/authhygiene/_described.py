"""What the three adapters share of `protected_resource=` and `profile=`:
both answer before anything else runs (the CORS step, the throttle,
enforce mode, the app), and both go through here.

- The metadata document (`core.resource.metadata_answer`) is served to
  anyone: never behind auth, never counted by the throttle, never a 401.
  The adapters look for it only when the raw path holds the well-known
  segment, so no other request decodes anything for it.
- The profile's refusals (`core.mcp.profile_refusal`) take the one refusal
  path (`Runtime.decide`): problem body, no-store, one log event.
"""

from __future__ import annotations

import contextlib

from authhygiene._runtime import Runtime
from authhygiene.core.answer import AppAnswer
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision
from authhygiene.core.mcp import may_refuse, profile_refusal
from authhygiene.core.reasons import REASONS
from authhygiene.core.request import Request
from authhygiene.core.resource import WELL_KNOWN, MetadataAnswer, metadata_answer

__all__ = ["WELL_KNOWN", "described", "profile_refused"]


def described(runtime: Runtime, view: RequestView) -> MetadataAnswer | None:
    """The metadata answer to `view`, or None: not a well-known request (or
    no `protected_resource=`, or `report_only=True`). Never raises: a request we cannot describe
    goes on to the app, which answers it as it would without us."""
    resource = runtime.policy.protected_resource
    if resource is None or runtime.policy.report_only:
        return None  # report-only changes nothing on the wire: the app answers
    with contextlib.suppress(Exception):
        return metadata_answer(resource, runtime.policy.trusted_proxies, view)
    return None


def profile_refused(
    runtime: Runtime, request: Request, path: str, query: str, has_origin: bool
) -> Decision | None:
    """`profile=`'s refusal of the request before the app, recorded; None
    when the profile lets it through. In report-only mode the decision does
    not rewrite: the app runs, and the log says what would have changed.
    `path`, `query` and `has_origin` are read raw, so that a request the
    profile cannot refuse is never decoded (the success path)."""
    try:
        if not may_refuse(runtime.policy, path, query, has_origin):
            return None
        declared = profile_refusal(runtime.policy, request.decoded())
    except Exception:  # a server's odd request: the app judges it
        return None
    if declared is None:
        return None
    answer = AppAnswer(REASONS[declared.reason].status)
    return runtime.decide(request, answer, declared)
