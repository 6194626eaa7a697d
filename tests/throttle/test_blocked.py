"""The blocked-until table: a lookup, the later block wins, expired blocks
go, and a flood of distinct keys cannot grow it."""

from __future__ import annotations

from authhygiene.throttle.blocked import Block, BlockedTable


def test_a_block_holds_until_it_expires() -> None:
    table = BlockedTable(16)
    assert not table
    assert table.add("k", Block(100.0, "client"), now=10.0)
    assert table.get("k", 50.0) == Block(100.0, "client")
    assert table.get("k", 100.0) is None  # expired: gone
    assert not table


def test_the_later_block_wins_and_an_earlier_one_is_no_news() -> None:
    table = BlockedTable(16)
    table.add("k", Block(100.0, "credential"), now=0.0)
    assert not table.add("k", Block(50.0, "credential"), now=0.0)
    assert table.get("k", 60.0) == Block(100.0, "credential")
    assert not table.add("k", Block(200.0, "credential"), now=0.0)  # known, extended
    assert table.get("k", 150.0) == Block(200.0, "credential")


def test_a_flood_of_distinct_keys_is_bounded() -> None:
    table = BlockedTable(16)
    table.add("early", Block(5.0, "client"), now=0.0)
    for index in range(1000):
        table.add(f"k{index}", Block(1e6, "client"), now=10.0 + index)
    assert len(table) == 16
    assert table.get("early", 11.0) is None
    assert table.get("k999", 500.0) is not None  # the newest stay


def test_a_full_table_sweeps_what_expired_before_it_drops_a_running_block() -> None:
    table = BlockedTable(16)
    table.add("running", Block(1000.0, "client"), now=0.0)
    for index in range(15):
        table.add(f"short{index}", Block(1.0, "client"), now=0.0)
    table.add("new", Block(1000.0, "client"), now=5.0)
    assert table.get("running", 6.0) is not None
    assert table.get("new", 6.0) is not None
