"""The throttle's state in one process: the blocked table, the counter
(memory or Redis), the fleet's announcements, and what to do when the
storage fails. The adapters ask two questions of it: before the app, "is
this client or credential blocked?" (a dict lookup, no I/O); after a
failure we answer, "count it: is it over?" (one storage round trip)."""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from authhygiene.core.events import Event
from authhygiene.core.ratelimit import Quota
from authhygiene.throttle.blocked import Block, BlockedTable
from authhygiene.throttle.config import Throttle
from authhygiene.throttle.in_flight import InFlight
from authhygiene.throttle.keys import KeyMaker, Keys
from authhygiene.throttle.limit_text import Limit
from authhygiene.throttle.memory import MemoryCounter
from authhygiene.throttle.redis_store import RedisCounter, StorageError
from authhygiene.throttle.window import Counted, retry_in, used

__all__ = ["Over", "StorageError", "Tally", "ThrottleGate", "gate_for"]

# After Redis failed, it is not asked again for this long: a Redis that is
# down costs one timeout a second, not one per failure.
_BREAK_S = 1.0
_REPORT_EVERY_S = 60.0
_MISCONFIG_KIND = "throttle_storage_unavailable"


@dataclass(frozen=True, slots=True)
class Over:
    """A key over its limit: which limit (`by`), and the seconds to wait."""

    by: str
    limit: Limit
    retry_after: int
    key: str

    def facts(self) -> dict[str, object]:
        return {
            "retry_after": self.retry_after,
            "limit": self.limit.amount,
            "window_seconds": self.limit.window_s,
            "limited_by": self.by,
        }


@dataclass(frozen=True, slots=True)
class Tally:
    """A failure counted: the limit it was over, if any (it is refused 429
    itself), and where its keys stand in each limit (RateLimit fields)."""

    over: Over | None
    quotas: list[Quota]


_NOTHING = Tally(None, [])


def _wait(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class ThrottleGate:
    def __init__(self, throttle: Throttle, logger: Any) -> None:
        self.throttle = throttle
        self.shadow = throttle.mode == "shadow"
        self.logger = logger
        # The process's Prometheus counters (`authhygiene.metrics`), or None.
        self.metrics: Any = None
        self.table = BlockedTable(throttle.max_entries)
        self.in_flight = InFlight(throttle.max_entries)
        self._limits: tuple[tuple[str, Limit | None], ...] = (
            ("client", throttle.client_limit),
            ("credential", throttle.credential_limit),
        )
        self._down_until = 0.0
        self._reported_at = -math.inf
        self._lock = threading.Lock()
        self._maker: KeyMaker | None = None
        # Until this process listens to the fleet (`warm`): Redis storage
        # only. Nothing is started before the first request, so that no
        # thread runs in a process that forks its workers afterwards.
        self.cold = throttle.fleet
        self._shadowed: dict[str, float] = {}
        self.fleet: Any = None
        self.counter: MemoryCounter | RedisCounter
        if throttle.fleet:
            from authhygiene.throttle.fleet import Fleet

            self.counter = RedisCounter(
                throttle.storage, prefix=throttle.key_prefix, timeout=throttle.timeout
            )
            self.fleet = Fleet(
                throttle.storage,
                throttle.key_prefix,
                throttle.timeout,
                self._heard,
                throttle.max_entries,
                self._ready,
            )
        else:
            self.counter = MemoryCounter(throttle.max_entries)
            self._maker = KeyMaker(throttle.key_prefix, os.urandom(32))
        _gates.add(self)

    # --- keys ---------------------------------------------------------------

    def forked(self) -> None:
        self._lock = threading.Lock()
        self.in_flight.forked()
        self.table.forked()
        self.counter.forked()
        if self.fleet is not None:
            self.fleet.forked()
            self.cold = True

    def busy(self) -> bool:
        """At every request: whether anything is blocked in this process, so
        that the request's keys are worth computing (the common answer, no,
        costs this call), or whether this process has yet to `warm`."""
        return self.cold or bool(self.table.blocks)

    def warm(self) -> None:
        """Once per process, at its first request (in a worker thread under
        ASGI): start listening to the fleet and wait, a bounded moment, for
        the blocks already running, so that a worker that has served
        nothing yet refuses them too. Redis away: the wait is `timeout`
        twice at most, once; the listener keeps trying on its own."""
        fleet = self.fleet
        if fleet is not None and self.cold:
            fleet.start()
            fleet.listening.wait(min(2 * self.throttle.timeout, 2.0))
        self.cold = False

    def _ready(self) -> None:
        """The fleet's listener reached Redis (again): the hash key, read
        afresh (a Redis that restarted without it has a new one)."""
        if isinstance(self.counter, RedisCounter):
            secret = self.counter.secret(again=True)
            if self._maker is None or self._maker.secret != secret:
                self._maker = KeyMaker(self.throttle.key_prefix, secret)

    def keys(self, client: str | None, material: str | None) -> Keys | None:
        """The request's keys; None while the fleet's hash key is unknown."""
        maker = self._maker
        return None if maker is None else maker.keys(client, material)

    def items(self, keys: Keys) -> list[tuple[str, Limit, str]]:
        """(key, limit, by) for each limit the request is counted by."""
        found = []
        for by, limit in self._limits:
            key = keys.client if by == "client" else keys.credential
            if key is not None and limit is not None:
                found.append((key, limit, by))
        return found

    # --- before the app -------------------------------------------------------

    def blocked(self, keys: Keys, now: float) -> Over | None:
        for key, limit, by in self.items(keys):
            block = self.table.get(key, now)
            if block is not None:
                return Over(by, limit, _wait(block.until - now), key)
        return None

    def first_shadow(self, over: Over, now: float) -> bool:
        """Shadow mode: whether this block of `over.key` is not told yet."""
        with self._lock:
            told = self._shadowed.get(over.key)
            if told is not None and told > now:
                return False
            if len(self._shadowed) >= self.throttle.max_entries:
                self._shadowed.clear()
            self._shadowed[over.key] = now + over.retry_after
        self._count("shadow", over.by)
        return True

    def _heard(self, key: str, block: Block) -> None:
        self.table.add(key, block, time.time())

    # --- after a failure ------------------------------------------------------

    def count(
        self, client: str | None, material: str | None, now: float, proof: str | None = None
    ) -> Tally:
        """Count a failure (sync storage call)."""
        self._usable(now)
        if self._maker is None:
            assert isinstance(self.counter, RedisCounter)
            self._maker = KeyMaker(
                self.throttle.key_prefix, self._guarded(self.counter.secret, now)
            )
        items = self.items(self._maker.keys(client, material))
        if not items:
            return _NOTHING
        counted = self._guarded(
            lambda: self.counter.count([(key, limit) for key, limit, _ in items], now), now
        )
        tally, news = self.judged(items, counted, now)
        self._note_failure(material, proof, tally)
        if news and isinstance(self.counter, RedisCounter):
            with contextlib.suppress(Exception):  # the others learn by counting
                self.counter.announce(news, now)
        return tally

    async def acount(
        self, client: str | None, material: str | None, now: float, proof: str | None = None
    ) -> Tally:
        """`count`, awaiting the storage (ASGI)."""
        self._usable(now)
        if self._maker is None:
            assert isinstance(self.counter, RedisCounter)
            try:
                secret = await self.counter.asecret()
            except Exception as exc:  # never raise past the refusal path
                raise self._failed(_storage_error(exc), now) from None
            self._maker = KeyMaker(self.throttle.key_prefix, secret)
        items = self.items(self._maker.keys(client, material))
        if not items:
            return _NOTHING
        try:
            counted = await self.counter.acount([(key, limit) for key, limit, _ in items], now)
        except Exception as exc:  # never raise past the refusal path
            raise self._failed(_storage_error(exc), now) from None
        tally, news = self.judged(items, counted, now)
        self._note_failure(material, proof, tally)
        if news and isinstance(self.counter, RedisCounter):
            with contextlib.suppress(Exception):  # the others learn by counting
                await self.counter.aannounce(news, now)
        return tally

    def _note_failure(self, material: str | None, proof: str | None, tally: Tally) -> None:
        """Requests in flight with this credential: one failed, and what is
        left of its budget (`in_flight`)."""
        if material is None or self.throttle.credential_limit is None:
            return
        left = next((q.remaining for q in tally.quotas if q.name.endswith("credential")), None)
        self.in_flight.failed(InFlight.key(material), InFlight.key(proof or material), left)

    def judged(
        self, items: Sequence[tuple[str, Limit, str]], counted: Sequence[Counted], now: float
    ) -> tuple[Tally, list[tuple[str, Block]]]:
        """Block every key this failure filled up; the tally (the first key
        it was already over, and each key's quota), and the blocks that are
        news to this process (for the fleet)."""
        over = None
        news: list[tuple[str, Block]] = []
        quotas = []
        for (key, limit, by), result in zip(items, counted, strict=True):
            window = result.window
            left = max(limit.amount - used(limit, window), 0)
            wait = retry_in(limit, window) if not left or not result.acquired else 0.0
            # Until every counted failure stops weighing: the quota is whole again.
            whole = max(window.current_ttl, window.previous_ttl, wait)
            quotas.append(
                Quota(f"failures-per-{by}", limit.amount, limit.window_s, left, _wait(whole))
            )
            if left and result.acquired:
                continue
            until = now + max(wait, 0.001)
            if self.table.add(key, Block(until, by), now):
                news.append((key, Block(until, by)))
                self._count("blocked", by)
            if not result.acquired and over is None:
                over = Over(by, limit, _wait(wait), key)
        return Tally(over, quotas), news

    # --- the storage failing ------------------------------------------------

    def _usable(self, now: float) -> None:
        if now < self._down_until:
            raise StorageError("unavailable")

    def _guarded(self, work: Any, now: float) -> Any:
        try:
            return work()
        except Exception as exc:  # never raise past the refusal path
            raise self._failed(_storage_error(exc), now) from None

    def _count(self, event: str, by: str = "none") -> None:
        if self.metrics is not None:
            with contextlib.suppress(Exception):  # the counters never stop an answer
                self.metrics.throttle(event, by)

    def _failed(self, exc: StorageError, now: float) -> StorageError:
        """Stop asking for a while; say so in the log once a minute."""
        self._count("storage_error")
        with self._lock:
            self._down_until = now + _BREAK_S
            report = now - self._reported_at >= _REPORT_EVERY_S
            if report:
                self._reported_at = now
        if report:
            with contextlib.suppress(Exception):  # the app's logger
                self.logger.warning(
                    Event.MISCONFIG.value,
                    kind=_MISCONFIG_KIND,
                    error=exc.kind,
                    on_storage_error=self.throttle.on_storage_error,
                    fix="check that the throttle's Redis is up and reachable from this server;"
                    + (
                        " failures are not counted meanwhile"
                        if self.throttle.on_storage_error == "open"
                        else " failures are answered 503 meanwhile"
                    ),
                )
        return exc

    def close(self) -> None:
        if self.fleet is not None:
            self.fleet.close()
        if isinstance(self.counter, RedisCounter):
            self.counter.close()


_shared_lock = threading.Lock()
_gates: weakref.WeakSet[ThrottleGate] = weakref.WeakSet()


def _forked() -> None:
    """In a forked child (gunicorn's workers of a preloaded app): a lock
    another thread held at the fork stays held, and threads do not come
    along; each gate starts afresh, its counts and blocks kept."""
    global _shared_lock
    _shared_lock = threading.Lock()
    for gate in list(_gates):
        gate.forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def _storage_error(exc: Exception) -> StorageError:
    """`exc` as a StorageError, by its type's name only (never its text)."""
    return exc if isinstance(exc, StorageError) else StorageError(type(exc).__name__)


def gate_for(throttle: Throttle, logger: Any, metrics: Any = None) -> ThrottleGate:
    """The gate of `throttle` in this process: one per Throttle, shared by
    every middleware built from it (the last one's logger reports)."""
    with _shared_lock:
        gate = throttle._state
        if gate is None:
            gate = ThrottleGate(throttle, logger)
            object.__setattr__(throttle, "_state", gate)
        gate.logger = logger
        gate.metrics = metrics
        return gate  # type: ignore[no-any-return]
