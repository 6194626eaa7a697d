"""What a summary holds: frozen rows of counts, read by the findings, the text and the JSON.

The types live apart from the reader so the findings can depend on them
while the reader depends on the findings (a summary carries its findings).
"""

from __future__ import annotations

from dataclasses import dataclass

from authhygiene.core.reasons import Reason

__all__ = [
    "TIME_REASONS",
    "Bucket",
    "Misconfig",
    "ReasonSkew",
    "ReasonStatus",
    "Summary",
    "Tally",
    "Timeline",
]

# The reasons that `time_related` counts whether or not the event carries the
# clock-skew flag, and whose findings are phrased from the clock-skew counts.
TIME_REASONS = frozenset({Reason.TOKEN_EXPIRED, Reason.TOKEN_NOT_YET_VALID})


@dataclass(frozen=True, slots=True)
class Tally:
    """How often one value (a client, path, fingerprint, reason, ...) occurs
    among the failures, and the reason most of its failures had."""

    value: str | None
    count: int
    top_reason: str | None = None
    top_reason_count: int = 0


@dataclass(frozen=True, slots=True)
class ReasonStatus:
    reason: str | None
    status: int | None
    count: int


@dataclass(frozen=True, slots=True)
class ReasonSkew:
    """Of one reason's logged failures: how many carry `clock_skew_suspected`
    and how many of those have it true."""

    reason: str | None
    flagged: int
    suspected: int


@dataclass(frozen=True, slots=True)
class Bucket:
    start: int  # epoch seconds, UTC, a multiple of the timeline's width
    count: int
    spike: bool
    top_reason: str | None
    top_reason_count: int


@dataclass(frozen=True, slots=True)
class Timeline:
    width_s: int
    first: float
    last: float
    median: float
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True, slots=True)
class Misconfig:
    kind: str | None
    count: int
    paths: tuple[str, ...]
    fixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything `summarise` counted, and the findings that say what it means."""

    lines: int
    json_objects: int  # lines read as a JSON event
    unreadable: int
    too_long: int
    other_events: int
    logged: int
    suppressed: int
    suppressed_events: int
    by_reason: tuple[Tally, ...]
    by_status: tuple[tuple[int | None, int], ...]
    by_reason_status: tuple[ReasonStatus, ...]
    top_clients: tuple[Tally, ...]
    top_paths: tuple[Tally, ...]
    top_fingerprints: tuple[Tally, ...]
    schemes: tuple[Tally, ...]
    distinct_clients: int
    distinct_paths: int
    distinct_fingerprints: int
    distinct_schemes: int
    time_related: int
    skew_flagged: int
    skew_suspected: int
    skew_by_reason: tuple[ReasonSkew, ...]
    timeline: Timeline | None
    untimed: int
    report_only: int
    report_only_by_would_status: tuple[tuple[int | None, int], ...]
    report_only_by_reason: tuple[Tally, ...]
    misconfig: tuple[Misconfig, ...]
    values_capped: bool
    findings: tuple[str, ...]
    # The `problem` the logged failures' credentials showed, most common first.
    problems: tuple[Tally, ...] = ()
    # Events per rendering besides JSON's `json_objects` (see `formats`).
    console_events: int = 0
    key_value_events: int = 0
    # Lines of a traceback under an event, neither events nor unreadable.
    exception_lines: int = 0
    # Lines per event name the summary reads (auth.failure, ...), in the
    # order of `reading.READ_EVENTS`, those seen only; the rest of the
    # events are `other_events`.
    event_lines: tuple[tuple[str, int], ...] = ()

    @property
    def failures(self) -> int:
        """Logged failures plus those the rate limit kept out of the log."""
        return self.logged + self.suppressed

    @property
    def events(self) -> int:
        """Lines read as an event, in any rendering."""
        return self.json_objects + self.console_events + self.key_value_events
