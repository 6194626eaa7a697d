"""The names of the structlog events authhygiene writes: one place, so
the writer (the adapters' runtime), the log reader (`authhygiene
log-summary`) and the docs agree on them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Event"]


class Event(StrEnum):
    """Every event name authhygiene logs (OWASP's logging vocabulary is in
    each event's `owasp_event` field, not in its name)."""

    # One refused request, answered by us.
    FAILURE = "auth.failure"
    # One refused request in report-only mode: what would have changed.
    REPORT_ONLY = "auth.report_only"
    # The counts of failures the flood gate did not log one by one.
    FAILURE_SUPPRESSED = "auth.failure.suppressed"
    REPORT_ONLY_SUPPRESSED = "auth.report_only.suppressed"
    # A request refused 429 because its client or credential failed too often.
    THROTTLED = "auth.throttled"
    # Shadow mode: a request the throttle would have refused, let through.
    THROTTLE_SHADOW = "auth.throttle.shadow"
    # Configuration or an app answer that some clients misread.
    MISCONFIG = "auth.misconfig"
