"""How counts, shares and times are written, the same way in findings, text and JSON."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["duration", "iso", "pct", "plural", "shown"]


def pct(part: int, whole: int) -> str:
    """`part` as a whole percentage of `whole`; never "0%" for some or "100%"
    for not all."""
    if not whole:
        return "-"
    percent = round(100 * part / whole)
    if percent == 0 and part:
        return "<1%"
    if percent == 100 and part < whole:
        return ">99%"
    return f"{percent}%"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def shown(value: str | None) -> str:
    return "(missing)" if value is None else value


def iso(moment: float) -> str:
    """Epoch seconds as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: int) -> str:
    """A bucket width in its largest whole unit: 300 -> "5m"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
