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
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from authhygiene.core.verdict import Verified

__all__ = ["VerifiedCache"]

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
        self._entries: dict[bytes, tuple[float, Verified, int]] = {}
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
        """Keep `verified` (its claims made read-only) until it may no longer
        be trusted (`not_after`: a limit of the verifier's own, `iat` plus
        `max_age`); the kept value, which the caller hands on."""
        until = self._until(verified.claims, now)
        if not_after is not None:
            until = min(until, not_after)
        claims = verified.claims
        # Read-only, so no caller can change what the next one is handed
        # (pyjwt's dict is fresh and referenced nowhere else: no copy).
        kept = Verified(
            claims if isinstance(claims, MappingProxyType) else MappingProxyType(claims)
        )
        if until <= now or self.seconds <= 0:
            return kept
        size = cost + _ENTRY_OVERHEAD
        if size > self.max_bytes:
            return kept
        with self._lock:
            old = self._entries.pop(digest, None)
            if old is not None:
                self._bytes -= old[2]
            while self._entries and (
                len(self._entries) >= self.max_entries or self._bytes + size > self.max_bytes
            ):
                # Insertion order is age: the oldest goes first.
                _, evicted = _oldest(self._entries)
                self._bytes -= evicted[2]
            self._entries[digest] = (until, kept, size)
            self._bytes += size
        return kept

    def _until(self, claims: Mapping[str, Any], now: float) -> float:
        until = now + self.seconds
        exp = _number(claims.get("exp"))
        if exp is not None:
            until = min(until, exp)
        return until

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


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
