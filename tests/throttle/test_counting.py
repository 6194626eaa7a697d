"""The sliding-window counter in memory: the `limits` script's arithmetic,
the wait it announces (Retry-After) is the wait that is true, bounded in
entries, exact under threads."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene.throttle.limit_text import Limit
from authhygiene.throttle.memory import MemoryCounter
from authhygiene.throttle.window import Window, retry_in, used

FIVE = Limit(5, 60, "5/minute")


WINDOWS = [
    # (window, used, retry_in): what `limits` weighs, and the wait until one more fits
    (Window(0, 0, 0, 0), 0, 0.0),
    (Window(0, 0, 5, 120), 5, 60.0),  # five in a fresh window: wait for it to become the previous
    (Window(0, 0, 5, 90), 5, 30.0),
    (Window(5, 30, 0, 90), 2, 0.0),  # the previous window's five weigh half: room left
    (Window(10, 30, 0, 90), 5, 0.0 + 30 - 5 * 60 / 10),  # weight must fall under 5
    (Window(4, 60, 3, 120), 7, 60 - 2 * 60 / 4),
    (Window(0, 0, 10, 61), 10, 1 + 60 * (1 - 5 / 10)),
]


@pytest.mark.parametrize(("window", "count", "wait"), WINDOWS)
def test_the_window_is_weighed_as_limits_weighs_it(window: Window, count: int, wait: float) -> None:
    assert used(FIVE, window) == count
    assert retry_in(FIVE, window) == pytest.approx(wait)


def _fill(counter: MemoryCounter, limit: Limit, times: list[float]) -> float:
    """Count failures at `times`; the time of the last one."""
    for when in times:
        counter.count([("k", limit)], when)
    return times[-1] if times else 0.0


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=8),
    span=st.integers(min_value=1, max_value=120),
    gaps=st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=30),
)
def test_the_announced_wait_is_the_true_wait(amount: int, span: int, gaps: list[float]) -> None:
    """Whatever came before: one more failure fits `retry_in` seconds from
    now, and (when that is more than a moment) not a little before it."""
    limit = Limit(amount, span, f"{amount}/{span} seconds")
    now = 1_000_000.0
    counter = MemoryCounter(64)
    for gap in gaps:
        now += gap
        counter.count([("k", limit)], now)
    result = counter.count([("k", limit)], now)[0]
    wait = retry_in(limit, result.window)
    if result.acquired and used(limit, result.window) < amount:
        assert wait == 0
        return
    # Copies of the counter, probed just before and just after the wait.
    later = MemoryCounter(64)
    _replay(later, limit, gaps, now)
    assert later.count([("k", limit)], now + wait + 0.01)[0].acquired
    if wait > 0.05:
        sooner = MemoryCounter(64)
        _replay(sooner, limit, gaps, now)
        assert not sooner.count([("k", limit)], now + wait - 0.05)[0].acquired


def _replay(counter: MemoryCounter, limit: Limit, gaps: list[float], end: float) -> None:
    now = 1_000_000.0
    for gap in gaps:
        now += gap
        counter.count([("k", limit)], now)
    counter.count([("k", limit)], end)


def test_the_limit_holds_exactly_under_eight_threads() -> None:
    limit = Limit(1000, 60, "1000/minute")
    counter = MemoryCounter(1024)
    acquired: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = [counter.count([("shared", limit)], 5_000.0)[0].acquired for _ in range(250)]
        with lock:
            acquired.extend(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acquired) == 2000
    assert sum(acquired) == 1000  # exactly the limit, however the threads interleave


def test_memory_is_bounded_in_entries_and_forgets_the_least_recent() -> None:
    limit = Limit(2, 60, "2/minute")
    counter = MemoryCounter(16)
    counter.count([("first", limit)], 10.0)
    counter.count([("first", limit)], 10.0)
    for index in range(100):
        counter.count([(f"flood-{index}", limit)], 11.0)
    assert len(counter) == 16
    # "first" was pushed out: its failures are forgotten, not kept forever.
    assert counter.count([("first", limit)], 12.0)[0].acquired


def test_two_keys_are_counted_in_one_call() -> None:
    counter = MemoryCounter(16)
    one, two = Limit(1, 60, "1/minute"), Limit(3, 60, "3/minute")
    results = counter.count([("a", one), ("b", two)], 0.0)
    assert [r.acquired for r in results] == [True, True]
    results = counter.count([("a", one), ("b", two)], 1.0)
    assert [r.acquired for r in results] == [False, True]
    assert used(two, results[1].window) == 2
