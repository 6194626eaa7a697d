"""The summary as text for a terminal: findings first, then the tables.

Every value read from the log is escaped by `safe` before it is printed, so a
hostile line (an attacker's path or user agent) cannot write terminal escapes,
move the cursor or fake a line of the report.
"""

from __future__ import annotations

import math

from authhygiene.log_summary.findings import led, skew_words
from authhygiene.log_summary.formats import Format
from authhygiene.log_summary.phrasing import duration, iso, pct, plural
from authhygiene.log_summary.reading import MAX_DISTINCT, MAX_LINE_BYTES
from authhygiene.log_summary.summary import Summary, Tally

__all__ = ["render_text", "safe"]

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
        _logged_section("Schemes", summary.schemes, summary.logged, "(no credentials or scheme)"),
        _logged_section(
            "Problems with the credentials sent", summary.problems, summary.logged, "(missing)"
        ),
        _skew_section(summary),
        _timeline_section(summary),
        _report_only_section(summary),
        _misconfig_section(summary),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _header(summary: Summary) -> str:
    """What was read and what was counted, so that the numbers add up: the
    lines (events in each rendering, unreadable, ...), the events by name,
    and the failures (logged one by one, or counted by the log's rate limit)."""
    lines = [_lines_read(summary)]
    if summary.events:
        lines.append(_events_by_name(summary))
    lines.append(_failures_counted(summary))
    if summary.values_capped:
        lines.append(
            f"(more than {MAX_DISTINCT:,} distinct values in a table: later new ones"
            " are not listed)"
        )
    return "\n".join(lines)


def _lines_read(summary: Summary) -> str:
    counts = (
        (Format.JSON, summary.json_objects),
        (Format.CONSOLE, summary.console_events),
        (Format.KEY_VALUE, summary.key_value_events),
    )
    formats = ", ".join(f"{n:,} {fmt.label}" for fmt, n in counts if n)
    parts = [
        plural(summary.events, "event") + (f" ({formats})" if formats else ""),
        f"{summary.unreadable:,} unreadable",
    ]
    if summary.exception_lines:
        parts.append(f"{plural(summary.exception_lines, 'line')} of exception text")
    parts.append(f"{summary.too_long:,} too long (over {MAX_LINE_BYTES:,} bytes)")
    return f"{plural(summary.lines, 'line')} read: " + ", ".join(parts)


def _events_by_name(summary: Summary) -> str:
    names = [f"{n:,} {name}" for name, n in summary.event_lines]
    if summary.other_events:
        names.append(f"{summary.other_events:,} other" + ("s" if summary.other_events > 1 else ""))
    return f"{plural(summary.events, 'event')}: " + ", ".join(names)


def _failures_counted(summary: Summary) -> str:
    if not summary.failures:
        return "no auth.failure events found"
    answered = f"{plural(summary.failures, 'auth failure')} answered"
    if not summary.suppressed:
        each = "" if summary.logged == 1 else "each "
        return f"{answered}, {each}logged as its own auth.failure line"
    return (
        f"{answered}: {summary.logged:,} logged one per auth.failure line,"
        f" {summary.suppressed:,} counted in"
        f" {plural(summary.suppressed_events, 'auth.failure.suppressed line')}"
        " (the log's rate limit)"
    )


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
        f" {row.count:>9,} {pct(row.count, total):>5}"
        for row in summary.by_reason_status
    ]
    return "By reason and status\n" + "\n".join(rows)


def _keyed_section(title: str, rows: tuple[Tally, ...], distinct: int, summary: Summary) -> str:
    if not rows:
        return ""
    total = summary.failures
    lines = [f"{title} ({distinct:,} distinct)"]
    for row in rows:
        led_by_reason = led(row.top_reason, row.top_reason_count, row.count)
        mostly = f"  mostly {_label(row.top_reason, 32)}" if led_by_reason else ""
        lines.append(f"  {row.count:>9,} {pct(row.count, total):>5}  {_label(row.value)}{mostly}")
    return "\n".join(lines)


def _logged_section(title: str, rows: tuple[Tally, ...], logged: int, missing: str) -> str:
    """A table of what only logged failures carry (schemes, problems)."""
    if not rows:
        return ""
    lines = [
        f"  {row.count:>9,} {pct(row.count, logged):>5}  "
        + (missing if row.value is None else safe(row.value, 40))
        for row in rows
    ]
    return f"{title} (logged failures)\n" + "\n".join(lines)


def _skew_section(summary: Summary) -> str:
    """Plain words: how many failures were about time, how many of those the
    middleware checked for clock skew, and what the check found."""
    if not summary.time_related:
        return ""
    verb = "was" if summary.time_related == 1 else "were"
    lines = [
        "Clock skew (clock_skew_suspected)",
        f"  {plural(summary.time_related, 'failure')} {verb} about time (an expired or"
        " not-yet-valid token)",
    ]
    if not summary.skew_flagged:
        lines.append(
            "  none was logged with the clock-skew check, so clock skew cannot be told apart here"
        )
        return "\n".join(lines)
    lines.append(f"  {skew_words(summary.skew_by_reason)}")
    unchecked = summary.time_related - summary.skew_flagged
    if unchecked > 0:
        lines.append(
            f"  the other {unchecked:,} carry no clock-skew check"
            " (auth.failure.suppressed counts never do)"
        )
    return "\n".join(lines)


def _timeline_section(summary: Summary) -> str:
    timeline = summary.timeline
    if timeline is None:
        return "Timeline\n  no failure carries a readable time" if summary.failures else ""
    peak = max(b.count for b in timeline.buckets)
    lines = [
        f"Timeline (UTC, {duration(timeline.width_s)} buckets, {iso(timeline.first)} to"
        f" {iso(timeline.last)}, median {timeline.median:g}; {summary.untimed:,} untimed)"
    ]
    for bucket in timeline.buckets:
        bar = "#" * (math.ceil(40 * bucket.count / peak) if bucket.count else 0)
        mark = "  <- spike" if bucket.spike else ""
        if bucket.spike and led(bucket.top_reason, bucket.top_reason_count, bucket.count):
            mark += f", mostly {_label(bucket.top_reason, 32)}"
        lines.append(f"  {iso(bucket.start)} {bucket.count:>9,} {bar}{mark}")
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
        f"Report-only ({plural(summary.report_only, 'event')}, answered unchanged)\n"
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
