"""The summary as plain JSON types, for scripts: `authhygiene logs --json`.

`to_json` returns a dict with these keys, stable across versions of the
same `schema`:

- ``schema``: 1 (keys are only ever added within a schema).
- ``lines``: ``read``; ``events`` (lines read as an event, in any
  rendering) and ``formats`` {``json``, ``console``, ``key_value``} (the
  events per rendering; ``key_value`` is KeyValueRenderer and logfmt);
  ``json_objects`` (the same as ``formats.json``); ``unreadable`` (neither
  an event nor exception text); ``exception_text`` (traceback lines after
  an event); ``too_long`` (skipped, longer than ``max_line_bytes``); these
  four add up to ``read``. ``by_event`` [{event, count}]: the lines of each
  event name the summary reads (auth.failure, auth.failure.suppressed,
  auth.report_only, auth.report_only.suppressed, auth.misconfig), those
  seen only; ``other_events``: the rest of the events. ``max_line_bytes``.
- ``failures``: ``total`` (logged + suppressed), ``logged``, ``suppressed``,
  ``suppressed_events``.
- ``by_reason`` [{reason, count}], ``by_status`` [{status, count}],
  ``by_reason_status`` [{reason, status, count}]: all failures, most first;
  a missing or unreadable value is null.
- ``top_clients`` [{client, count, top_reason, top_reason_count}] (the
  `top` most frequent; top_reason is the reason most of them had),
  ``top_paths`` [{path, ...}], ``top_credential_fingerprints``
  [{credential_fingerprint, ...}], ``schemes`` [{scheme, count}],
  ``problems`` [{problem, ...}] (what was wrong with the credentials of the
  logged failures), and ``distinct`` {clients, paths,
  credential_fingerprints, schemes}.
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
- ``report_only``: ``total`` (refusals, including those counted in
  auth.report_only.suppressed events), ``by_would_status`` [{status,
  count}], ``by_reason`` [{reason, count}].
- ``misconfig`` [{kind, count, paths, fixes}].
- ``values_capped``: true when some table hit `MAX_DISTINCT` and later new
  values were lumped out of it.
- ``findings``: the plain-English sentences.
"""

from __future__ import annotations

from authhygiene.log_summary.formats import Format
from authhygiene.log_summary.phrasing import iso
from authhygiene.log_summary.reading import MAX_LINE_BYTES, SPIKE_FACTOR
from authhygiene.log_summary.summary import Summary, Tally, Timeline

__all__ = ["to_json"]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


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
            "events": summary.events,
            "formats": {
                Format.JSON.value: summary.json_objects,
                Format.CONSOLE.value: summary.console_events,
                Format.KEY_VALUE.value: summary.key_value_events,
            },
            "json_objects": summary.json_objects,
            "unreadable": summary.unreadable,
            "exception_text": summary.exception_lines,
            "too_long": summary.too_long,
            "by_event": [{"event": name, "count": n} for name, n in summary.event_lines],
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
        "problems": _tallies("problem", summary.problems, reasons=True),
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
        "first": iso(timeline.first),
        "last": iso(timeline.last),
        "median": timeline.median,
        "spike_factor": SPIKE_FACTOR,
        "buckets": [
            {
                "start": iso(b.start),
                "count": b.count,
                "spike": b.spike,
                "top_reason": b.top_reason,
                "top_reason_count": b.top_reason_count,
            }
            for b in timeline.buckets
        ],
    }
