"""Requests in flight with one credential, so that a burst cannot outrun
the count. Failures are counted when they are answered; without this, fifty
guesses sent at once all reach the app before the first is counted (an
attack measured it: fifty password checks against a limit of five, the
right password among them answered 200).

A credential this process has not yet seen succeed ("unproven"; for Basic,
the user name with that password) gets at most its remaining budget (the
user name's, for Basic) in flight at once; further requests with it wait
(bounded) for one of those to finish: a failure counted fills the budget
and the waiters are refused 429; a success proves the credential, and from
then on its requests never wait (a valid token's parallel calls, the
common case, pay one dict lookup). Per process: with Redis, each worker
admits at most the budget it knows of in flight.

Credentials are held by a keyed 64-bit hash of their text (Python's
`hash()`, keyed per process), never as text; the tables are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

__all__ = ["InFlight", "Ticket", "Waiter", "deadline"]

# How long a request waits for a slot at most; then it goes on (the count
# still refuses what is over).
_WAIT_S = 5.0
_MAX_WAITERS = 1024


@dataclass(slots=True)
class Ticket:
    """One request's slot: `key` (the credential's hash), and the failures
    counted for it when the request entered."""

    key: int
    failures: int
    proof: int
    left: bool = False


class Waiter:
    """A request waiting for a slot until `until` (monotonic): on a
    threading Event (sync adapters) or a Future of its event loop."""

    __slots__ = ("event", "future", "loop", "until")

    def __init__(self, loop: asyncio.AbstractEventLoop | None, until: float) -> None:
        self.loop, self.until = loop, until
        self.future: asyncio.Future[None] | None = loop.create_future() if loop else None
        self.event = None if loop else threading.Event()

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()
        elif self.loop is not None and self.future is not None:
            with contextlib.suppress(RuntimeError):  # its loop closed: nobody waits
                self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class InFlight:
    def __init__(self, max_entries: int) -> None:
        self._lock = threading.Lock()
        self._max = max_entries
        self._flying: dict[int, int] = {}
        self._waiting: dict[int, deque[Waiter]] = {}
        self._proven: OrderedDict[int, None] = OrderedDict()
        # Per credential: failures counted here, and the budget last known left.
        self._failures: OrderedDict[int, int] = OrderedDict()
        self._left: OrderedDict[int, tuple[int, float]] = OrderedDict()

    def forked(self) -> None:
        self._lock = threading.Lock()
        self._flying.clear()
        self._waiting.clear()

    @staticmethod
    def key(material: str) -> int:
        return hash(("authhygiene-in-flight", material))

    def proven(self, key: int) -> bool:
        return key in self._proven

    def _room(self, key: int, budget: int) -> bool:
        # One at a time at least: a budget known to be spent is the blocked
        # table's to refuse (and it may have run out since), never a wait
        # with nothing in flight to end it.
        known = self._left.get(key)
        left = budget if known is None else known[0]
        return self._flying.get(key, 0) < max(left, 1)

    def try_enter(self, key: int, budget: int, proof: int) -> Ticket | None:
        """A slot for `key` now, or None (wait: `waiter`, then try again);
        `proof` is the credential itself, proven if the request succeeds."""
        with self._lock:
            if proof in self._proven or self._room(key, budget):
                self._flying[key] = self._flying.get(key, 0) + 1
                return Ticket(key, self._failures.get(key, 0), proof)
        return None

    def force_enter(self, key: int, proof: int) -> Ticket:
        """A slot whatever the budget: a request that waited its time goes
        on (and the count refuses what is over), its success still proving
        the credential, so that the next ones do not wait again."""
        with self._lock:
            self._flying[key] = self._flying.get(key, 0) + 1
            return Ticket(key, self._failures.get(key, 0), proof)

    def waiter(
        self, key: int, loop: asyncio.AbstractEventLoop | None, until: float
    ) -> Waiter | None:
        """A place in the queue for `key` (None: the queue is full)."""
        with self._lock:
            queue = self._waiting.setdefault(key, deque())
            if len(queue) >= _MAX_WAITERS or len(self._waiting) > self._max:
                return None
            waiter = Waiter(loop, until)
            queue.append(waiter)
            return waiter

    def forget(self, key: int, waiter: Waiter) -> None:
        with self._lock:
            queue = self._waiting.get(key)
            if queue is not None:
                with contextlib.suppress(ValueError):  # woken: already taken out
                    queue.remove(waiter)
                if not queue:
                    del self._waiting[key]

    def failed(self, key: int, proof: int, left: int | None) -> None:
        """A failure with this credential was counted (`left`: its budget)."""
        with self._lock:
            self._failures[key] = self._failures.get(key, 0) + 1
            self._failures.move_to_end(key)
            self._proven.pop(proof, None)
            if left is not None:
                # Failures in flight together are counted in any order: the
                # least that one of them left is what is left; a count a
                # second older is superseded (the window moved on).
                now = time.monotonic()
                known, at = self._left.get(key, (left, now))
                self._left[key] = (min(known, left) if now - at < 1.0 else left, now)
                self._left.move_to_end(key)
            for table in (self._failures, self._left):
                while len(table) > self._max:
                    table.popitem(last=False)

    def leave(self, ticket: Ticket, *, prove: bool = True) -> None:
        """The request is over: free its slot, wake the waiters; a request
        that ended without a failure counted proves its credential (unless
        `prove` is False: it never reached the app). Once per ticket,
        whichever path ends the request first."""
        if ticket.left:
            return
        ticket.left = True
        key = ticket.key
        with self._lock:
            flying = self._flying.get(key, 1) - 1
            if flying > 0:
                self._flying[key] = flying
            else:
                # What is left of the budget stays known: a burst that comes
                # in waves must not start each wave with a whole budget.
                self._flying.pop(key, None)
            if prove and self._failures.get(key, 0) == ticket.failures:
                self._proven[ticket.proof] = None
                self._proven.move_to_end(ticket.proof)
                while len(self._proven) > self._max:
                    self._proven.popitem(last=False)
            # Every waiter looks again: a success lets them all in, a failure
            # may have blocked the credential, a slot lets one in.
            waiters = self._waiting.pop(key, ())
        for waiter in waiters:
            waiter.wake()


def deadline() -> float:
    return time.monotonic() + _WAIT_S
