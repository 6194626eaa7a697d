"""Summarise an auth-failure log: why are we getting 401s?

`summarise` reads the JSON lines the middleware wrote (or any structlog JSON
log with other events, banners and tracebacks interleaved) and counts what a
person debugging a burst of refusals needs: failures by reason and status,
the clients, paths and credentials behind them, when they happened, how many
look like clock skew, and what the app's own answers get wrong. `findings`
turns those numbers into a few sentences; every sentence is derived from a
count in the same summary, none is guessed.

The log is untrusted input (anyone can put a path or a user agent in it), so
the reader never fails on a line: text that is not JSON, JSON that is not an
object, missing keys and wrong types are counted, not raised. Memory is
bounded: a line longer than `MAX_LINE_BYTES` is skipped and counted, stored
values are cut to `MAX_VALUE_CHARS`, each table stops taking new values at
`MAX_DISTINCT` (later new values are lumped, see `values_capped`), and time
buckets are coarsened while reading. `render_text` escapes every value read
from the log, so a hostile line cannot write terminal escapes or fake lines.

What counts:

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
- the event name is read from `event`, else `message`, else `msg`; the time
  from `timestamp`, `@timestamp`, `time` or `ts`: ISO 8601 (a time without
  an offset is taken as UTC) or epoch seconds (numbers too large to be
  seconds are read as milliseconds, microseconds or nanoseconds).
- a line with a prefix before its JSON object (a container runtime's
  timestamp, a syslog header) is read from its first ``{``.
- a line's length is measured as given (bytes, or characters for str),
  newline included.
- time buckets: the smallest width of 1s, 10s, 1m, 5m, 15m, 1h, 6h, 1d, 7d
  (then doubling) that covers the span in at most MAX_BUCKETS; a bucket
  spikes when it holds at least SPIKE_MIN_COUNT failures and more than
  SPIKE_FACTOR times the median of the non-empty buckets.

`to_json` returns a dict with these keys, stable across versions of the
same `schema`:

- ``schema``: 1.
- ``lines``: ``read``, ``json_objects``, ``unreadable`` (not a JSON object),
  ``too_long`` (skipped, longer than ``max_line_bytes``), ``other_events``,
  ``max_line_bytes``.
- ``failures``: ``total`` (logged + suppressed), ``logged``, ``suppressed``,
  ``suppressed_events``.
- ``by_reason`` [{reason, count}], ``by_status`` [{status, count}],
  ``by_reason_status`` [{reason, status, count}]: all failures, most first;
  a missing or unreadable value is null.
- ``top_clients`` [{client, count, top_reason, top_reason_count}] (the
  `top` most frequent; top_reason is the reason most of them had),
  ``top_paths`` [{path, ...}], ``top_credential_fingerprints``
  [{credential_fingerprint, ...}], ``schemes`` [{scheme, count}], and
  ``distinct`` {clients, paths, credential_fingerprints, schemes}.
- ``clock_skew``: ``time_related`` (failures whose reason is token_expired or
  token_not_yet_valid, or whose event carries the flag), ``flagged`` (logged
  failures carrying ``clock_skew_suspected``), ``suspected`` (flag true),
  ``share_of_time_related`` (suspected / flagged), ``share_of_failures``
  (suspected / total), ``by_reason`` [{reason, flagged, suspected}]; shares
  are null when their denominator is 0.
- ``timeline``: null when no failure had a readable time, else
  ``bucket_s``, ``first``, ``last`` (ISO 8601 UTC), ``median`` (of non-empty
  buckets), ``spike_factor``, ``buckets`` [{start, count, spike, top_reason,
  top_reason_count}] from the first bucket to the last, empty ones included.
- ``untimed``: failures without a readable time.
- ``report_only``: ``total``, ``by_would_status`` [{status, count}],
  ``by_reason`` [{reason, count}].
- ``misconfig`` [{kind, count, paths, fixes}].
- ``values_capped``: true when some table hit `MAX_DISTINCT` and later new
  values were lumped out of it.
- ``findings``: the plain-English sentences.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Generic, TypeVar

__all__ = [
    "MAX_LINE_BYTES",
    "Bucket",
    "Misconfig",
    "ReasonSkew",
    "ReasonStatus",
    "Summary",
    "Tally",
    "Timeline",
    "parse_time",
    "render_text",
    "safe",
    "summarise",
    "to_json",
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
DOMINANT_SHARE = 0.5
NOTABLE_REASON_SHARE = 0.25
MAX_REASON_FINDINGS = 3
MIN_FINDING_COUNT = 3

FAILURE = "auth.failure"
SUPPRESSED = "auth.failure.suppressed"
REPORT_ONLY = "auth.report_only"
MISCONFIG = "auth.misconfig"

TIME_REASONS = frozenset({"token_expired", "token_not_yet_valid"})
_EVENT_KEYS = ("event", "message", "msg")
_TIME_KEYS = ("timestamp", "@timestamp", "time", "ts")
_MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z
_NUMBER_RE = re.compile(r"[0-9]{1,20}(?:\.[0-9]{0,9})?")
_DIGITS_RE = re.compile(r"[0-9]{1,12}")
_MAX_TIME_CHARS = 64

# What a reason means for whoever runs the API: the second half of a finding.
# token_expired and token_not_yet_valid are phrased from the clock-skew counts.
_ADVICE = {
    "credentials_missing": "clients are not sending credentials at all; check that the"
    " client attaches the Authorization header and that no proxy, redirect or CORS"
    " preflight strips it",
    "scheme_not_accepted": "clients send credentials in a scheme this API does not accept"
    " (see Schemes)",
    "credentials_malformed": "clients send malformed credentials (an empty Bearer, two"
    " Authorization headers, a quoted token, or the token twice)",
    "credentials_invalid": "the app rejects the credentials themselves (an unknown key, a"
    " wrong password or an unreadable token)",
    "token_signature_invalid": "tokens are signed with a key this server does not accept;"
    " check signing-key rotation, the keys (JWKS) this server trusts, and which issuer"
    " the clients use",
    "token_audience_mismatch": "tokens were issued for another audience; compare the"
    " audience the clients request with the one this server expects",
    "token_issuer_mismatch": "tokens come from another issuer; check that clients and this"
    " server use the same identity provider (not staging against production)",
    "token_algorithm_rejected": "tokens are signed with an algorithm this server refuses",
    "token_revoked": "the tokens were revoked; the clients must obtain new ones",
    "session_expired": "sessions expired; the users must sign in again",
    "insufficient_scope": "tokens lack the scope the endpoint requires; check the scopes"
    " the clients request (a permission problem, not an authentication one)",
    "step_up_required": "the endpoint requires a stronger or more recent authentication"
    " than the token carries",
    "forbidden": "authenticated callers are refused; a permission problem, not an"
    " authentication one",
    "client_blocked": "the clients are blocked by policy",
    "too_many_failures": "clients are refused after repeated failures; look at what failed before",
}

# What each auth.misconfig kind the middleware logs means; its `fix`, when
# the event has one, says what to change.
_KIND_MEANING = {
    "401_without_challenge": "the app answers 401 without a WWW-Authenticate challenge"
    " (RFC 9110 requires one; the middleware adds it on the wire)",
    "403_for_missing_credentials": "the app answers 403 to requests without credentials,"
    " where 401 with a challenge is due",
    "app_challenge_invalid": "the app's WWW-Authenticate challenge does not parse",
    "cacheable_failure": "the app's auth failures allow caching",
    "preflight_refused": "the app's auth refuses CORS preflights",
    "cors_wildcard_with_credentials": "the app allows any origin (*) with credentials",
    "cors_any_origin_with_credentials": "the app's CORS layer reflects any origin with credentials",
    "cors_configured_twice": "two CORS layers are configured",
    "invalid_options": "the middleware's options are invalid",
}


# --- the result ------------------------------------------------------------


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
    """Everything `summarise` counted; `findings` says what it means."""

    lines: int
    json_objects: int
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

    @property
    def failures(self) -> int:
        """Logged failures plus those the rate limit kept out of the log."""
        return self.logged + self.suppressed


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
        # json.loads refuses ints too long to print, so repr cannot fail here.
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


def _epoch(value: float) -> float | None:
    if not math.isfinite(value) or value < 0:
        return None
    # Seconds until 5138; beyond that the number is in a finer unit.
    for scale in (1.0, 1e3, 1e6, 1e9):
        if value < 1e11 * scale:
            return value / scale
    return None


def parse_time(value: object) -> float | None:
    """Epoch seconds (UTC) from an ISO 8601 string or an epoch number, or None."""
    moment: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = _epoch(float(value))
        except OverflowError:
            return None
    elif isinstance(value, str) and len(value) <= _MAX_TIME_CHARS:
        moment = _iso_time(value.strip())
    if moment is None or not 0 <= moment <= _MAX_EPOCH:
        return None
    return moment


def _iso_time(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return _epoch(float(text)) if _NUMBER_RE.fullmatch(text) else None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _when(event: Mapping[str, object]) -> float | None:
    for key in _TIME_KEYS:
        if key in event and (moment := parse_time(event[key])) is not None:
            return moment
    return None


def _name(event: Mapping[str, object]) -> str | None:
    for key in _EVENT_KEYS:
        value = event.get(key)
        if isinstance(value, str):
            return value
    return None


def _parse(line: str) -> dict[str, object] | None:
    start = line.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(line[start:])
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


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


class _Reader:
    """The mutable state of one pass over the log."""

    def __init__(self) -> None:
        self.lines = self.json_objects = self.unreadable = self.too_long = 0
        self.other_events = self.logged = self.suppressed = self.suppressed_events = 0
        self.reasons: _Capped[str | None] = _Capped()
        self.statuses: _Capped[int | None] = _Capped()
        self.reason_status: _Capped[tuple[str | None, int | None]] = _Capped()
        self.clients, self.paths, self.fingerprints = _Keyed(), _Keyed(), _Keyed()
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
        event = _parse(text)
        if event is None:
            self.unreadable += 1
            return
        self.json_objects += 1
        name = _name(event)
        if name == FAILURE:
            self.logged += 1
            self._failure(event, 1, suppressed=False)
        elif name == SUPPRESSED:
            self.suppressed_events += 1
            count = _count(event.get("count"))
            self.suppressed += count
            if count:
                self._failure(event, count, suppressed=True)
        elif name == REPORT_ONLY:
            self.report_only += 1
            self.would_status.add(_status(event.get("would_status")))
            self.report_reasons.add(_text(event.get("reason")))
        elif name == MISCONFIG:
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
        keyed = (self.clients, self.paths, self.fingerprints)
        tables = (self.reasons, self.statuses, self.reason_status, self.schemes)
        capped = any(k.capped for k in keyed) or any(t.overflow for t in tables)
        summary = Summary(
            lines=self.lines,
            json_objects=self.json_objects,
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
        )
        return replace(summary, findings=_findings(summary))


def summarise(lines: Iterable[str | bytes], *, top: int = 10) -> Summary:
    """Count the failures in `lines` (each one log line, newline or not;
    bytes are read as UTF-8 with bad bytes replaced) in one pass."""
    if top < 1:
        raise ValueError("top must be at least 1")
    reader = _Reader()
    for line in lines:
        reader.read(line)
    return reader.summary(top)


# --- findings --------------------------------------------------------------


def _findings(summary: Summary) -> tuple[str, ...]:
    """Sentences that answer "why are we getting 401s?", each derived from
    the counts in `summary`, most telling first."""
    total = summary.failures
    out: list[str] = []
    if summary.lines and not summary.json_objects:
        out.append(
            f"no line is a JSON object ({_n(summary.lines, 'line')} read); this command reads"
            " JSON lines (structlog's JSONRenderer), not console-rendered logs"
        )
    if total:
        out.extend(_reason_findings(summary, total))
        out.extend(_concentration_findings(summary, total))
        out.extend(_spike_findings(summary))
    if summary.suppressed:
        out.append(
            f"the log's rate limit kept {_n(summary.suppressed, 'failure')} out of it"
            f" ({_n(summary.suppressed_events, 'auth.failure.suppressed event')}); the"
            " counts above include them"
        )
    if summary.report_only:
        out.append(
            f"report-only mode logged {_n(summary.report_only, 'refusal')} and left the"
            " app's answers unchanged; they are not counted as failures above"
        )
    out.extend(_misconfig_findings(summary))
    return tuple(out)


def _reason_findings(summary: Summary, total: int) -> list[str]:
    out = []
    for tally in summary.by_reason[:MAX_REASON_FINDINGS]:
        share = tally.count / total
        if share < NOTABLE_REASON_SHARE or tally.count < MIN_FINDING_COUNT:
            break
        head = f"{_pct(tally.count, total)} of failures ({tally.count:,} of {total:,}) are"
        out.append(f"{head} {_shown(tally.value)}: {_advice(summary, tally.value)}")
    return out


def _advice(summary: Summary, reason: str | None) -> str:
    if reason in TIME_REASONS:
        return _time_advice(summary, reason)
    if reason is None:
        return "the events name no reason"
    return _ADVICE.get(reason, "see the events' diagnosis field")


def _time_advice(summary: Summary, reason: str | None) -> str:
    skew = next((s for s in summary.skew_by_reason if s.reason == reason), None)
    expired = reason == "token_expired"
    if skew is None or not skew.flagged:
        return (
            "clients keep using tokens after they expire; check that they refresh them"
            if expired
            else "tokens are used before they become valid (nbf/iat in the future)"
        )
    within = (
        f"{_pct(skew.suspected, skew.flagged)} of those ({skew.suspected:,} of"
        f" {skew.flagged:,} with the flag) are within the clock-skew window"
    )
    if skew.suspected / skew.flagged >= DOMINANT_SHARE:
        return f"{within}; check NTP on the clients, the token issuer and this server"
    if expired:
        return f"{within}; most are long expired: check that clients refresh their tokens"
    return f"{within}; most are far from valid: check the nbf/iat the issuer writes"


def _concentration_findings(summary: Summary, total: int) -> list[str]:
    out = []
    if summary.top_fingerprints:
        top = summary.top_fingerprints[0]
        if _dominant(top.count, total):
            out.append(
                f"one credential (fingerprint {_shown(top.value)}) accounts for"
                f" {_pct(top.count, total)} of failures ({top.count:,} of {total:,})"
                f"{_mostly(top)}: one client (or one shared credential) keeps retrying"
                " the same rejected credential"
            )
    if summary.top_clients and summary.top_clients[0].value is not None:
        top = summary.top_clients[0]
        if _dominant(top.count, total):
            out.append(
                f"one client address ({_shown(top.value)}) accounts for"
                f" {_pct(top.count, total)} of failures ({top.count:,} of {total:,})"
                f"{_mostly(top)}: a single caller, or a proxy that hides the callers'"
                " addresses"
            )
    if summary.distinct_paths > 1 and summary.top_paths[0].value is not None:
        top = summary.top_paths[0]
        if _dominant(top.count, total):
            out.append(
                f"{_pct(top.count, total)} of failures ({top.count:,} of {total:,}) are on"
                f" one path, {_shown(top.value)}{_mostly(top)}"
            )
    return out


def _dominant(count: int, total: int) -> bool:
    return count >= MIN_FINDING_COUNT and count / total >= DOMINANT_SHARE


def _led(reason: str | None, reason_count: int, count: int) -> bool:
    """One reason makes up most of these failures (a named one)."""
    return reason is not None and count > 0 and reason_count / count >= DOMINANT_SHARE


def _mostly(tally: Tally) -> str:
    if not _led(tally.top_reason, tally.top_reason_count, tally.count):
        return ""
    return f", {_pct(tally.top_reason_count, tally.count)} of them {tally.top_reason}"


def _spike_findings(summary: Summary) -> list[str]:
    timeline = summary.timeline
    if timeline is None:
        return [f"no failure carries a readable time ({summary.untimed:,} without one)"]
    spikes = sorted((b for b in timeline.buckets if b.spike), key=lambda b: (-b.count, b.start))
    if not spikes:
        return []
    peak = spikes[0]
    text = (
        f"failures spike at {_iso(peak.start)} ({_width(timeline.width_s)} bucket):"
        f" {peak.count:,}, {peak.count / timeline.median:.0f}x the median bucket"
        f" ({timeline.median:g})"
    )
    if _led(peak.top_reason, peak.top_reason_count, peak.count):
        text += f", {_pct(peak.top_reason_count, peak.count)} of them {peak.top_reason}"
    if len(spikes) > 1:
        text += f"; {len(spikes) - 1} more bucket(s) spike too"
    return [text]


def _misconfig_findings(summary: Summary) -> list[str]:
    out = []
    for item in summary.misconfig:
        what = _KIND_MEANING.get(item.kind or "", "see the event")
        where = f" (e.g. on {item.paths[0]})" if item.paths else ""
        fix = f"; fix: {item.fixes[0]}" if item.fixes else ""
        out.append(f"misconfiguration {_shown(item.kind)}{where}: {what}{fix}")
    return out


# --- formatting ------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "-"
    percent = round(100 * part / whole)
    if percent == 0 and part:
        return "<1%"
    if percent == 100 and part < whole:
        return ">99%"
    return f"{percent}%"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _shown(value: str | None) -> str:
    return "(missing)" if value is None else value


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _width(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe(value: object, limit: int = 80) -> str:
    """`value` as one line of printable text, at most `limit` characters:
    control characters, ANSI escapes, bidi overrides and every other
    non-printable character become repr-style escapes (``\\x1b``)."""
    out: list[str] = []
    size = 0
    for char in str(value):
        if char in _ESCAPES:
            piece = _ESCAPES[char]
        elif char.isprintable():
            piece = char
        else:
            piece = _escape(ord(char))
        if size + len(piece) > limit:
            out.append("...")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _label(value: str | None, limit: int = 60) -> str:
    return "(missing)" if value is None else safe(value, limit)


def _status_label(status: int | None) -> str:
    return "?" if status is None else str(status)


def render_text(summary: Summary) -> str:
    """The summary for a terminal: findings first, then the tables."""
    sections = [
        _header(summary),
        _findings_section(summary),
        _reason_section(summary),
        _keyed_section("Top clients", summary.top_clients, summary.distinct_clients, summary),
        _keyed_section("Top paths", summary.top_paths, summary.distinct_paths, summary),
        _keyed_section(
            "Top credential fingerprints",
            summary.top_fingerprints,
            summary.distinct_fingerprints,
            summary,
        ),
        _scheme_section(summary),
        _skew_section(summary),
        _timeline_section(summary),
        _report_only_section(summary),
        _misconfig_section(summary),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _header(summary: Summary) -> str:
    lines = [
        f"{_n(summary.lines, 'line')} read: {_n(summary.json_objects, 'JSON event')},"
        f" {summary.unreadable:,} unreadable, {summary.too_long:,} too long"
        f" (over {MAX_LINE_BYTES:,} bytes), {_n(summary.other_events, 'other event')}",
    ]
    if summary.failures:
        lines.append(
            f"{_n(summary.failures, 'auth failure')}: {summary.logged:,} logged,"
            f" {summary.suppressed:,} suppressed by the log's rate limit"
        )
    else:
        lines.append("no auth.failure events found")
    if summary.values_capped:
        lines.append(
            f"(more than {MAX_DISTINCT:,} distinct values in a table: later new ones"
            " are not listed)"
        )
    return "\n".join(lines)


def _findings_section(summary: Summary) -> str:
    if not summary.findings:
        return ""
    return "Findings\n" + "\n".join(f"  - {safe(f, 400)}" for f in summary.findings)


def _reason_section(summary: Summary) -> str:
    if not summary.by_reason_status:
        return ""
    total = summary.failures
    rows = [
        f"  {_label(row.reason, 32):<32} {_status_label(row.status):>3}"
        f" {row.count:>9,} {_pct(row.count, total):>5}"
        for row in summary.by_reason_status
    ]
    return "By reason and status\n" + "\n".join(rows)


def _keyed_section(title: str, rows: tuple[Tally, ...], distinct: int, summary: Summary) -> str:
    if not rows:
        return ""
    total = summary.failures
    lines = [f"{title} ({distinct:,} distinct)"]
    for row in rows:
        mostly = f"  mostly {_label(row.top_reason, 32)}" if _mostly(row) else ""
        lines.append(f"  {row.count:>9,} {_pct(row.count, total):>5}  {_label(row.value)}{mostly}")
    return "\n".join(lines)


def _scheme_section(summary: Summary) -> str:
    if not summary.schemes:
        return ""
    logged = summary.logged
    rows = [
        f"  {row.count:>9,} {_pct(row.count, logged):>5}  "
        + ("(no credentials or scheme)" if row.value is None else safe(row.value, 40))
        for row in summary.schemes
    ]
    return "Schemes (logged failures)\n" + "\n".join(rows)


def _skew_section(summary: Summary) -> str:
    if not summary.time_related:
        return ""
    return (
        "Clock skew\n"
        f"  {summary.time_related:,} time-related failures; {summary.skew_flagged:,} carry"
        f" clock_skew_suspected, true for {summary.skew_suspected:,}"
        f" ({_pct(summary.skew_suspected, summary.skew_flagged)} of those,"
        f" {_pct(summary.skew_suspected, summary.failures)} of all failures)"
    )


def _timeline_section(summary: Summary) -> str:
    timeline = summary.timeline
    if timeline is None:
        return "Timeline\n  no failure carries a readable time" if summary.failures else ""
    peak = max(b.count for b in timeline.buckets)
    lines = [
        f"Timeline (UTC, {_width(timeline.width_s)} buckets, {_iso(timeline.first)} to"
        f" {_iso(timeline.last)}, median {timeline.median:g}; {summary.untimed:,} untimed)"
    ]
    for bucket in timeline.buckets:
        bar = "#" * (math.ceil(40 * bucket.count / peak) if bucket.count else 0)
        mark = "  <- spike" if bucket.spike else ""
        if bucket.spike and _led(bucket.top_reason, bucket.top_reason_count, bucket.count):
            mark += f", mostly {_label(bucket.top_reason, 32)}"
        lines.append(f"  {_iso(bucket.start)} {bucket.count:>9,} {bar}{mark}")
    return "\n".join(lines)


def _report_only_section(summary: Summary) -> str:
    if not summary.report_only:
        return ""
    statuses = ", ".join(
        f"{_status_label(s)}: {n:,}" for s, n in summary.report_only_by_would_status
    )
    reasons = ", ".join(
        f"{_label(t.value, 32)}: {t.count:,}" for t in summary.report_only_by_reason
    )
    return (
        f"Report-only ({_n(summary.report_only, 'event')}, answered unchanged)\n"
        f"  would answer: {statuses}\n"
        f"  reasons: {safe(reasons, 400)}"
    )


def _misconfig_section(summary: Summary) -> str:
    if not summary.misconfig:
        return ""
    lines = ["Misconfiguration (auth.misconfig)"]
    for item in summary.misconfig:
        paths = ", ".join(safe(p, 60) for p in item.paths)
        lines.append(
            f"  {_label(item.kind, 40)} x{item.count:,}" + (f" on {paths}" if paths else "")
        )
        lines.extend(f"    fix: {safe(fix, 400)}" for fix in item.fixes)
    return "\n".join(lines)


# --- JSON ------------------------------------------------------------------


def _tallies(key: str, rows: tuple[Tally, ...], *, reasons: bool) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for row in rows:
        item: dict[str, object] = {key: row.value, "count": row.count}
        if reasons:
            item["top_reason"] = row.top_reason
            item["top_reason_count"] = row.top_reason_count
        out.append(item)
    return out


def _statuses(rows: tuple[tuple[int | None, int], ...]) -> list[dict[str, object]]:
    return [{"status": status, "count": n} for status, n in rows]


def to_json(summary: Summary) -> dict[str, object]:
    """The summary as plain JSON types, keys as in the module docstring."""
    timeline = summary.timeline
    return {
        "schema": 1,
        "lines": {
            "read": summary.lines,
            "json_objects": summary.json_objects,
            "unreadable": summary.unreadable,
            "too_long": summary.too_long,
            "other_events": summary.other_events,
            "max_line_bytes": MAX_LINE_BYTES,
        },
        "failures": {
            "total": summary.failures,
            "logged": summary.logged,
            "suppressed": summary.suppressed,
            "suppressed_events": summary.suppressed_events,
        },
        "by_reason": _tallies("reason", summary.by_reason, reasons=False),
        "by_status": _statuses(summary.by_status),
        "by_reason_status": [
            {"reason": r.reason, "status": r.status, "count": r.count}
            for r in summary.by_reason_status
        ],
        "top_clients": _tallies("client", summary.top_clients, reasons=True),
        "top_paths": _tallies("path", summary.top_paths, reasons=True),
        "top_credential_fingerprints": _tallies(
            "credential_fingerprint", summary.top_fingerprints, reasons=True
        ),
        "schemes": _tallies("scheme", summary.schemes, reasons=False),
        "distinct": {
            "clients": summary.distinct_clients,
            "paths": summary.distinct_paths,
            "credential_fingerprints": summary.distinct_fingerprints,
            "schemes": summary.distinct_schemes,
        },
        "clock_skew": {
            "time_related": summary.time_related,
            "flagged": summary.skew_flagged,
            "suspected": summary.skew_suspected,
            "share_of_time_related": _share(summary.skew_suspected, summary.skew_flagged),
            "share_of_failures": _share(summary.skew_suspected, summary.failures),
            "by_reason": [
                {"reason": s.reason, "flagged": s.flagged, "suspected": s.suspected}
                for s in summary.skew_by_reason
            ],
        },
        "timeline": None if timeline is None else _timeline_json(timeline),
        "untimed": summary.untimed,
        "report_only": {
            "total": summary.report_only,
            "by_would_status": _statuses(summary.report_only_by_would_status),
            "by_reason": _tallies("reason", summary.report_only_by_reason, reasons=False),
        },
        "misconfig": [
            {"kind": m.kind, "count": m.count, "paths": list(m.paths), "fixes": list(m.fixes)}
            for m in summary.misconfig
        ],
        "values_capped": summary.values_capped,
        "findings": list(summary.findings),
    }


def _timeline_json(timeline: Timeline) -> dict[str, object]:
    return {
        "bucket_s": timeline.width_s,
        "first": _iso(timeline.first),
        "last": _iso(timeline.last),
        "median": timeline.median,
        "spike_factor": SPIKE_FACTOR,
        "buckets": [
            {
                "start": _iso(b.start),
                "count": b.count,
                "spike": b.spike,
                "top_reason": b.top_reason,
                "top_reason_count": b.top_reason_count,
            }
            for b in timeline.buckets
        ],
    }
