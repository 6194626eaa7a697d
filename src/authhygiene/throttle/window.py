"""The sliding-window counter, as the `limits` library keeps it in Redis
(its `acquire_sliding_window.lua`): a current window and the one before it,
the one before weighing what is left of its time. These functions read a
window after a failure was counted; `memory` keeps the same windows in the
process, so both storages block at the same count for the same time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from authhygiene.throttle.limit_text import Limit

__all__ = ["Counted", "Window", "retry_in", "used"]


@dataclass(frozen=True, slots=True)
class Window:
    """A key's two windows: counts, and the seconds each key still lives
    (the current one is created to live two windows; it is the current
    window for the first, and weighs as the previous one for the second)."""

    previous: int
    previous_ttl: float
    current: int
    current_ttl: float


def used(limit: Limit, window: Window) -> int:
    """The failures the window holds, as `limits` weighs them (floored)."""
    weight = max(window.previous_ttl, 0.0) / limit.window_s
    return math.floor(window.previous * weight) + window.current


def retry_in(limit: Limit, window: Window) -> float:
    """Seconds until one more failure fits in the window (0: it fits now)."""
    amount, span = limit.amount, limit.window_s
    if used(limit, window) < amount:
        return 0.0
    shift = max(window.current_ttl - span, 0.0)  # when the current window becomes the previous
    room = amount - window.current
    if room >= 1 and window.previous > 0:
        # The previous window's weight has to fall below `room`.
        wait = window.previous_ttl - room * span / window.previous
        if wait <= shift:
            return max(wait, 0.0)
    if window.current <= 0:
        return shift
    # After the shift the current count weighs as the previous one, fading.
    return shift + max(span * (1 - amount / window.current), 0.0)


@dataclass(frozen=True, slots=True)
class Counted:
    """One failure counted under one key: whether it fit under the limit,
    and the key's window after it."""

    acquired: bool
    window: Window
