"""Keep a failure storm from flooding the log.

A client retrying every 10 ms with an expired token, or a credential
stuffing run, produces the same `auth.failure` thousands of times. The
operator needs the first few and a count, not every line: beyond
`per_key` identical events (same reason, client and path) in a window, or
`total` events of any kind, events are counted instead of written, and one
`auth.failure.suppressed` summary per key carries the count when the window
closes. Memory is bounded too: at most `max_keys` keys are tracked, and the
events of keys beyond that are summarised per reason.

The gate is pure (the caller passes the time) and thread-safe: gunicorn's
threads and Django's sync views may call it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from authhygiene.core.option_error import PolicyError

__all__ = ["FloodGate", "LogLimit", "Suppressed", "log_limit"]

FloodKey = tuple[str, str | None, str | None]
# At most this many summary lines per sweep (plus one per reason).
_SUMMARY_LINES = 20


@dataclass(frozen=True, slots=True)
class LogLimit:
    """How many `auth.failure` events are written per window.

    `per_key`: identical events (same reason, client and path);
    `total`: all events; `window_s`: the window's length in seconds.
    """

    per_key: int = 20
    total: int = 1000
    window_s: int = 60
    max_keys: int = 10_000

    def __post_init__(self) -> None:
        for name, low, high in (
            ("per_key", 1, 1_000_000),
            ("total", 1, 10_000_000),
            ("window_s", 1, 86_400),
            ("max_keys", 16, 1_000_000),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise PolicyError(
                    f"authhygiene: log_limit {name}={value!r} must be an int from {low} to {high}."
                )
        if self.per_key > self.total:
            raise PolicyError(
                f"authhygiene: log_limit per_key={self.per_key} is above total={self.total};"
                " the total would always stop a flood first. Lower per_key or raise total."
            )


def log_limit(value: object) -> LogLimit | None:
    """Validate the `log_limit` option: a LogLimit, a mapping of its fields
    (Django settings), or None to write every event."""
    if value is None or isinstance(value, LogLimit):
        return value
    if isinstance(value, Mapping):
        known = {f.name for f in fields(LogLimit)}
        unknown = sorted(set(map(str, value)) - known)
        if unknown:
            raise PolicyError(
                f"authhygiene: log_limit has no field {unknown[0]!r};"
                f" known: {', '.join(sorted(known))}."
            )
        return LogLimit(**{str(key): item for key, item in value.items()})
    raise PolicyError(
        "authhygiene: log_limit must be authhygiene.LogLimit(per_key=..., total=...,"
        " window_s=...), a dict of those fields, or None to log every failure."
    )


@dataclass(frozen=True, slots=True)
class Suppressed:
    """The summary of events not written: one `auth.failure.suppressed`."""

    reason: str
    status: object
    client: str | None
    path: str | None
    count: int
    window_s: int
    since: float
    # How many (client, path) keys this summary merges: a distributed run
    # gets one line per reason, not one per attacking address.
    keys: int = 1
    # The one credential every suppressed event carried, if they shared one:
    # "one client retrying one expired token" stays visible in the summary.
    credential_fingerprint: str | None = None

    def fields(self) -> dict[str, object]:
        out: dict[str, object] = {
            "reason": self.reason,
            "status": self.status,
            "client": self.client,
            "path": self.path,
            "count": self.count,
            "window_s": self.window_s,
            "since": datetime.fromtimestamp(self.since, UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "keys": self.keys if self.keys > 1 else None,
            "credential_fingerprint": self.credential_fingerprint,
        }
        return {key: value for key, value in out.items() if value is not None}


@dataclass(slots=True)
class _Window:
    start: float
    status: object
    written: int = 0
    suppressed: int = 0
    fingerprint: str | None = None
    mixed: bool = False

    def count(self, fingerprint: str | None) -> None:
        if not self.suppressed:
            self.fingerprint = fingerprint
        elif fingerprint != self.fingerprint:
            self.mixed = True
        self.suppressed += 1


@dataclass(slots=True)
class FloodGate:
    """Decides, event by event, whether to write it or count it."""

    limit: LogLimit
    _windows: dict[FloodKey, _Window] = field(default_factory=dict)
    _total_start: float = 0.0
    _next_sweep: float = 0.0
    _total_written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(
        self,
        reason: str,
        client: str | None,
        path: str | None,
        status: object,
        now: float,
        fingerprint: str | None = None,
    ) -> tuple[bool, list[Suppressed]]:
        """Whether to write this event, and the summaries of windows that
        have closed (to write now, before it)."""
        limit = self.limit
        with self._lock:
            closed = []
            if now >= self._next_sweep:
                # Often enough that a key's window closes at most a quarter
                # window late; rarely enough that the sweep costs nothing.
                closed = self._sweep(now)
                self._next_sweep = now + limit.window_s / 4
            if now - self._total_start >= limit.window_s:
                self._total_start, self._total_written = now, 0
            key: FloodKey = (reason, client, path)
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= limit.max_keys:
                    # Too many distinct keys to track: count per reason.
                    key = (reason, None, None)
                    window = self._windows.get(key)
                if window is None:
                    window = self._windows[key] = _Window(now, status)
            if window.written < limit.per_key and self._total_written < limit.total:
                window.written += 1
                self._total_written += 1
                return True, closed
            window.count(fingerprint)
            return False, closed

    def flush(self, now: float, *, everything: bool = False) -> list[Suppressed]:
        """Summaries of the windows that have closed (all of them at exit)."""
        with self._lock:
            return self._sweep(now, everything=everything)

    def pending(self) -> bool:
        """Whether some window holds a count not yet summarised."""
        with self._lock:
            return any(window.suppressed for window in self._windows.values())

    def _sweep(self, now: float, *, everything: bool = False) -> list[Suppressed]:
        closed = []
        for key, window in list(self._windows.items()):
            if everything or now - window.start >= self.limit.window_s:
                del self._windows[key]
                if window.suppressed:
                    reason, client, path = key
                    closed.append(
                        Suppressed(
                            reason,
                            window.status,
                            client,
                            path,
                            window.suppressed,
                            self.limit.window_s,
                            window.start,
                            credential_fingerprint=None if window.mixed else window.fingerprint,
                        )
                    )
        if len(closed) <= _SUMMARY_LINES:
            return closed
        # Keep the loudest keys; merge the rest into one line per reason.
        closed.sort(key=lambda item: item.count, reverse=True)
        merged: dict[str, Suppressed] = {}
        for item in closed[_SUMMARY_LINES - 1 :]:
            seen = merged.get(item.reason)
            merged[item.reason] = Suppressed(
                item.reason,
                item.status if seen is None else seen.status,
                None,
                None,
                item.count + (seen.count if seen else 0),
                item.window_s,
                min(item.since, seen.since) if seen else item.since,
                item.keys + (seen.keys if seen else 0),
            )
        return closed[: _SUMMARY_LINES - 1] + list(merged.values())
