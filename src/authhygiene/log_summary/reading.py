"""Reading an auth-failure log: one pass, bounded, never failing on a line.

`summarise` reads the events the middleware logged, in any rendering
structlog writes (JSON, the console's, key=value, logfmt: see `formats`),
among other events, banners and tracebacks, and counts what a person
debugging a burst of refusals needs: failures by reason and status, the
clients, paths and credentials behind them, when they happened, how many
look like clock skew, and what the app's own answers get wrong.

The log is untrusted input (anyone can put a path or a user agent in it), so
the reader never fails on a line: text that holds no event, JSON that is not
an object, missing keys and wrong types are counted, not raised. Memory is
bounded: a line longer than `MAX_LINE_BYTES` is skipped and counted, stored
values are cut to `MAX_VALUE_CHARS`, each table stops taking new values at
`MAX_DISTINCT` (later new values are lumped, see `values_capped`), and time
buckets are coarsened while reading.

What counts:

- each line is read on its own (a log may mix renderings) and is one of:
  an event (counted per rendering), exception text (a traceback that
  follows an event, as the console rendering writes it), unreadable, or
  too long. The four add up to the lines read. A line that reads as two
  different events, or repeats a key, is unreadable (see `formats`).
- an `auth.failure` event is one failure; an `auth.failure.suppressed` event
  stands for `count` failures the rate limit kept out of the log (same
  reason, client and path), so it adds `count` to every table it has a key
  for, at its own time (else its `since`). It carries no credential
  fingerprint, scheme or clock-skew flag; one that merges many keys (a flood
  from many addresses) has no client or path, counted as null.
- `auth.report_only` events are counted apart (the app's answer went out
  unchanged), by reason and by the status the middleware `would_status`.
- `auth.misconfig` events are counted per `kind`, with their distinct `fix`
  texts (or `error`, for `invalid_options`) and paths.
- the lines of each of those event names are counted too (`event_lines`),
  so the header can show that they add up to the events read.
- the event name is read from `event`, else `message`, else `msg`; the time
  from `timestamp`, `@timestamp`, `time` or `ts` (`times.parse_time`).
- a line's length is measured as given (bytes, or characters for str),
  newline included.
- time buckets: the smallest width of 1s, 10s, 1m, 5m, 15m, 1h, 6h, 1d, 7d
  (then doubling) that covers the span in at most MAX_BUCKETS; a bucket
  spikes when it holds at least SPIKE_MIN_COUNT failures and more than
  SPIKE_FACTOR times the median of the non-empty buckets.

`summarise` hands the counts to `findings` for the sentences; the `Summary`
it returns carries both.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import replace
from enum import Enum
from typing import Generic, TypeVar

from authhygiene.core.events import Event
from authhygiene.log_summary.findings import findings
from authhygiene.log_summary.formats import (
    TIME_KEYS,
    Format,
    event_name,
    exception_line,
    exception_start,
    parse_line,
    plain,
)
from authhygiene.log_summary.summary import (
    TIME_REASONS,
    Bucket,
    Misconfig,
    ReasonSkew,
    ReasonStatus,
    Summary,
    Tally,
    Timeline,
)
from authhygiene.log_summary.times import parse_time

__all__ = [
    "BUCKET_WIDTHS",
    "MAX_BUCKETS",
    "MAX_DISTINCT",
    "MAX_LINE_BYTES",
    "MAX_VALUE_CHARS",
    "READ_EVENTS",
    "SPIKE_FACTOR",
    "SPIKE_MIN_COUNT",
    "parse_time",
    "summarise",
]

MAX_LINE_BYTES = 64 * 1024
MAX_VALUE_CHARS = 256
MAX_DISTINCT = 50_000
MAX_MISCONFIG_KINDS = 100
MAX_MISCONFIG_DETAILS = 5
MAX_SUPPRESSED_COUNT = 10**9
MAX_BUCKETS = 24
# Buckets are kept at the finest width that fits this many while reading.
MAX_LIVE_BUCKETS = 4096
# Each width divides the next, so counts can be re-bucketed exactly; past the
# last one the width doubles.
BUCKET_WIDTHS = (1, 10, 60, 300, 900, 3600, 21600, 86400, 604800)
SPIKE_FACTOR = 3
SPIKE_MIN_COUNT = 5

FAILURE_EVENT = Event.FAILURE.value
SUPPRESSED_EVENT = Event.FAILURE_SUPPRESSED.value
REPORT_ONLY_EVENT = Event.REPORT_ONLY.value
REPORT_ONLY_SUPPRESSED_EVENT = Event.REPORT_ONLY_SUPPRESSED.value
MISCONFIG_EVENT = Event.MISCONFIG.value
# The event names the summary reads, in the order the header lists them.
READ_EVENTS = (
    FAILURE_EVENT,
    SUPPRESSED_EVENT,
    REPORT_ONLY_EVENT,
    REPORT_ONLY_SUPPRESSED_EVENT,
    MISCONFIG_EVENT,
)

_DIGITS_RE = re.compile(r"[0-9]{1,12}")


# --- bounded counting ------------------------------------------------------

K = TypeVar("K", bound=Hashable)


class _Capped(Generic[K]):
    """A Counter that stops taking new keys at MAX_DISTINCT: an enormous or hostile
    log cannot grow memory without bound. Counts of keys seen before the cap
    stay exact; what no longer fits is added to `overflow`."""

    __slots__ = ("cap", "counts", "overflow")

    def __init__(self) -> None:
        self.cap = MAX_DISTINCT
        self.counts: Counter[K] = Counter()
        self.overflow = 0

    def add(self, key: K, n: int = 1) -> None:
        if key in self.counts or len(self.counts) < self.cap:
            self.counts[key] += n
        else:
            self.overflow += n


def _sort_key(item: tuple[object, int]) -> tuple[int, bool, str]:
    # Most first; ties by value, so the same log always prints the same way.
    return (-item[1], item[0] is None, str(item[0]))


def _ranked(counts: Mapping[K, int]) -> list[tuple[K, int]]:
    return sorted(((key, n) for key, n in counts.items() if n > 0), key=_sort_key)


class _Clock:
    """Failures per time bucket, at the finest width that keeps at most
    MAX_LIVE_BUCKETS buckets while reading (the final width is chosen from
    the span at the end)."""

    __slots__ = ("by_reason", "counts", "first", "last", "width")

    def __init__(self) -> None:
        self.width = BUCKET_WIDTHS[0]
        self.counts: Counter[int] = Counter()
        self.by_reason: _Capped[tuple[int, str | None]] = _Capped()
        self.first: float | None = None
        self.last: float | None = None

    def add(self, moment: float, reason: str | None, n: int) -> None:
        self.first = moment if self.first is None else min(self.first, moment)
        self.last = moment if self.last is None else max(self.last, moment)
        start = _floor(moment, self.width)
        self.counts[start] += n
        self.by_reason.add((start, reason), n)
        if len(self.counts) > MAX_LIVE_BUCKETS:
            self._regroup(_wider(self.width))

    def _regroup(self, width: int) -> None:
        self.width = width
        counts: Counter[int] = Counter()
        for start, n in self.counts.items():
            counts[_floor(start, width)] += n
        by_reason: _Capped[tuple[int, str | None]] = _Capped()
        by_reason.overflow = self.by_reason.overflow
        for (start, reason), n in self.by_reason.counts.items():
            by_reason.add((_floor(start, width), reason), n)
        self.counts, self.by_reason = counts, by_reason

    def timeline(self) -> Timeline | None:
        if self.first is None or self.last is None:
            return None
        width = self.width
        while _floor(self.last, width) - _floor(self.first, width) >= MAX_BUCKETS * width:
            width = _wider(width)
        if width != self.width:
            self._regroup(width)
        tops: dict[int, tuple[str | None, int]] = {}
        for (start, reason), n in _ranked(self.by_reason.counts):
            tops.setdefault(start, (reason, n))
        median = float(statistics.median(n for n in self.counts.values() if n > 0))
        first = _floor(self.first, width)
        buckets = []
        for start in range(first, _floor(self.last, width) + width, width):
            n = self.counts.get(start, 0)
            reason, reason_n = tops.get(start, (None, 0))
            spike = n >= SPIKE_MIN_COUNT and n > SPIKE_FACTOR * median
            buckets.append(Bucket(start, n, spike, reason, reason_n))
        return Timeline(width, self.first, self.last, median, tuple(buckets))


def _floor(moment: float, width: int) -> int:
    return int(moment // width) * width


def _wider(width: int) -> int:
    for candidate in BUCKET_WIDTHS:
        if candidate > width:
            return candidate
    return width * 2


# --- reading values that may be anything -----------------------------------


def _text(value: object) -> str | None:
    """A value as text for counting, or None when it is missing or a list or
    object (nothing sensible to count it as)."""
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS] if value else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        # json.loads refuses ints too long to print, and `formats` reads
        # at most 20 digits, so repr cannot fail here.
        return repr(value)[:MAX_VALUE_CHARS]
    return None


def _integer(value: object) -> int | None:
    """An int, an integral float or a string of digits (some JSON loggers
    stringify numbers), never a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _status(value: object) -> int | None:
    status = _integer(value)
    return status if status is not None and 100 <= status <= 599 else None


def _count(value: object) -> int:
    count = _integer(value)
    return 0 if count is None or count < 0 else min(count, MAX_SUPPRESSED_COUNT)


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _when(event: Mapping[str, object]) -> float | None:
    for key in TIME_KEYS:
        if key in event and (moment := parse_time(event[key])) is not None:
            return moment
    return None


# --- the running count -----------------------------------------------------


class _Misconfigs:
    __slots__ = ("counts", "fixes", "paths")

    def __init__(self) -> None:
        self.counts: Counter[str | None] = Counter()
        self.paths: dict[str | None, list[str]] = {}
        self.fixes: dict[str | None, list[str]] = {}

    def add(self, event: Mapping[str, object]) -> None:
        kind = _text(event.get("kind"))
        if kind not in self.counts and len(self.counts) >= MAX_MISCONFIG_KINDS:
            return
        self.counts[kind] += 1
        _remember(self.paths.setdefault(kind, []), _text(event.get("path")))
        fix = _text(event.get("fix")) or _text(event.get("error"))
        _remember(self.fixes.setdefault(kind, []), fix)

    def freeze(self) -> tuple[Misconfig, ...]:
        return tuple(
            Misconfig(kind, n, tuple(self.paths[kind]), tuple(self.fixes[kind]))
            for kind, n in _ranked(self.counts)
        )


def _remember(seen: list[str], value: str | None) -> None:
    if value is not None and value not in seen and len(seen) < MAX_MISCONFIG_DETAILS:
        seen.append(value)


class _Keyed:
    """Failures per value of one key, and per (value, reason) pair so each
    top value can say what its failures mostly were."""

    __slots__ = ("pairs", "values")

    def __init__(self) -> None:
        self.values: _Capped[str | None] = _Capped()
        self.pairs: _Capped[tuple[str | None, str | None]] = _Capped()

    def add(self, value: str | None, reason: str | None, n: int) -> None:
        self.values.add(value, n)
        self.pairs.add((value, reason), n)

    def top(self, limit: int) -> tuple[Tally, ...]:
        ranked = _ranked(self.values.counts)[:limit]
        wanted = {value for value, _ in ranked}
        tops: dict[str | None, tuple[str | None, int]] = {}
        for (value, reason), n in _ranked(self.pairs.counts):
            if value in wanted:
                tops.setdefault(value, (reason, n))
        return tuple(Tally(value, n, *tops.get(value, (None, 0))) for value, n in ranked)

    @property
    def capped(self) -> bool:
        return bool(self.values.overflow or self.pairs.overflow)


class _After(Enum):
    """What the lines before this one were, for telling exception text apart."""

    NOTHING = "nothing"  # no event yet, or a line that is neither
    EVENT = "event"  # an event: a traceback may start here
    EXCEPTION = "exception"  # inside the text of an exception, until the next event


class _Reader:
    """The mutable state of one pass over the log."""

    def __init__(self) -> None:
        self.lines = self.unreadable = self.too_long = self.exception_lines = 0
        self.formats: Counter[Format] = Counter()
        self.event_lines: Counter[str] = Counter()
        self.after = _After.NOTHING
        self.other_events = self.logged = self.suppressed = self.suppressed_events = 0
        self.reasons: _Capped[str | None] = _Capped()
        self.statuses: _Capped[int | None] = _Capped()
        self.reason_status: _Capped[tuple[str | None, int | None]] = _Capped()
        self.clients, self.paths, self.fingerprints = _Keyed(), _Keyed(), _Keyed()
        # What was wrong with the credentials sent (`problem`: token_in_query,
        # doubled_scheme, ...); only logged events carry it.
        self.problems = _Keyed()
        self.schemes: _Capped[str | None] = _Capped()
        self.time_related = 0
        self.skew_flagged: _Capped[str | None] = _Capped()
        self.skew_suspected: _Capped[str | None] = _Capped()
        self.clock = _Clock()
        self.untimed = 0
        self.report_only = 0
        self.would_status: _Capped[int | None] = _Capped()
        self.report_reasons: _Capped[str | None] = _Capped()
        self.misconfig = _Misconfigs()

    def read(self, line: str | bytes) -> None:
        self.lines += 1
        if len(line) > MAX_LINE_BYTES:
            self.too_long += 1
            return
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        parsed = parse_line(text)
        if parsed is None:
            self._not_event(plain(text))
            return
        self.after = _After.EVENT
        self.formats[parsed.format] += 1
        self._event(parsed.event)

    def _not_event(self, text: str) -> None:
        """A line without an event: part of an exception's text when it
        follows an event the way a traceback does, else unreadable."""
        if self.after is _After.EXCEPTION and exception_line(text):
            self.exception_lines += 1
        elif self.after is _After.EVENT and exception_start(text):
            self.exception_lines += 1
            self.after = _After.EXCEPTION
        else:
            # Inside a traceback, a line of a multi-line message may follow.
            self.unreadable += 1
            if self.after is _After.EVENT:
                self.after = _After.NOTHING

    def _event(self, event: Mapping[str, object]) -> None:
        name = event_name(event)
        if name in READ_EVENTS:
            self.event_lines[name] += 1
        if name == FAILURE_EVENT:
            self.logged += 1
            self._failure(event, 1, suppressed=False)
        elif name == SUPPRESSED_EVENT:
            self.suppressed_events += 1
            count = _count(event.get("count"))
            self.suppressed += count
            if count:
                self._failure(event, count, suppressed=True)
        elif name == REPORT_ONLY_EVENT:
            self.report_only += 1
            self.would_status.add(_status(event.get("would_status")))
            self.report_reasons.add(_text(event.get("reason")))
        elif name == REPORT_ONLY_SUPPRESSED_EVENT:
            # Report-only events the log's rate limit counted instead of
            # writing; the summary carries the app's status, not ours.
            count = _count(event.get("count"))
            self.report_only += count
            self.report_reasons.add(_text(event.get("reason")), count)
            self.would_status.add(None, count)
        elif name == MISCONFIG_EVENT:
            self.misconfig.add(event)
        else:
            self.other_events += 1

    def _failure(self, event: Mapping[str, object], n: int, *, suppressed: bool) -> None:
        reason = _text(event.get("reason"))
        status = _status(event.get("status"))
        self.reasons.add(reason, n)
        self.statuses.add(status, n)
        self.reason_status.add((reason, status), n)
        self.clients.add(_text(event.get("client")), reason, n)
        self.paths.add(_text(event.get("path")), reason, n)
        fingerprint = _text(event.get("credential_fingerprint"))
        if fingerprint is not None:
            self.fingerprints.add(fingerprint, reason, n)
        if not suppressed:
            self.schemes.add(_text(event.get("scheme")), n)
            problem = _text(event.get("problem"))
            if problem is not None:
                self.problems.add(problem, reason, n)
        flag = _flag(event.get("clock_skew_suspected"))
        if reason in TIME_REASONS or flag is not None:
            self.time_related += n
        if flag is not None:
            self.skew_flagged.add(reason, n)
            if flag:
                self.skew_suspected.add(reason, n)
        # A suppressed summary is written when its window closes: the
        # failures it stands for happened up to then, from `since`.
        moment = _when(event)
        if moment is None and suppressed:
            moment = parse_time(event.get("since"))
        if moment is None:
            self.untimed += n
        else:
            self.clock.add(moment, reason, n)

    def summary(self, top: int) -> Summary:
        keyed = (self.clients, self.paths, self.fingerprints, self.problems)
        tables = (self.reasons, self.statuses, self.reason_status, self.schemes)
        capped = any(k.capped for k in keyed) or any(t.overflow for t in tables)
        summary = Summary(
            lines=self.lines,
            json_objects=self.formats[Format.JSON],
            unreadable=self.unreadable,
            too_long=self.too_long,
            other_events=self.other_events,
            logged=self.logged,
            suppressed=self.suppressed,
            suppressed_events=self.suppressed_events,
            by_reason=tuple(Tally(r, n) for r, n in _ranked(self.reasons.counts)),
            by_status=tuple(_ranked(self.statuses.counts)),
            by_reason_status=tuple(
                ReasonStatus(r, s, n) for (r, s), n in _ranked(self.reason_status.counts)
            ),
            top_clients=self.clients.top(top),
            top_paths=self.paths.top(top),
            top_fingerprints=self.fingerprints.top(top),
            schemes=tuple(Tally(s, n) for s, n in _ranked(self.schemes.counts)[:top]),
            distinct_clients=len(self.clients.values.counts),
            distinct_paths=len(self.paths.values.counts),
            distinct_fingerprints=len(self.fingerprints.values.counts),
            distinct_schemes=len(self.schemes.counts),
            time_related=self.time_related,
            skew_flagged=sum(self.skew_flagged.counts.values()),
            skew_suspected=sum(self.skew_suspected.counts.values()),
            skew_by_reason=tuple(
                ReasonSkew(r, n, self.skew_suspected.counts.get(r, 0))
                for r, n in _ranked(self.skew_flagged.counts)
            ),
            timeline=self.clock.timeline(),
            untimed=self.untimed,
            report_only=self.report_only,
            report_only_by_would_status=tuple(_ranked(self.would_status.counts)),
            report_only_by_reason=tuple(
                Tally(r, n) for r, n in _ranked(self.report_reasons.counts)
            ),
            misconfig=self.misconfig.freeze(),
            values_capped=capped,
            findings=(),
            problems=self.problems.top(top),
            console_events=self.formats[Format.CONSOLE],
            key_value_events=self.formats[Format.KEY_VALUE],
            exception_lines=self.exception_lines,
            event_lines=tuple((n, self.event_lines[n]) for n in READ_EVENTS if self.event_lines[n]),
        )
        return replace(summary, findings=findings(summary))


def summarise(lines: Iterable[str | bytes], *, top: int = 10) -> Summary:
    """Count the failures in `lines` (each one log line, newline or not;
    bytes are read as UTF-8 with bad bytes replaced) in one pass."""
    if top < 1:
        raise ValueError("top must be at least 1")
    reader = _Reader()
    for line in lines:
        reader.read(line)
    return reader.summary(top)
