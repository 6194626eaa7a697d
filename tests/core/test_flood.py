"""The flood gate keeps a failure storm from flooding the log, and loses no count.

A client retrying every 10 ms with an expired token must cost the operator
the first few lines and one count, never thousands of lines, and never a
silently dropped event: whatever is not written is counted in exactly one
`auth.failure.suppressed` summary. The gate is pure, so every test passes
the time itself.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene import LogLimit as ExportedLogLimit
from authhygiene.core.flood import FloodGate, LogLimit, Suppressed, log_limit
from authhygiene.core.option_error import PolicyError

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z: any fixed instant will do
KEY = ("token_expired", "203.0.113.9", "/private")
OTHER = ("credentials_missing", "203.0.113.9", "/private")


def admit_all(
    gate: FloodGate, events: Iterable[tuple[tuple[str, str | None, str | None], float]]
) -> tuple[list[bool], list[Suppressed]]:
    """Feed events to the gate; what it wrote, and every summary it closed."""
    written: list[bool] = []
    closed: list[Suppressed] = []
    for (reason, client, path), now in events:
        write, summaries = gate.admit(reason, client, path, 401, now)
        written.append(write)
        closed.extend(summaries)
    return written, closed


# --- per key, total, roll-over ----------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "events", "expected"),
    [
        pytest.param(
            LogLimit(per_key=3, total=100, window_s=60),
            [KEY] * 6,
            [True, True, True, False, False, False],
            id="per-key",
        ),
        pytest.param(
            LogLimit(per_key=3, total=100, window_s=60),
            [KEY, OTHER, KEY, OTHER, KEY, OTHER, KEY, OTHER],
            [True, True, True, True, True, True, False, False],
            id="per-key-counts-each-key-apart",
        ),
        pytest.param(
            LogLimit(per_key=2, total=5, window_s=60),
            [("credentials_invalid", f"198.51.100.{i}", "/p") for i in range(8)],
            [True] * 5 + [False] * 3,
            id="total-across-keys",
        ),
        pytest.param(
            LogLimit(per_key=2, total=3, window_s=60),
            [KEY, KEY, KEY, OTHER, OTHER],
            [True, True, False, True, False],
            id="total-reached-before-per-key",
        ),
        pytest.param(
            LogLimit(per_key=1, total=1, window_s=60),
            [("r", None, None)] * 3,
            [True, False, False],
            id="no-client-no-path",
        ),
    ],
)
def test_limits_within_one_window(
    limit: LogLimit, events: list[tuple[str, str | None, str | None]], expected: list[bool]
) -> None:
    gate = FloodGate(limit)

    written, closed = admit_all(gate, ((key, T0) for key in events))

    assert written == expected
    assert closed == []  # nothing closes while the window is open
    assert gate.pending() == (False in expected)


def test_window_roll_over_writes_the_summary_before_the_next_event() -> None:
    """The summary of a closed window comes with the first event after it, so
    the count sits right where the storm ended, and the key starts afresh."""
    gate = FloodGate(LogLimit(per_key=2, total=100, window_s=10))
    written, closed = admit_all(gate, [(KEY, T0 + i * 0.5) for i in range(5)])
    assert written == [True, True, False, False, False]
    assert closed == []

    write, summaries = gate.admit(*KEY, 401, T0 + 10)

    assert write is True  # a new window: the key is written again
    assert summaries == [
        Suppressed("token_expired", 401, "203.0.113.9", "/private", 3, window_s=10, since=T0)
    ]
    assert summaries[0].fields() == {
        "reason": "token_expired",
        "status": 401,
        "client": "203.0.113.9",
        "path": "/private",
        "count": 3,
        "window_s": 10,
        "since": "2027-01-15T08:00:00Z",
    }
    assert gate.pending() is False


def test_window_stays_open_until_window_s_has_passed() -> None:
    gate = FloodGate(LogLimit(per_key=1, total=100, window_s=10))
    admit_all(gate, [(KEY, T0), (KEY, T0 + 1)])

    assert gate.flush(T0 + 9.999) == []
    assert gate.pending() is True
    assert [s.count for s in gate.flush(T0 + 10)] == [1]
    assert gate.pending() is False
    assert gate.flush(T0 + 100) == []  # a count is summarised once


def test_total_resets_with_the_window() -> None:
    gate = FloodGate(LogLimit(per_key=1, total=2, window_s=10))
    keys = [("r", f"192.0.2.{i}", "/p") for i in range(4)]
    first, _ = admit_all(gate, [(key, T0) for key in keys])
    second, closed = admit_all(gate, [(key, T0 + 10) for key in keys])

    assert first == [True, True, False, False]
    assert second == [True, True, False, False]
    assert sorted((s.client, s.count) for s in closed) == [("192.0.2.2", 1), ("192.0.2.3", 1)]


@pytest.mark.parametrize(
    ("events", "pending"),
    [
        pytest.param([], False, id="nothing"),
        pytest.param([KEY], False, id="written-only"),
        pytest.param([KEY, KEY], True, id="one-suppressed"),
    ],
)
def test_pending(events: list[tuple[str, str, str]], pending: bool) -> None:
    gate = FloodGate(LogLimit(per_key=1, total=100, window_s=10))
    admit_all(gate, ((key, T0) for key in events))

    assert gate.pending() is pending


def test_flush_everything_closes_open_windows() -> None:
    """At exit nothing may be lost, however young the window."""
    gate = FloodGate(LogLimit(per_key=1, total=100, window_s=60))
    admit_all(gate, [(KEY, T0), (KEY, T0 + 1), (OTHER, T0 + 2), (OTHER, T0 + 3), (OTHER, T0 + 3)])

    assert gate.flush(T0 + 4) == []
    summaries = gate.flush(T0 + 4, everything=True)

    assert sorted((s.reason, s.count, s.since) for s in summaries) == [
        ("credentials_missing", 2, T0 + 2),
        ("token_expired", 1, T0),
    ]
    assert gate.pending() is False
    assert gate.flush(T0 + 4, everything=True) == []


def test_status_is_the_first_events() -> None:
    gate = FloodGate(LogLimit(per_key=1, total=100, window_s=10))
    gate.admit(*KEY, 401, T0)
    gate.admit(*KEY, 403, T0)

    assert [s.status for s in gate.flush(T0, everything=True)] == [401]


@pytest.mark.parametrize(
    ("fingerprints", "expected"),
    [
        pytest.param(["a1", "b2", "b2", "b2"], "b2", id="one-token-retried"),
        pytest.param(["a1", "b2", "c3"], None, id="several-tokens"),
        pytest.param(["a1", None, None], None, id="no-credential"),
    ],
)
def test_summary_names_the_one_credential_retried(
    fingerprints: list[str | None], expected: str | None
) -> None:
    """The first event is written; the summary of the rest names their
    credential only when they all carried the same one."""
    gate = FloodGate(LogLimit(per_key=1, total=100, window_s=10))
    for fingerprint in fingerprints:
        gate.admit(*KEY, 401, T0, fingerprint)

    [summary] = gate.flush(T0, everything=True)
    assert summary.credential_fingerprint == expected
    assert summary.fields().get("credential_fingerprint") == expected


# --- bounded memory and bounded summaries -------------------------------------------


def test_keys_beyond_max_keys_are_counted_per_reason() -> None:
    """A distributed run (thousands of addresses) cannot grow the gate past
    max_keys: later keys share one bucket per reason, and nothing is lost."""
    gate = FloodGate(LogLimit(per_key=1, total=1000, window_s=60, max_keys=16))
    events = [((f"r{i % 2}", f"198.51.100.{i}", "/login"), T0) for i in range(40) for _ in range(3)]

    written, _ = admit_all(gate, events)
    summaries = gate.flush(T0, everything=True)

    tracked = [s for s in summaries if s.client is not None]
    merged = [s for s in summaries if s.client is None]
    assert len(tracked) == 16
    assert all(s.count == 2 and s.path == "/login" for s in tracked)
    # 24 keys beyond the first 16, 12 per reason; each bucket writes per_key once.
    assert sorted((s.reason, s.path, s.count) for s in merged) == [
        ("r0", None, 12 * 3 - 1),
        ("r1", None, 12 * 3 - 1),
    ]
    assert written.count(True) == 16 + 2
    assert written.count(False) == sum(s.count for s in summaries)


def test_more_than_twenty_summaries_are_merged_per_reason() -> None:
    """The loudest keys keep their own line; the rest become one line per
    reason carrying how many keys it stands for."""
    gate = FloodGate(LogLimit(per_key=1, total=1000, window_s=10, max_keys=100))
    events = []
    for i in range(30):  # key i is sent i + 2 times: i + 1 suppressed
        events += [((f"r{i % 2}", f"198.51.100.{i}", "/p"), T0 + i * 0.01)] * (i + 2)
    admit_all(gate, events)

    summaries = gate.flush(T0 + 60)

    assert len(summaries) == 19 + 2
    own = summaries[:19]
    assert [s.count for s in own] == list(range(30, 11, -1))  # the loudest, loudest first
    assert all(s.keys == 1 and s.client is not None for s in own)
    merged = {s.reason: s for s in summaries[19:]}
    assert sorted(merged) == ["r0", "r1"]
    # Keys 0..10 are merged: even ones are r0 (6 keys), odd ones r1 (5 keys).
    assert (merged["r0"].keys, merged["r0"].count) == (6, sum(i + 1 for i in range(0, 11, 2)))
    assert (merged["r1"].keys, merged["r1"].count) == (5, sum(i + 1 for i in range(1, 11, 2)))
    assert merged["r0"].since == T0  # the earliest window it merges
    assert merged["r1"].since == T0 + 0.01
    assert merged["r0"].fields() == {
        "reason": "r0",
        "status": 401,
        "count": 36,
        "window_s": 10,
        "since": "2027-01-15T08:00:00Z",
        "keys": 6,
    }
    assert sum(s.count for s in summaries) == sum(i + 1 for i in range(30))


def test_twenty_summaries_are_not_merged() -> None:
    gate = FloodGate(LogLimit(per_key=1, total=1000, window_s=10, max_keys=100))
    admit_all(
        gate, [((f"r{i % 3}", f"192.0.2.{i}", "/p"), T0) for i in range(20) for _ in range(2)]
    )

    summaries = gate.flush(T0 + 10)

    assert len(summaries) == 20
    assert all(s.keys == 1 and s.client is not None for s in summaries)


def test_concurrent_admits_write_per_key_exactly() -> None:
    """gunicorn's threads and Django's sync views call the gate at once."""
    gate = FloodGate(LogLimit(per_key=25, total=10_000, window_s=60))
    results: list[bool] = []
    lock = threading.Lock()

    def storm() -> None:
        mine = [gate.admit(*KEY, 401, T0)[0] for _ in range(500)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=storm) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)

    assert results.count(True) == 25
    assert [s.count for s in gate.flush(T0, everything=True)] == [8 * 500 - 25]


# --- LogLimit and the option ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"per_key": 0}, "log_limit per_key=0 must be an int from 1 to", id="per-0"),
        pytest.param({"per_key": 2.5}, "log_limit per_key=2.5 must be an int", id="per-float"),
        pytest.param({"total": True}, "log_limit total=True must be an int", id="total-bool"),
        pytest.param({"total": "9"}, "log_limit total='9' must be an int", id="total-text"),
        pytest.param(
            {"window_s": 0}, "log_limit window_s=0 must be an int from 1 to 86400", id="window-0"
        ),
        pytest.param(
            {"window_s": 86_401}, "log_limit window_s=86401 must be an int", id="window-too-long"
        ),
        pytest.param(
            {"max_keys": 15}, "log_limit max_keys=15 must be an int from 16 to", id="keys-small"
        ),
        pytest.param(
            {"per_key": 30, "total": 20},
            "per_key=30 is above total=20; the total would always stop a flood first."
            " Lower per_key or raise total.",
            id="per-key-above-total",
        ),
    ],
)
def test_log_limit_validation(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        LogLimit(**fields)

    assert message in str(raised.value)
    assert str(raised.value).startswith("authhygiene: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="none-logs-everything"),
        pytest.param(LogLimit(per_key=5), LogLimit(per_key=5), id="instance"),
        pytest.param({}, LogLimit(), id="empty-dict-defaults"),
        pytest.param(
            {"per_key": 5, "total": 50, "window_s": 10, "max_keys": 100},
            LogLimit(per_key=5, total=50, window_s=10, max_keys=100),
            id="django-settings-dict",
        ),
    ],
)
def test_log_limit_option(value: object, expected: LogLimit | None) -> None:
    assert log_limit(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"perkey": 5}, "log_limit has no field 'perkey'; known: max_keys,", id="typo"),
        pytest.param({"per_key": -1}, "log_limit per_key=-1 must be an int", id="bad-field"),
        pytest.param("20/60s", "log_limit must be authhygiene.LogLimit(", id="text"),
        pytest.param(20, "or None to log every failure", id="int"),
        pytest.param([20, 1000], "a dict of those fields", id="list"),
        pytest.param(True, "log_limit must be", id="bool"),
    ],
)
def test_log_limit_option_refuses(value: object, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        log_limit(value)

    assert message in str(raised.value)


def test_defaults_and_export() -> None:
    assert ExportedLogLimit is LogLimit
    assert LogLimit() == LogLimit(per_key=20, total=1000, window_s=60, max_keys=10_000)


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        pytest.param(
            Suppressed("token_expired", 401, None, None, 7, 60, T0 + 0.25, keys=12),
            {
                "reason": "token_expired",
                "status": 401,
                "count": 7,
                "window_s": 60,
                "since": "2027-01-15T08:00:00Z",
                "keys": 12,
            },
            id="merged",
        ),
        pytest.param(
            Suppressed("forbidden", 403, "::1", "/admin", 1, 5, T0),
            {
                "reason": "forbidden",
                "status": 403,
                "client": "::1",
                "path": "/admin",
                "count": 1,
                "window_s": 5,
                "since": "2027-01-15T08:00:00Z",
            },
            id="one-key",
        ),
    ],
)
def test_summary_fields(summary: Suppressed, expected: dict[str, object]) -> None:
    assert summary.fields() == expected


# --- properties -------------------------------------------------------------------------

_REASONS = ("token_expired", "credentials_missing", "token_invalid")


@dataclass(frozen=True)
class Run:
    limit: LogLimit
    events: list[tuple[tuple[str, str | None, str | None], float]]
    written: list[bool]
    summaries: list[Suppressed]


def _run(limit: LogLimit, events: list[tuple[tuple[str, str | None, str | None], float]]) -> Run:
    gate = FloodGate(limit)
    written, closed = admit_all(gate, events)
    closed += gate.flush(events[-1][1] if events else T0, everything=True)
    assert gate.pending() is False
    return Run(limit, events, written, closed)


_GAPS = (0.0, 0.0, 0.01, 0.4, 1.0, 7.0)
# Many keys in one window, so that sweeps close more than 20 at once.
_DENSE_GAPS = (0.0,) * 40 + (0.001, 0.5, 1.0)


@st.composite
def storms(
    draw: st.DrawFn,
    *,
    keys: int,
    gaps: tuple[float, ...] = _GAPS,
    max_per_key: int = 6,
    min_events: int = 0,
    max_events: int = 120,
) -> tuple[LogLimit, list[Any]]:
    per_key = draw(st.integers(1, max_per_key))
    limit = LogLimit(
        per_key=per_key,
        total=draw(st.integers(per_key, 25)),
        window_s=draw(st.integers(1, 5)),
        max_keys=draw(st.integers(16, 40)),
    )
    pool = [
        (draw(st.sampled_from(_REASONS)), f"192.0.2.{i}", draw(st.sampled_from(("/a", "/b"))))
        for i in range(keys)
    ]
    now = T0
    events = []
    for index, gap in draw(
        st.lists(
            st.tuples(st.integers(0, keys - 1), st.sampled_from(gaps)),
            min_size=min_events,
            max_size=max_events,
        )
    ):
        now += gap * limit.window_s
        events.append((pool[index], now))
    return limit, events


@settings(max_examples=300, deadline=None)
@given(storms(keys=12))
def test_every_event_is_written_or_counted_once(storm: tuple[LogLimit, list[Any]]) -> None:
    run = _run(*storm)

    assert len(run.written) == len(run.events)
    assert run.written.count(True) + sum(s.count for s in run.summaries) == len(run.events)
    # At most 12 keys are open at once: no merging, so the count holds per key.
    for key in {key for key, _ in run.events}:
        sent = sum(1 for k, _ in run.events if k == key)
        kept = sum(1 for (k, _), w in zip(run.events, run.written, strict=True) if k == key and w)
        counted = sum(s.count for s in run.summaries if (s.reason, s.client, s.path) == key)
        assert kept + counted == sent
    assert all(s.count >= 1 and s.keys == 1 for s in run.summaries)
    assert all(s.window_s == run.limit.window_s for s in run.summaries)


@settings(max_examples=300, deadline=None)
@given(storms(keys=12))
def test_a_window_writes_at_most_per_key_and_total(storm: tuple[LogLimit, list[Any]]) -> None:
    """A key's window starts with its first event and lasts at least
    window_s: whatever falls in [start, start + window_s) shares one budget."""
    run = _run(*storm)
    limit = run.limit
    writes = [(key, now) for (key, now), w in zip(run.events, run.written, strict=True) if w]

    starts: dict[tuple[str, str | None, str | None], set[float]] = {}
    for key, now in run.events:
        starts.setdefault(key, {now})  # the first event opens the first window
    for summary in run.summaries:
        key = (summary.reason, summary.client, summary.path)
        # A window starts with an event of its own key.
        assert (key, summary.since) in run.events
        starts[key].add(summary.since)
    for key, opened in starts.items():
        for start in opened:
            inside = [
                now for k, now in writes if k == key and start <= now < start + limit.window_s
            ]
            assert len(inside) <= limit.per_key
    if run.events:
        first = run.events[0][1]
        assert sum(1 for _, now in writes if now < first + limit.window_s) <= limit.total
    # Any span shorter than a window meets at most two windows.
    for _, start in writes:
        keys = [k for k, now in writes if start <= now < start + limit.window_s]
        assert len(keys) <= 2 * limit.total
        assert max(Counter(keys).values()) <= 2 * limit.per_key


@settings(max_examples=200, deadline=None)
@given(storms(keys=12))
def test_nothing_is_suppressed_below_the_limits(storm: tuple[LogLimit, list[Any]]) -> None:
    limit, events = storm
    per_key = Counter(key for key, _ in events)
    if len(events) > limit.total or any(n > limit.per_key for n in per_key.values()):
        events = [event for event in events if per_key[event[0]] <= limit.per_key]
        events = events[: limit.total]
    run = _run(limit, events)

    assert all(run.written)
    assert run.summaries == []


@settings(max_examples=60, deadline=None)
@given(storms(keys=60, gaps=_DENSE_GAPS, max_per_key=2, min_events=150, max_events=300))
def test_counts_add_up_per_reason_with_overflow_and_merging(
    storm: tuple[LogLimit, list[Any]],
) -> None:
    """With more keys than max_keys or than summary lines, keys are merged,
    but every reason's count still adds up, and one sweep never writes more
    than 19 lines of its own plus one per reason."""
    limit, events = storm
    gate = FloodGate(limit)
    written: list[bool] = []
    sweeps: list[list[Suppressed]] = []
    for (reason, client, path), now in events:
        write, closed = gate.admit(reason, client, path, 401, now)
        written.append(write)
        sweeps.append(closed)
    sweeps.append(gate.flush(events[-1][1] if events else T0, everything=True))
    summaries = [s for sweep in sweeps for s in sweep]

    for reason in _REASONS:
        sent = [w for ((r, _, _), _), w in zip(events, written, strict=True) if r == reason]
        counted = sum(s.count for s in summaries if s.reason == reason)
        assert sent.count(True) + counted == len(sent)
    for sweep in sweeps:
        assert len(sweep) <= 19 + len({s.reason for s in sweep})
        merged = [s for s in sweep if s.keys > 1]
        assert len({s.reason for s in merged}) == len(merged)  # one merged line per reason
