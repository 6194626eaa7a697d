"""How every worker learns that a key is blocked without asking Redis on
every request: the worker that blocks a key announces it on a Redis
pub/sub channel, and records it in a sorted set, before it answers the
failure that filled the key (`RedisCounter.announce`); every worker listens
on the channel in a thread of its own, and reads the set whenever it
(re)subscribes.

Pub/sub rather than a once-a-second read of the set: the announcement is
on its way before the client even has its answer, so the client's next
try finds the key blocked on every worker, and an idle fleet costs Redis
nothing. The set covers what pub/sub cannot: a worker that starts, or
reconnects after Redis came back, reads every block still running before
it listens.

The listening thread starts at a process's first request, which waits a
bounded moment for the running blocks (`ThrottleGate.warm`): never in a
process that only builds the app and forks its workers (gunicorn
--preload), where a thread caught mid-import or holding a lock at the
fork would leave the workers hung. It reconnects with a growing pause (at
most 5 s) while Redis is away.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, cast

from authhygiene.throttle.blocked import Block
from authhygiene.throttle.redis_store import announcement_names, client_options, parse_payload

__all__ = ["Fleet"]

_BACKOFF_MAX_S = 5.0
_POLL_S = 1.0
_HEALTH_CHECK_S = 5
_QUIET_DEADLINE_S = 5.0
_REREAD_S = 30.0


class Fleet:
    """Hears the other workers' blocks (`heard`), in a daemon thread."""

    def __init__(
        self,
        url: str,
        prefix: str,
        timeout: float,
        heard: Callable[[str, Block], None],
        max_entries: int,
        ready: Callable[[], None] = lambda: None,
    ) -> None:
        self._url, self._prefix, self._timeout = url, prefix, timeout
        # Held weakly: a middleware that is dropped (an app factory, a test)
        # takes its listener with it, within a poll.
        self._heard_ref = weakref.WeakMethod(heard) if hasattr(heard, "__self__") else None
        self._heard_fn = None if self._heard_ref is not None else heard
        self._ready_ref = weakref.WeakMethod(ready) if hasattr(ready, "__self__") else None
        self._ready_fn = None if self._ready_ref is not None else ready
        self._max = max_entries
        self.channel, self.blocked_set = announcement_names(prefix)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.started = False
        # Set while the listener is subscribed, having read the set.
        self.listening = threading.Event()

    def forked(self) -> None:
        """In a forked child: the parent's thread did not come along (and
        a lock it held stays held): started afresh at its first request."""
        self._lock = threading.Lock()
        self.started = False
        self.listening = threading.Event()

    def start(self) -> None:
        with self._lock:
            if self.started or self._stop.is_set():
                return
            self.started = True
            threading.Thread(
                target=self._listen, name="authhygiene-throttle-listen", daemon=True
            ).start()

    def close(self) -> None:
        self._stop.set()

    def _listen(self) -> None:
        backoff = 0.25
        while not self._stop.is_set() and self._heard_alive():
            client = pubsub = None
            try:
                import redis

                # A connection a middlebox silently dropped is noticed: the
                # client pings a quiet channel every few seconds, and a reply
                # that does not come within the deadline ends the connection.
                options = client_options(max(self._timeout, _QUIET_DEADLINE_S))
                client = cast(
                    Any,
                    redis.Redis.from_url(
                        self._url,
                        health_check_interval=_HEALTH_CHECK_S,
                        socket_keepalive=True,
                        **options,
                    ),
                )
                self._ready()  # the fleet's hash key, before any block is heard
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._read_set(client)
                self.listening.set()
                backoff = 0.25
                read_at = time.monotonic()
                while not self._stop.is_set() and self._heard_alive():
                    message = pubsub.get_message(timeout=_POLL_S)
                    if message is not None and message.get("type") == "message":
                        self._hear(message.get("data"))
                    if time.monotonic() - read_at >= _REREAD_S:
                        # What pub/sub may have missed, and the hash key
                        # (a Redis that lost it has a new one by now).
                        self._ready()
                        self._read_set(client)
                        read_at = time.monotonic()
            except Exception:  # Redis away: try again, a little later each time
                self.listening.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
            finally:
                for closing in (pubsub, client):
                    if closing is not None:
                        with contextlib.suppress(Exception):
                            closing.close()

    def _heard_alive(self) -> bool:
        return self._heard_ref is None or self._heard_ref() is not None

    def _ready(self) -> None:
        ready = self._ready_ref() if self._ready_ref is not None else self._ready_fn
        if ready is not None:
            ready()

    def _hear(self, data: object) -> None:
        parsed = parse_payload(data, self._prefix)
        heard = self._heard_ref() if self._heard_ref is not None else self._heard_fn
        if parsed is not None and heard is not None:
            heard(*parsed)

    def _read_set(self, client: Any) -> None:
        members = client.zrangebyscore(
            self.blocked_set, time.time(), "+inf", start=0, num=self._max, withscores=True
        )
        for member, until in members:
            self._hear(f"{until:.3f} ".encode() + member)
