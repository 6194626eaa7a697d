"""`Throttle`'s limits: the `limits` grammar, bounded, every mistake a
PolicyError that says what to write (and never a crash on any text)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhygiene.core.option_error import PolicyError
from authhygiene.throttle.limit_text import Limit, parse_limit

READ = [
    ("5/minute", 5, 60),
    ("30 per minute", 30, 60),
    ("30 per 10 minutes", 30, 600),
    ("100/hour", 100, 3600),
    ("3/2 seconds", 3, 2),
    ("  7/day ", 7, 86_400),
    ("1000000/second", 1_000_000, 1),
]


@pytest.mark.parametrize(("text", "amount", "window"), READ)
def test_a_limit_is_read_as_the_limits_library_reads_it(
    text: str, amount: int, window: int
) -> None:
    limit = parse_limit("per_client", text)
    assert (limit.amount, limit.window_s) == (amount, window)
    assert str(limit) == text.strip()


REFUSED = [
    ("0/minute", "1 to 1,000,000"),
    ("2000000/minute", "1 to 1,000,000"),
    ("5/0 minutes", "one limit"),
    ("5/minute;10/hour", "one limit"),
    ("5/minute, 10/hour", "one limit"),
    ("five a minute", "could not be read"),
    ("", "could not be read"),
    ("5/fortnight", "could not be read"),
    ("5/8 days", "seven days"),
    ("5/" + "9" * 80 + " minutes", "at most 64"),
    (5, "got int"),
    (None, "got NoneType"),
    (b"5/minute", "got bytes"),
]


@pytest.mark.parametrize(("value", "said"), REFUSED)
def test_a_wrong_limit_says_what_to_write(value: object, said: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_limit("per_credential", value)
    assert said in str(raised.value)
    assert "per_credential" in str(raised.value)


def test_a_limit_already_read_is_kept() -> None:
    limit = Limit(3, 60, "3/minute")
    assert parse_limit("per_client", limit) is limit


@given(st.text(max_size=200))
def test_any_text_is_a_limit_or_a_policy_error(text: str) -> None:
    try:
        limit = parse_limit("per_client", text)
    except PolicyError as exc:
        said = str(exc)
    else:
        assert 1 <= limit.amount <= 1_000_000
        assert 1 <= limit.window_s <= 7 * 86_400
        return
    assert len(said) < 400
    assert said.startswith("authhygiene: Throttle(per_client=...)")


@given(
    st.integers(min_value=-5, max_value=2_000_000),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(["second", "seconds", "minute", "minutes", "hour", "hours", "day", "days"]),
    st.sampled_from(["/", " per ", " / "]),
)
def test_numbers_and_units_in_any_combination(amount: int, many: int, unit: str, sep: str) -> None:
    text = f"{amount}{sep}{many} {unit}"
    try:
        limit = parse_limit("per_client", text)
    except PolicyError:
        return
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86_400}[unit[0]]
    assert limit.amount == amount
    assert limit.window_s == many * seconds
