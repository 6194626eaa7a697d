"""Tokens that verified, remembered so a repeated token costs one hash.

A signature check costs 30-100 µs; a client sends the same token on every
request until it expires. What is kept per token is its claims and until
when they may be trusted, under a keyed hash of the token: the token itself
is never kept, and the key (random per process) means a memory dump or a
log of digests cannot be matched against tokens seen elsewhere.

An entry is trusted until the earliest of the token's `exp`, `iat` plus
`max_age`, and now plus `seconds` (the cap: a token without `exp` is kept
for the cap only, the bug class where a cache kept admitting a token past
its life, as fast-jwt's did for tokens without `iat`). A failure is never
kept: the next try verifies again. Bounded in entries and in bytes; the
oldest entries go first.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

from authhygiene.core.verdict import Verified

__all__ = ["VerifiedCache"]

# Until when, the verified claims, what the entry costs in bytes.
_Entry = tuple[float, Verified, int]

# What an entry costs besides the token's own length (the claims are at
# most as large as the token they came from): the digest, the tuple, the
# dict slot.
_ENTRY_OVERHEAD = 240


class VerifiedCache:
    """Verified tokens by a keyed hash, each until it may no longer be trusted."""

    __slots__ = ("_bytes", "_entries", "_key", "_lock", "max_bytes", "max_entries", "seconds")

    def __init__(self, *, seconds: int, max_entries: int, max_bytes: int) -> None:
        self.seconds, self.max_entries, self.max_bytes = seconds, max_entries, max_bytes
        # SHA-256 over a per-process random prefix: a keyed hash (the digest
        # is never shown, so length extension gives nothing), and the
        # cheapest one here (copying a primed object beats HMAC 4x).
        self._key = hashlib.sha256(os.urandom(32))
        # Ordered by age; `popitem(last=False)` is O(1), where taking a plain
        # dict's first key scans the slots its evictions left behind.
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def digest(self, token: str) -> bytes:
        keyed = self._key.copy()
        keyed.update(token.encode("utf-8", "surrogatepass"))
        return keyed.digest()

    def get(self, digest: bytes, now: float) -> Verified | None:
        """The verified claims for this digest, while they may be trusted.
        Lock-free: a dict read is atomic, and an entry past its time is only
        passed over (`put` evicts)."""
        entry = self._entries.get(digest)
        if entry is None or now >= entry[0]:
            return None
        return entry[1]

    def put(
        self, digest: bytes, verified: Verified, now: float, cost: int, not_after: float | None
    ) -> Verified:
        """Keep `verified` until it may no longer be trusted (`not_after`: a
        limit of the verifier's own, `iat` plus `max_age`), and hand it on.
        Its claims must be read-only (the next caller gets the same object)."""
        until = now + self.seconds
        exp = _expiry(verified.claims.get("exp"), now)
        if exp is not None and exp < until:
            until = exp
        if not_after is not None and not_after < until:
            until = not_after
        size = cost + _ENTRY_OVERHEAD
        if until <= now or size > self.max_bytes:
            return verified
        entries = self._entries
        with self._lock:
            old = entries.pop(digest, None)
            if old is not None:
                self._bytes -= old[2]
            while entries and (
                len(entries) >= self.max_entries or self._bytes + size > self.max_bytes
            ):
                # Insertion order is age: the oldest goes first.
                self._bytes -= entries.popitem(last=False)[1][2]
            entries[digest] = (until, verified, size)
            self._bytes += size
        return verified

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes


def _oldest(
    entries: dict[bytes, tuple[float, Verified, int]],
) -> tuple[bytes, tuple[float, Verified, int]]:
    digest = next(iter(entries))
    return digest, entries.pop(digest)


def _expiry(exp: object, now: float) -> float | None:
    """`exp` as pyjwt judged it (`int(exp)`: a number, or a string of
    digits), None without one; `now` (never cached) for anything else, so a
    form pyjwt reads and we would not never outlives the token."""
    if exp is None:
        return None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return exp
    if isinstance(exp, str) and len(exp) <= 20:
        try:
            return int(exp)
        except ValueError:
            return now
    return now
