"""Work counted, not timed: how many calls (Python and C) a function makes,
through `sys.setprofile` (coverage's tracer, `sys.settrace`, is left alone).
Pass/fail tests judge growth with it (a scan twice as long may do about
twice the work, not four times); seconds belong in benchmarks/."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["grows_linearly", "steps"]


def steps(function: Callable[..., Any], *args: Any) -> int:
    """Calls made by `function(*args)`, after a first call that warms what
    is built once (compiled patterns, lazily made tables)."""
    function(*args)
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        count += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        function(*args)
    finally:
        sys.setprofile(previous)
    return count


def grows_linearly(
    function: Callable[[Any], Any], make: Callable[[int], Any], size: int
) -> tuple[int, int]:
    """The steps for an input of `size` and of twice that; the caller
    asserts on them (returned so a failure shows both)."""
    return steps(function, make(size)), steps(function, make(2 * size))
