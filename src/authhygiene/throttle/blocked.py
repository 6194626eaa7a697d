"""Which keys this process refuses right now, and until when: a dict
lookup on every request while anything is blocked, nothing when nothing is.
Filled when this process counts a key to its limit, and from the other
workers' announcements (`fleet`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Block", "BlockedTable"]


@dataclass(frozen=True, slots=True)
class Block:
    """A key refused until `until` (seconds since the epoch): by which of
    the Throttle's limits (`by`: "client" or "credential")."""

    until: float
    by: str


class BlockedTable:
    """Bounded in entries (a block is a key of at most 96 characters and a
    float: the bound is one in bytes too). Full, it drops what has expired,
    then the oldest block: a flood of distinct keys cannot grow it."""

    def __init__(self, max_entries: int) -> None:
        # Read as is by `ThrottleGate.busy` at every request: empty, or not.
        self.blocks: dict[str, Block] = {}
        self._max = max_entries
        self._lock = threading.Lock()
        self._swept_at = 0.0

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def forked(self) -> None:
        """In a forked child: a lock another thread held stays held."""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.blocks)

    def get(self, key: str, now: float) -> Block | None:
        block = self.blocks.get(key)
        if block is None:
            return None
        if block.until <= now:
            with self._lock:
                if self.blocks.get(key) is block:
                    del self.blocks[key]
            return None
        return block

    def add(self, key: str, block: Block, now: float) -> bool:
        """Record `block` (the later one wins); True when it is news."""
        with self._lock:
            known = self.blocks.get(key)
            if known is not None and known.until >= block.until:
                return False
            if known is None and len(self.blocks) >= self._max:
                self._make_room(now)
            self.blocks.pop(key, None)
            self.blocks[key] = block
            return known is None or known.until <= now

    def _make_room(self, now: float) -> None:
        # A sweep walks the table: at most once a second, so a stream of new
        # blocks into a full table costs one eviction each.
        if now - self._swept_at >= 1.0:
            self._swept_at = now
            for key in [key for key, block in self.blocks.items() if block.until <= now]:
                del self.blocks[key]
        while len(self.blocks) >= self._max:
            del self.blocks[next(iter(self.blocks))]
