"""Counting in this process ("memory://"): the `limits` sliding-window
counter's Redis script, step for step, over a bounded table. `limits`' own
MemoryStorage is not used because it has no bound (a flood of distinct
credentials would grow it for two windows) and starts a timer thread at
every count."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from authhygiene.throttle.limit_text import Limit
from authhygiene.throttle.window import Counted, Window, used

__all__ = ["MemoryCounter"]


class _Slot:
    """One key's two windows: counts, and when each stops counting."""

    __slots__ = ("current", "current_end", "previous", "previous_end")

    def __init__(self) -> None:
        self.previous, self.previous_end = 0, 0.0
        self.current, self.current_end = 0, 0.0

    def window(self, now: float) -> Window:
        previous_ttl = self.previous_end - now
        current_ttl = self.current_end - now
        return Window(
            self.previous if previous_ttl > 0 else 0,
            max(previous_ttl, 0.0),
            self.current if current_ttl > 0 else 0,
            max(current_ttl, 0.0),
        )


class MemoryCounter:
    """Bounded in entries (each a fixed-size slot under a fixed-size key:
    bounded in bytes too); the least recently counted key goes first."""

    def __init__(self, max_entries: int) -> None:
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def forked(self) -> None:
        """In a forked child: a lock another thread held stays held."""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._slots)

    def count(self, items: Sequence[tuple[str, Limit]], now: float) -> list[Counted]:
        with self._lock:
            return [self._acquire(key, limit, now) for key, limit in items]

    async def acount(self, items: Sequence[tuple[str, Limit]], now: float) -> list[Counted]:
        return self.count(items, now)

    def _slot(self, key: str) -> _Slot:
        slot = self._slots.get(key)
        if slot is None:
            if len(self._slots) >= self._max:
                self._slots.popitem(last=False)
            slot = self._slots[key] = _Slot()
        else:
            self._slots.move_to_end(key)
        return slot

    def _acquire(self, key: str, limit: Limit, now: float) -> Counted:
        span = limit.window_s
        slot = self._slot(key)
        current_ttl = slot.current_end - now
        if 0 < current_ttl < span:
            # The current window is over: it weighs as the previous one now.
            slot.previous, slot.previous_end = slot.current, slot.current_end
            slot.current, slot.current_end = 0, slot.current_end + span
        window = slot.window(now)
        if used(limit, window) + 1 > limit.amount:
            return Counted(False, window)
        if window.current_ttl > 0:
            slot.current += 1
        else:
            slot.current, slot.current_end = 1, now + 2 * span
        return Counted(True, slot.window(now))
