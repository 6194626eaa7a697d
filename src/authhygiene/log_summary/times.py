"""Reading a time from a log: ISO 8601 text or epoch numbers, bounded.

A time without an offset is taken as UTC (structlog's default console
configuration writes local time without one: its timeline is then off by the
host's offset). Epoch numbers too large to be seconds are read as
milliseconds, microseconds or nanoseconds.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

__all__ = ["MAX_TIME_CHARS", "parse_time"]

MAX_TIME_CHARS = 64
_MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z
_NUMBER_RE = re.compile(r"[0-9]{1,20}(?:\.[0-9]{0,9})?")


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
    elif isinstance(value, str) and len(value) <= MAX_TIME_CHARS:
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
