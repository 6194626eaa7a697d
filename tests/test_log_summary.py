"""The log summary behind `authhygiene logs`.

The log is untrusted input written by many hands (the middleware, the app,
uvicorn's banners, a container runtime's prefixes, an attacker's user agent),
so the counting rules are pinned case by case, and hypothesis feeds the
reader hostile lines to show it never fails and never lets a terminal escape
through to the text it prints.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene import REASONS, Reason
from authhygiene.core.misconfig import MISCONFIG
from authhygiene.log_summary import (
    MAX_LINE_BYTES,
    Summary,
    parse_time,
    render_text,
    safe,
    summarise,
    to_json,
)

# A Thursday 00:00:00Z (epoch weeks start on Thursdays): a multiple of every
# bucket width up to a week, so the buckets in these tests start at events.
BASE = 1_800_000_000 // 604_800 * 604_800
ISO_BASE = datetime.fromtimestamp(BASE, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure(at: float | None = BASE, /, **fields: object) -> str:
    event: dict[str, object] = {"event": "auth.failure", "level": "warning"}
    if at is not None:
        event["timestamp"] = iso(at)
    event.update(fields)
    return json.dumps(event)


def suppressed(count: object, at: float = BASE, /, **fields: object) -> str:
    return json.dumps(
        {"event": "auth.failure.suppressed", "count": count, "timestamp": iso(at), **fields}
    )


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def pick(doc: Any, path: str) -> Any:
    for key in path.split("."):
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]
    return doc


def summary_json(lines: Iterable[str | bytes]) -> dict[str, Any]:
    return to_json(summarise(lines))


# --- counting rules ----------------------------------------------------------

EXPIRED = {"reason": "token_expired", "status": 401}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            [failure(**EXPIRED, client="10.0.0.1", path="/a", credential_fingerprint="f1")],
            {
                "failures.total": 1,
                "by_reason": [{"reason": "token_expired", "count": 1}],
                "by_status": [{"status": 401, "count": 1}],
                "top_clients.0.client": "10.0.0.1",
                "top_paths.0.path": "/a",
                "top_credential_fingerprints.0.credential_fingerprint": "f1",
            },
            id="one-failure",
        ),
        # Suppressed failures are failures: the rate limit only kept them
        # out of the log.
        pytest.param(
            [
                failure(**EXPIRED, client="c", path="/a"),
                suppressed(5, **EXPIRED, client="c", path="/a"),
            ],
            {
                "failures": {"total": 6, "logged": 1, "suppressed": 5, "suppressed_events": 1},
                "by_reason": [{"reason": "token_expired", "count": 6}],
                "by_status": [{"status": 401, "count": 6}],
                "top_clients.0.count": 6,
                "top_paths.0.count": 6,
                "timeline.buckets.0.count": 6,
            },
            id="suppressed-adds-its-count",
        ),
        pytest.param([suppressed("3", **EXPIRED)], {"failures.total": 3}, id="count-as-string"),
        pytest.param([suppressed(2.0, **EXPIRED)], {"failures.total": 2}, id="count-as-float"),
        pytest.param(
            [suppressed(-4), suppressed(True), suppressed("many"), suppressed(2.5)],
            {"failures": {"total": 0, "logged": 0, "suppressed": 0, "suppressed_events": 4}},
            id="count-unreadable-is-zero",
        ),
        pytest.param(
            [suppressed(10**30, **EXPIRED)], {"failures.suppressed": 10**9}, id="count-clamped"
        ),
        # The summary of a window written without a time of its own is
        # placed where its window began.
        pytest.param(
            [json.dumps({"event": "auth.failure.suppressed", "count": 2, "since": ISO_BASE})],
            {"timeline.first": ISO_BASE, "untimed": 0},
            id="suppressed-since",
        ),
        pytest.param(
            [failure(reason="x", status="401"), failure(reason="x", status=401.0)],
            {"by_status": [{"status": 401, "count": 2}]},
            id="status-as-string-or-float",
        ),
        pytest.param(
            [failure(status=s) for s in (999, True, "40x", None, [401], 401.5)],
            {"by_status": [{"status": None, "count": 6}]},
            id="status-unreadable",
        ),
        pytest.param(
            [failure(status=401)],
            {"by_reason": [{"reason": None, "count": 1}], "top_clients.0.client": None},
            id="missing-fields",
        ),
        pytest.param(
            [failure(reason=["token_expired"], client={"ip": "x"}, path=7)],
            {"by_reason.0.reason": None, "top_clients.0.client": None, "top_paths.0.path": "7"},
            id="wrong-types",
        ),
        pytest.param(
            [failure(credential_fingerprint=None), failure(credential_fingerprint="f")],
            {
                "top_credential_fingerprints": [
                    {
                        "credential_fingerprint": "f",
                        "count": 1,
                        "top_reason": None,
                        "top_reason_count": 1,
                    }
                ]
            },
            id="no-fingerprint-not-listed",
        ),
        pytest.param(
            [
                json.dumps({"message": "auth.failure", "reason": "forbidden", "status": 403}),
                json.dumps({"msg": "auth.failure", "reason": "forbidden", "status": 403}),
            ],
            {"failures.total": 2, "by_reason.0.reason": "forbidden"},
            id="stdlib-json-logger-keys",
        ),
        pytest.param(
            ["2026-11-23T03:25:01.1Z stdout F " + failure(**EXPIRED)],
            {"failures.total": 1, "lines.unreadable": 0},
            id="prefix-before-json",
        ),
        pytest.param(
            [
                "INFO:     Uvicorn running on http://127.0.0.1:8000",
                "[1, 2]",
                '"auth.failure"',
                "{not json",
                "",
                "Traceback (most recent call last):",
            ],
            {"lines.read": 6, "lines.json_objects": 0, "lines.unreadable": 6, "lines.too_long": 0},
            id="unreadable",
        ),
        pytest.param(
            [
                failure(**EXPIRED),
                "event=auth.failure reason=token_expired",
                "[warning  ] auth.failure   reason=token_expired",
                "Traceback (most recent call last):",
                "INFO:     Shutting down",
            ],
            {
                "lines": {
                    "read": 5,
                    "events": 3,
                    "formats": {"json": 1, "console": 1, "key_value": 1},
                    "json_objects": 1,
                    "unreadable": 1,
                    "exception_text": 1,
                    "too_long": 0,
                    "by_event": [{"event": "auth.failure", "count": 3}],
                    "other_events": 0,
                    "max_line_bytes": MAX_LINE_BYTES,
                },
                "by_reason": [{"reason": "token_expired", "count": 3}],
            },
            id="lines-by-rendering",
        ),
        pytest.param(
            [json.dumps({"event": "request finished"}), json.dumps({"event": 5}), "{}"],
            {"lines.other_events": 3, "failures.total": 0},
            id="other-events",
        ),
        pytest.param(
            [failure(path="/" + "a" * MAX_LINE_BYTES), failure()],
            {"lines.too_long": 1, "failures.total": 1},
            id="too-long",
        ),
        pytest.param(
            [failure(path="/caf\u00e9").encode().replace(b"\\u00e9", b"\xff") + b"\n"],
            {"top_paths.0.path": "/caf\ufffd"},
            id="bytes-bad-utf8",
        ),
        pytest.param(
            [
                json.dumps(
                    {
                        "event": "auth.report_only",
                        "reason": "credentials_missing",
                        "status": 403,
                        "would_status": 401,
                    }
                )
            ],
            {
                "failures.total": 0,
                "report_only": {
                    "total": 1,
                    "by_would_status": [{"status": 401, "count": 1}],
                    "by_reason": [{"reason": "credentials_missing", "count": 1}],
                },
            },
            id="report-only-apart",
        ),
        pytest.param(
            [failure(problem="token_in_query", reason="credentials_missing")] * 2
            + [failure(problem="doubled_scheme", reason="credentials_malformed")],
            {
                "problems.0.problem": "token_in_query",
                "problems.0.count": 2,
                "problems.1.problem": "doubled_scheme",
            },
            id="problems-counted",
        ),
        pytest.param(
            [
                json.dumps(
                    {
                        "event": "auth.report_only.suppressed",
                        "reason": "token_expired",
                        "status": 401,
                        "count": 7,
                    }
                )
            ],
            {
                "failures.total": 0,
                "report_only": {
                    "total": 7,
                    "by_would_status": [{"status": None, "count": 7}],
                    "by_reason": [{"reason": "token_expired", "count": 7}],
                },
            },
            id="report-only-suppressed-counted-as-report-only",
        ),
        pytest.param(
            [
                json.dumps({"event": "auth.misconfig", "kind": "k", "path": "/a", "fix": "do x"}),
                json.dumps({"event": "auth.misconfig", "kind": "k", "path": "/b", "fix": "do x"}),
                json.dumps({"event": "auth.misconfig", "kind": "invalid_options", "error": "e"}),
            ],
            {
                "misconfig": [
                    {"kind": "k", "count": 2, "paths": ["/a", "/b"], "fixes": ["do x"]},
                    {"kind": "invalid_options", "count": 1, "paths": [], "fixes": ["e"]},
                ]
            },
            id="misconfig-distinct-fixes",
        ),
        pytest.param(
            [
                failure(reason="token_expired", clock_skew_suspected=True),
                failure(reason="token_expired", clock_skew_suspected="false"),
                failure(reason="token_expired"),
                failure(reason="credentials_missing"),
            ],
            {
                "clock_skew": {
                    "time_related": 3,
                    "flagged": 2,
                    "suspected": 1,
                    "share_of_time_related": 0.5,
                    "share_of_failures": 0.25,
                    "by_reason": [{"reason": "token_expired", "flagged": 2, "suspected": 1}],
                }
            },
            id="clock-skew-shares",
        ),
        pytest.param(
            [failure(scheme="Bearer"), failure(scheme="Basic"), failure(), suppressed(4)],
            {
                "schemes": [
                    {"scheme": "Basic", "count": 1},
                    {"scheme": "Bearer", "count": 1},
                    {"scheme": None, "count": 1},
                ]
            },
            id="schemes-of-logged-failures",
        ),
        pytest.param(
            [failure(None), failure(timestamp="yesterday")],
            {"timeline": None, "untimed": 2},
            id="untimed",
        ),
    ],
)
def test_counting(lines: list[str | bytes], expected: dict[str, object]) -> None:
    doc = summary_json(lines)
    assert {path: pick(doc, path) for path in expected} == expected


def test_top_lists_are_cut_and_ranked() -> None:
    lines = [failure(client=f"10.0.0.{i}") for i in range(5) for _ in range(i + 1)]
    top = summarise(lines, top=2).top_clients
    assert [(t.value, t.count) for t in top] == [("10.0.0.4", 5), ("10.0.0.3", 4)]


def test_top_must_be_positive() -> None:
    with pytest.raises(ValueError, match="top"):
        summarise([], top=0)


# --- time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-23T03:25:01.5Z", 1795404301.5, id="iso-z"),
        pytest.param("2026-11-23T04:25:01.5+01:00", 1795404301.5, id="iso-offset"),
        pytest.param("2026-11-23T04:25:01.5+0100", 1795404301.5, id="iso-offset-basic"),
        pytest.param("2026-11-23 03:25:01,5", 1795404301.5, id="naive-is-utc-comma"),
        pytest.param(1795404301, 1795404301.0, id="epoch-int"),
        pytest.param(1795404301.5, 1795404301.5, id="epoch-float"),
        pytest.param("1795404301.5", 1795404301.5, id="epoch-string"),
        pytest.param(1795404301500, 1795404301.5, id="epoch-ms"),
        pytest.param(1795404301500000, 1795404301.5, id="epoch-us"),
        pytest.param(1795404301500000000, 1795404301.5, id="epoch-ns"),
        pytest.param(10**25, None, id="too-big"),
        pytest.param(10**400, None, id="huge-int"),
        pytest.param(-1, None, id="negative"),
        pytest.param(math.nan, None, id="nan"),
        pytest.param(math.inf, None, id="inf"),
        pytest.param(True, None, id="bool"),
        pytest.param([1795404301], None, id="list"),
        pytest.param("0001-01-01T00:00:00+05:00", None, id="before-1970"),
        pytest.param("2026-11-23T03:25:01Z" + " " * 80, None, id="too-long"),
        pytest.param("soon", None, id="words"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_time(value: object, expected: float | None) -> None:
    assert parse_time(value) == expected


DAY, WEEK = 86_400, 604_800


@pytest.mark.parametrize(
    ("span", "width"),
    [
        pytest.param(0, 1, id="one-moment"),
        pytest.param(23, 1, id="24s"),
        pytest.param(24, 10, id="25s"),
        pytest.param(239, 10, id="4m"),
        pytest.param(240, 60, id="4m1s"),
        pytest.param(1439, 60, id="24m"),
        pytest.param(1440, 300, id="24m1s"),
        pytest.param(7199, 300, id="2h"),
        pytest.param(7200, 900, id="2h1s"),
        pytest.param(21599, 900, id="6h"),
        pytest.param(21600, 3600, id="6h1s"),
        pytest.param(DAY - 1, 3600, id="1d"),
        pytest.param(DAY, 21600, id="1d1s"),
        pytest.param(6 * DAY - 1, 21600, id="6d"),
        pytest.param(6 * DAY, DAY, id="6d1s"),
        pytest.param(24 * DAY, WEEK, id="24d"),
        pytest.param(24 * WEEK, 2 * WEEK, id="past-the-ladder-doubles"),
    ],
)
def test_bucket_width_fits_24_buckets(span: int, width: int) -> None:
    timeline = summarise([failure(BASE), failure(BASE + span)]).timeline
    assert timeline is not None
    assert timeline.width_s == width
    assert len(timeline.buckets) <= 24
    assert sum(b.count for b in timeline.buckets) == 2


def test_buckets_are_coarsened_while_reading() -> None:
    """More distinct seconds than are kept live: the counts survive the
    re-bucketing exactly."""
    timeline = summarise(failure(BASE + s) for s in range(5000)).timeline
    assert timeline is not None
    assert timeline.width_s == 300
    assert [b.count for b in timeline.buckets] == [300] * 16 + [200]


@pytest.mark.parametrize(
    ("counts", "spikes"),
    [
        pytest.param([5, 5, 5], [], id="flat"),
        pytest.param([1, 1, 10], [2], id="spike"),
        pytest.param([1, 1, 4], [], id="too-few-to-call-a-spike"),
        pytest.param([2, 2, 7], [2], id="just-over-3x"),
        pytest.param([2, 2, 6], [], id="exactly-3x"),
        pytest.param([30], [], id="one-bucket"),
        # The median of two buckets is their mean: neither can be 3x it.
        pytest.param([1, 0, 0, 20], [], id="two-buckets"),
        pytest.param([1, 1, 1, 0, 20, 1], [4], id="gap-and-spike"),
        pytest.param([10, 1, 1, 1, 10], [0, 4], id="two-spikes"),
    ],
)
def test_spikes(counts: list[int], spikes: list[int]) -> None:
    lines = [failure(BASE + i) for i, n in enumerate(counts) for _ in range(n)]
    timeline = summarise(lines).timeline
    assert timeline is not None
    assert timeline.width_s == 1
    assert [b.count for b in timeline.buckets] == counts
    assert [i for i, b in enumerate(timeline.buckets) if b.spike] == spikes


# --- findings ----------------------------------------------------------------


def many(n: int, **fields: object) -> list[str]:
    return [failure(BASE + i, **fields) for i in range(n)]


MISSING = {"reason": "credentials_missing", "status": 401}


@pytest.mark.parametrize(
    ("lines", "present", "absent"),
    [
        pytest.param(
            many(8, **EXPIRED, clock_skew_suspected=True) + many(2, **EXPIRED),
            [
                "100% of failures (10 of 10) are token_expired: all 8 logged with the clock-skew"
                " check looked like clock skew: check NTP"
            ],
            ["refresh"],
            id="expired-within-skew",
        ),
        pytest.param(
            many(2, **EXPIRED, clock_skew_suspected=True)
            + many(6, **EXPIRED, clock_skew_suspected=False),
            [
                "of the 8 logged with the clock-skew check, 2 (25%) looked like clock skew and 6"
                " were long expired: check that clients refresh their tokens"
            ],
            ["NTP"],
            id="expired-long-ago",
        ),
        pytest.param(
            [*many(20, **EXPIRED, clock_skew_suspected=False), suppressed(41, **EXPIRED)],
            [
                "100% of failures (61 of 61) are token_expired: of the 20 logged with the"
                " clock-skew check, none looked like clock skew (all long expired): check that"
                " clients refresh their tokens"
            ],
            ["NTP", " 0%", "(0 of"],
            id="expired-none-within-skew",
        ),
        pytest.param(
            many(3, **EXPIRED) + many(1, **EXPIRED, clock_skew_suspected=False),
            ["the one logged with the clock-skew check did not look like clock skew (long"],
            ["NTP"],
            id="one-with-the-flag",
        ),
        pytest.param(
            [suppressed(9, **EXPIRED)],
            ["check that they refresh them"],
            ["NTP"],
            id="expired-without-flags",
        ),
        pytest.param(
            many(4, reason="token_not_yet_valid", status=401, clock_skew_suspected=True),
            ["are token_not_yet_valid", "check NTP"],
            [],
            id="not-yet-valid-skew",
        ),
        pytest.param(
            many(9, **MISSING) + many(1, **EXPIRED),
            ["90% of failures (9 of 10) are credentials_missing", "not sending credentials"],
            ["token_expired:"],
            id="missing-dominates",
        ),
        pytest.param(
            many(5, **MISSING) + many(4, **EXPIRED) + many(1, reason="forbidden"),
            ["are credentials_missing", "40% of failures (4 of 10) are token_expired"],
            ["forbidden"],
            id="two-notable-reasons",
        ),
        pytest.param(
            many(2, **MISSING), [], ["credentials_missing"], id="too-few-for-a-reason-finding"
        ),
        pytest.param(
            many(7, **EXPIRED, credential_fingerprint="7ed140acae534011")
            + many(3, **MISSING, client="10.0.0.9"),
            [
                "one credential (fingerprint 7ed140acae534011) accounts for 70% of failures"
                " (7 of 10), 100% of them token_expired"
            ],
            [],
            id="one-credential-retried",
        ),
        pytest.param(
            many(4, reason="token_not_yet_valid", clock_skew_suspected=False),
            [
                "of the 4 logged with the clock-skew check, none looked like clock skew (all far"
                " from valid): check the nbf/iat the issuer writes"
            ],
            ["NTP"],
            id="not-yet-valid-far",
        ),
        pytest.param(
            many(6, **MISSING, client="10.0.0.9") + many(4, **MISSING, client="10.0.0.8"),
            ["one client address (10.0.0.9) accounts for 60% of failures (6 of 10)"],
            [],
            id="one-client",
        ),
        pytest.param(
            many(6, **MISSING, path="/a") + many(4, **MISSING, path="/b"),
            ["60% of failures (6 of 10) are on one path, /a"],
            [],
            id="one-path",
        ),
        pytest.param(
            many(10, **MISSING, path="/a"), [], ["on one path"], id="only-one-path-is-no-news"
        ),
        pytest.param(
            many(6, **MISSING) + many(4, **MISSING, path="/b"),
            [],
            ["on one path"],
            id="missing-path-is-no-path",
        ),
        pytest.param(
            [failure(BASE + i) for i in (0, 1, 2, 4)] + [failure(BASE + 3, **EXPIRED)] * 9,
            ["failures spike at", "9x the median bucket (1)", "100% of them token_expired"],
            [],
            id="spike",
        ),
        pytest.param(
            [failure(**MISSING), suppressed(5, **MISSING)],
            ["the log's rate limit kept 5 failures out of it (1 auth.failure.suppressed event)"],
            [],
            id="suppressed",
        ),
        pytest.param(
            [json.dumps({"event": "auth.report_only", "reason": "forbidden", "would_status": 401})],
            ["report-only mode logged 1 refusal"],
            [],
            id="report-only",
        ),
        pytest.param(
            [
                json.dumps(
                    {
                        "event": "auth.misconfig",
                        "kind": "preflight_refused",
                        "path": "/api",
                        "fix": "put the CORS layer in front of the auth",
                    }
                ),
                json.dumps({"event": "auth.misconfig", "kind": "401_without_challenge"}),
            ],
            [
                "misconfiguration preflight_refused (e.g. on /api): the app's auth refuses"
                " CORS preflights; fix: put the CORS layer in front of the auth",
                "misconfiguration 401_without_challenge: the app answers 401 without",
            ],
            [],
            id="misconfig",
        ),
        pytest.param(
            ["INFO:     Started server process [4242]", "Traceback (most recent call last):"],
            [
                "no line is a log event (2 lines read); this command reads structlog's JSON,"
                " console (its default), key=value and logfmt lines. JSON reads best:"
                " structlog.configure(processors=[structlog.processors.add_log_level,"
                ' structlog.processors.TimeStamper(fmt="iso", utc=True),'
                " structlog.processors.JSONRenderer()])"
            ],
            [],
            id="no-event-at-all",
        ),
        pytest.param(
            ["[warning  ] auth.failure                   reason=token_expired"] * 3,
            ["100% of failures (3 of 3) are token_expired"],
            ["no line is"],
            id="console-rendered-log-is-read",
        ),
        pytest.param(
            [failure(None, **MISSING)] * 3,
            ["no failure carries a readable time (3 without one)"],
            ["spike"],
            id="untimed",
        ),
        pytest.param(
            many(6, **MISSING, problem="token_in_query") + many(4, **MISSING),
            [
                "60% of logged failures (6 of 10) have problem=token_in_query: the clients send"
                " the token in the URL"
            ],
            [],
            id="token-in-query",
        ),
        pytest.param(
            many(3, **MISSING, problem="some_new_problem") + many(1, **MISSING),
            ["have problem=some_new_problem: the clients send credentials in a way this API"],
            [],
            id="unknown-problem-gets-the-generic-sentence",
        ),
        pytest.param(
            many(2, **MISSING, problem="doubled_scheme") + many(8, **MISSING),
            [],
            ["problem="],
            id="rare-problem-is-no-news",
        ),
        pytest.param([], [], ["%"], id="empty"),
    ],
)
def test_findings(lines: list[str], present: list[str], absent: list[str]) -> None:
    text = "\n".join(summarise(lines).findings)
    for words in present:
        assert words in text
    for words in absent:
        assert words not in text


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_has_advice(reason: Reason) -> None:
    """The taxonomy is one table: the advice is the row's `operator` text, so
    a reason added there is explained here without a second list to forget."""
    (finding, *_) = summarise(many(5, reason=reason.value)).findings
    assert finding == f"100% of failures (5 of 5) are {reason.value}: {REASONS[reason].operator}"


@pytest.mark.parametrize("kind", sorted(MISCONFIG), ids=str)
def test_every_misconfig_kind_is_explained(kind: str) -> None:
    """The logger's fixes and the summary's meanings come from one table, so
    every kind the middleware logs reads back as a sentence."""
    (finding,) = summarise([json.dumps({"event": "auth.misconfig", "kind": kind})]).findings
    assert finding == f"misconfiguration {kind}: {MISCONFIG[kind].meaning}"


# --- text output ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("/items", "/items", id="plain"),
        pytest.param("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred", id="ansi"),
        pytest.param("\x1b]0;title\x07", "\\x1b]0;title\\x07", id="osc"),
        pytest.param("\x9b31m", "\\x9b31m", id="c1-csi"),
        pytest.param("a\r\nFAKE LINE", "a\\r\\nFAKE LINE", id="newline"),
        pytest.param("tab\there", "tab\\there", id="tab"),
        pytest.param("\u202eevil", "\\u202eevil", id="bidi-override"),
        pytest.param("zero\u200bwidth", "zero\\u200bwidth", id="zero-width"),
        pytest.param("line\u2028sep", "line\\u2028sep", id="line-separator"),
        pytest.param("\ud800", "\\ud800", id="lone-surrogate"),
        pytest.param("\U000e0001", "\\U000e0001", id="tag-char"),
        pytest.param("back\\x1b", "back\\\\x1b", id="backslash-is-escaped-too"),
        pytest.param("caf\u00e9 \u6771\u4eac", "caf\u00e9 \u6771\u4eac", id="printable-unicode"),
        pytest.param("x" * 100, "x" * 80 + "...", id="bounded"),
        pytest.param("x" * 79 + "\x1b", "x" * 79 + "...", id="escape-not-cut-in-half"),
    ],
)
def test_safe(value: str, shown: str) -> None:
    assert safe(value) == shown


HOSTILE = "\x1b[2J\x1b]8;;http://evil\x07click\r\n2026 FAKE: all clear\u202e\x00"


def test_hostile_values_are_escaped_in_text() -> None:
    lines = [
        failure(
            reason=HOSTILE,
            client=HOSTILE,
            path=HOSTILE * 50,
            credential_fingerprint=HOSTILE,
            scheme=HOSTILE,
        )
    ] * 3 + [
        json.dumps({"event": "auth.misconfig", "kind": HOSTILE, "path": HOSTILE, "fix": HOSTILE}),
        json.dumps({"event": "auth.report_only", "reason": HOSTILE, "would_status": 401}),
    ]
    text = render_text(summarise(lines))
    assert_terminal_safe(text)
    assert all(not line.startswith("2026 FAKE") for line in text.splitlines())
    assert max(len(line) for line in text.splitlines()) < 600


def assert_terminal_safe(text: str) -> None:
    bad = [char for char in text if char != "\n" and not char.isprintable()]
    assert bad == []


SAMPLE = [
    "INFO:     Started server process [4242]",
    *(
        failure(
            BASE + 60 * i,
            **MISSING,
            client=f"10.0.0.{i % 4}",
            path="/items",
            method="GET",
            scheme=None,
        )
        for i in range(12)
    ),
    *(
        failure(
            BASE + 600 + i,
            **EXPIRED,
            client="10.0.0.7",
            path="/orders",
            scheme="Bearer",
            credential_fingerprint="7ed140acae534011",
            clock_skew_suspected=i % 4 != 0,
        )
        for i in range(40)
    ),
    suppressed(25, BASE + 660, **EXPIRED, client="10.0.0.7", path="/orders", since=iso(BASE + 600)),
    json.dumps({"event": "auth.misconfig", "kind": "401_without_challenge", "path": "/orders"}),
]


def test_render_text_sample() -> None:
    """The whole text for a typical midnight: one client retrying one
    expired token, on top of a trickle of requests without credentials."""
    assert render_text(summarise(SAMPLE)) == EXPECTED_SAMPLE_TEXT.replace("{DAY}", ISO_BASE[:10])


KV_FAILURE = "event=auth.failure reason=token_expired status=401"
CONSOLE_FAILURE = "[warning  ] auth.failure                   reason=token_expired status=401"


@pytest.mark.parametrize(
    ("lines", "header"),
    [
        pytest.param(
            [failure(**EXPIRED)] * 26 + [KV_FAILURE] * 2,
            "28 lines read: 28 events (26 JSON, 2 key=value), 0 unreadable, 0 too long (over"
            " 65,536 bytes)\n"
            "28 events: 28 auth.failure\n"
            "28 auth failures answered, each logged as its own auth.failure line",
            id="json-and-key-value",
        ),
        pytest.param(
            [CONSOLE_FAILURE, "Traceback (most recent call last):", "  File 'x.py'", "x"],
            "4 lines read: 1 event (1 console), 1 unreadable, 2 lines of exception text, 0 too"
            " long (over 65,536 bytes)\n"
            "1 event: 1 auth.failure\n"
            "1 auth failure answered, logged as its own auth.failure line",
            id="console-with-a-traceback",
        ),
        pytest.param(
            [failure(**EXPIRED), suppressed(41, **EXPIRED), json.dumps({"event": "x"})],
            "3 lines read: 3 events (3 JSON), 0 unreadable, 0 too long (over 65,536 bytes)\n"
            "3 events: 1 auth.failure, 1 auth.failure.suppressed, 1 other\n"
            "42 auth failures answered: 1 logged one per auth.failure line, 41 counted in 1"
            " auth.failure.suppressed line (the log's rate limit)",
            id="logged-and-suppressed-add-up",
        ),
        pytest.param(
            [
                json.dumps({"event": "auth.report_only", "would_status": 401}),
                json.dumps({"event": "auth.report_only.suppressed", "count": 3}),
                json.dumps({"event": "auth.misconfig", "kind": "k"}),
                json.dumps({"event": "request finished"}),
                json.dumps({"event": "auth.throttled"}),
            ],
            "5 lines read: 5 events (5 JSON), 0 unreadable, 0 too long (over 65,536 bytes)\n"
            "5 events: 1 auth.report_only, 1 auth.report_only.suppressed, 1 auth.misconfig,"
            " 2 others\n"
            "no auth.failure events found",
            id="no-failures",
        ),
        pytest.param(
            ["INFO:     Started server process [4242]"],
            "1 line read: 0 events, 1 unreadable, 0 too long (over 65,536 bytes)\n"
            "no auth.failure events found",
            id="no-events",
        ),
    ],
)
def test_header_says_what_was_counted(lines: list[str], header: str) -> None:
    """The first lines add up as printed: events by rendering plus the
    other lines make the lines read, the events by name make the events,
    logged and suppressed failures make the failures."""
    assert render_text(summarise(lines)).split("\n\n")[0] == header


@pytest.mark.parametrize(
    ("lines", "section"),
    [
        pytest.param(
            [*many(20, **EXPIRED, clock_skew_suspected=False), suppressed(41, **EXPIRED)],
            [
                "61 failures were about time (an expired or not-yet-valid token)",
                "of the 20 logged with the clock-skew check, none looked like clock skew (all"
                " long expired)",
                "the other 41 carry no clock-skew check (auth.failure.suppressed counts never do)",
            ],
            id="the-demo-none-within",
        ),
        pytest.param(
            many(3, **EXPIRED, clock_skew_suspected=True),
            [
                "3 failures were about time (an expired or not-yet-valid token)",
                "all 3 logged with the clock-skew check looked like clock skew",
            ],
            id="all-within",
        ),
        pytest.param(
            many(1, reason="token_not_yet_valid", clock_skew_suspected=True)
            + many(3, reason="token_not_yet_valid", clock_skew_suspected=False)
            + many(2, **EXPIRED, clock_skew_suspected=False),
            [
                "6 failures were about time (an expired or not-yet-valid token)",
                "of the 6 logged with the clock-skew check, 1 (17%) looked like clock skew and"
                " 5 were far outside the clock-skew window",
            ],
            id="mixed-reasons",
        ),
        pytest.param(
            [failure(**EXPIRED, clock_skew_suspected=False)],
            [
                "1 failure was about time (an expired or not-yet-valid token)",
                "the one logged with the clock-skew check did not look like clock skew (long"
                " expired)",
            ],
            id="one",
        ),
        pytest.param(
            [suppressed(5, **EXPIRED)],
            [
                "5 failures were about time (an expired or not-yet-valid token)",
                "none was logged with the clock-skew check, so clock skew cannot be told apart"
                " here",
            ],
            id="none-checked",
        ),
        pytest.param(many(3, **MISSING), None, id="nothing-about-time"),
    ],
)
def test_clock_skew_in_plain_words(lines: list[str], section: list[str] | None) -> None:
    text = render_text(summarise(lines))
    blocks = {block.split("\n")[0]: block for block in text.split("\n\n")}
    if section is None:
        assert "Clock skew (clock_skew_suspected)" not in blocks
        return
    expected = "\n".join(["Clock skew (clock_skew_suspected)", *(f"  {s}" for s in section)])
    assert blocks["Clock skew (clock_skew_suspected)"] == expected


EXPECTED_SAMPLE_TEXT = """\
55 lines read: 54 events (54 JSON), 1 unreadable, 0 too long (over 65,536 bytes)
54 events: 52 auth.failure, 1 auth.failure.suppressed, 1 auth.misconfig
77 auth failures answered: 52 logged one per auth.failure line, 25 counted in 1 \
auth.failure.suppressed line (the log's rate limit)

Findings
  - 84% of failures (65 of 77) are token_expired: of the 40 logged with the clock-skew check, \
30 (75%) looked like clock skew and 10 were long expired: check NTP on the clients, the token \
issuer and this server
  - one credential (fingerprint 7ed140acae534011) accounts for 52% of failures (40 of 77), \
100% of them token_expired: one client (or one shared credential) keeps retrying the same \
rejected credential
  - one client address (10.0.0.7) accounts for 84% of failures (65 of 77), 100% of them \
token_expired: a single caller, or a proxy that hides the callers' addresses
  - 84% of failures (65 of 77) are on one path, /orders, 100% of them token_expired
  - failures spike at {DAY}T00:10:00Z (1m bucket): 41, 41x the median bucket (1), 98% of \
them token_expired; 1 more bucket(s) spike too
  - the log's rate limit kept 25 failures out of it (1 auth.failure.suppressed event); the \
counts above include them
  - misconfiguration 401_without_challenge (e.g. on /orders): the app answers 401 without a \
WWW-Authenticate challenge (RFC 9110 requires one; the middleware adds it on the wire)

By reason and status
  token_expired                    401        65   84%
  credentials_missing              401        12   16%

Top clients (5 distinct)
         65   84%  10.0.0.7  mostly token_expired
          3    4%  10.0.0.0  mostly credentials_missing
          3    4%  10.0.0.1  mostly credentials_missing
          3    4%  10.0.0.2  mostly credentials_missing
          3    4%  10.0.0.3  mostly credentials_missing

Top paths (2 distinct)
         65   84%  /orders  mostly token_expired
         12   16%  /items  mostly credentials_missing

Top credential fingerprints (1 distinct)
         40   52%  7ed140acae534011  mostly token_expired

Schemes (logged failures)
         40   77%  Bearer
         12   23%  (no credentials or scheme)

Clock skew (clock_skew_suspected)
  65 failures were about time (an expired or not-yet-valid token)
  of the 40 logged with the clock-skew check, 30 (75%) looked like clock skew and 10 were long \
expired
  the other 25 carry no clock-skew check (auth.failure.suppressed counts never do)

Timeline (UTC, 1m buckets, {DAY}T00:00:00Z to {DAY}T00:11:00Z, median 1; 0 untimed)
  {DAY}T00:00:00Z         1 #
  {DAY}T00:01:00Z         1 #
  {DAY}T00:02:00Z         1 #
  {DAY}T00:03:00Z         1 #
  {DAY}T00:04:00Z         1 #
  {DAY}T00:05:00Z         1 #
  {DAY}T00:06:00Z         1 #
  {DAY}T00:07:00Z         1 #
  {DAY}T00:08:00Z         1 #
  {DAY}T00:09:00Z         1 #
  {DAY}T00:10:00Z        41 ########################################  <- spike, mostly \
token_expired
  {DAY}T00:11:00Z        26 ##########################  <- spike, mostly token_expired

Misconfiguration (auth.misconfig)
  401_without_challenge x1 on /orders
"""


# --- hostile input -------------------------------------------------------------

KNOWN_KEYS = [
    "event",
    "message",
    "reason",
    "status",
    "client",
    "path",
    "credential_fingerprint",
    "scheme",
    "clock_skew_suspected",
    "timestamp",
    "@timestamp",
    "count",
    "since",
    "kind",
    "fix",
    "error",
    "would_status",
]
EVENT_NAMES = ["auth.failure", "auth.failure.suppressed", "auth.report_only", "auth.misconfig"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from([*EVENT_NAMES, "401", "2026-11-23T03:25:01Z", "true", "-1"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
event_fields = st.dictionaries(
    st.sampled_from(KNOWN_KEYS) | st.text(max_size=10), json_values, max_size=8
)
# json.dumps writes NaN and Infinity as the literals Python's json reads back.
events = event_fields.map(json.dumps)
events_with_names = st.builds(
    lambda name, fields: json.dumps({**fields, "event": name}),
    st.sampled_from(EVENT_NAMES),
    event_fields,
)
hostile_lines = st.sampled_from(
    [
        "[" * 60_000,
        '{"a":' * 12_000,
        '{"event": "auth.failure", "status": ' + "9" * 5000 + "}",
        '{"event": "auth.failure", "timestamp": 1e999, "status": NaN, "count": Infinity}',
        '{"event": "auth.failure.suppressed", "count": -Infinity, "since": NaN}',
        "{" + " " * (MAX_LINE_BYTES + 1) + "}",
        "\ufeff" + '{"event": "auth.failure"}',
    ]
)
any_line = st.one_of(
    st.text(), st.binary(), events, events_with_names, hostile_lines, st.text().map(str.encode)
)


def check_invariants(summary: Summary) -> None:
    """Whatever the input: the books balance, the text is terminal-safe and
    the JSON is strict JSON."""
    assert summary.lines == (
        summary.events + summary.unreadable + summary.exception_lines + summary.too_long
    )
    assert summary.json_objects <= summary.events
    assert sum(t.count for t in summary.by_reason) == summary.failures
    assert sum(n for _, n in summary.by_status) == summary.failures
    timed = sum(b.count for b in summary.timeline.buckets) if summary.timeline else 0
    assert timed + summary.untimed == summary.failures
    assert_terminal_safe(render_text(summary))
    json.dumps(to_json(summary), allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(any_line, max_size=12))
def test_any_lines_never_break_the_summary(lines: Sequence[str | bytes]) -> None:
    check_invariants(summarise(lines))


@settings(max_examples=200, deadline=None)
@given(st.lists(events_with_names, min_size=1, max_size=20))
def test_any_event_fields_never_break_the_summary(lines: list[str]) -> None:
    summary = summarise(lines, top=3)
    check_invariants(summary)
    assert summary.json_objects == len(lines)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from(["reason", "client", "path", "credential_fingerprint"]))
def test_any_value_is_printed_terminal_safe(value: str, key: str) -> None:
    text = render_text(summarise([failure(**{key: value, "reason": "x"})] * 3))
    assert_terminal_safe(text)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=200))
def test_safe_is_printable_and_bounded(value: str, limit: int) -> None:
    shown = safe(value, limit)
    assert_terminal_safe(shown)
    assert "\n" not in shown
    assert len(shown) <= limit + 3


def test_too_long_lines_are_not_parsed() -> None:
    # A re-check of the bound the CLI relies on: the limit is the line's
    # length as given, newline included.
    line = failure(path="/" + "a" * (MAX_LINE_BYTES - len(failure(path="/"))))
    assert len(line) == MAX_LINE_BYTES
    assert summarise([line]).too_long == 0
    assert summarise([line + "\n"]).too_long == 1


def test_many_distinct_values_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log with more distinct clients than the table holds still counts
    every failure; only the later new values go unlisted."""
    monkeypatch.setattr("authhygiene.log_summary.reading.MAX_DISTINCT", 10)
    summary = summarise(failure(client=f"c{i}") for i in range(30))
    assert summary.failures == 30
    assert summary.values_capped
    assert "later new ones are not listed" in render_text(summary)


def test_misconfig_kinds_are_capped() -> None:
    lines = [json.dumps({"event": "auth.misconfig", "kind": f"k{i}"}) for i in range(150)]
    summary = summarise(lines)
    assert len(summary.misconfig) == 100
    assert summary.json_objects == 150


def test_summary_is_reproducible() -> None:
    assert to_json(summarise(SAMPLE)) == to_json(summarise(reversed(SAMPLE)))


def test_rounding_of_shares() -> None:
    summary = summarise([*many(999, **MISSING), failure(**EXPIRED)])
    text = render_text(summary)
    assert re.search(r"credentials_missing +401 +999 +>99%", text)
    assert re.search(r"token_expired +401 +1 +<1%", text)
