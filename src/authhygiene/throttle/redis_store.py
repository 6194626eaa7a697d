"""Counting in Redis ("redis://", "rediss://", "unix://"): the `limits`
library's sliding-window counter, its Redis script's keys, arithmetic and
expiries step for step, for the client key and the credential key of a
failure and with both windows read back, in one script: one EVALSHA, one
round trip per counted failure.

`limits`' own API would take four round trips for the same (a `hit` and a
`get_window_stats` per key: `hit` does not say whether the failure just
counted was the last one allowed); its two scripts per key, pipelined, take
one, but measured 3.5x (asyncio) and 5.1x (sync) a PING above the refusal
against the issue's 1.5x. redis-py's `Script` objects add a `SCRIPT
EXISTS` round trip to every pipeline; the script is sent by its SHA and
loaded again only when Redis has forgotten it.

Sync (WSGI, Django) and asyncio (ASGI) clients share the script, the keys
and the reading of the answer. Every call has a deadline (`timeout`) and
no retry: a Redis that is down or slow costs a failure at most that, and
the success path never calls Redis at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import secrets as secret_source
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from authhygiene.throttle.blocked import Block
from authhygiene.throttle.limit_text import Limit
from authhygiene.throttle.window import Counted, Window

__all__ = [
    "RedisCounter",
    "StorageError",
    "announcement_names",
    "client_options",
    "parse_payload",
    "payload",
]

# The `limits` library's sliding-window counter (its
# acquire_sliding_window.lua, whose keys, arithmetic and expiries this
# follows step for step) for every key of a failure, with each window read
# back, in one script: one EVALSHA per counted failure. Pipelining `limits`'
# own two scripts per key measured 3.5x (asyncio) and 5.1x (sync) a PING
# above the refusal (`make bench`, section 12), against a target of 1.5x.
_COUNT_SCRIPT = """
local out = {}
for i = 1, #KEYS, 2 do
  local previous_key, current_key = KEYS[i], KEYS[i + 1]
  local limit = tonumber(ARGV[i])
  local expiry = tonumber(ARGV[i + 1]) * 1000
  local current_ttl = tonumber(redis.call('pttl', current_key))
  if current_ttl > 0 and current_ttl < expiry then
    redis.call('rename', current_key, previous_key)
    redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
  end
  local previous = tonumber(redis.call('get', previous_key)) or 0
  local previous_ttl = tonumber(redis.call('pttl', previous_key))
  local current = tonumber(redis.call('get', current_key)) or 0
  current_ttl = tonumber(redis.call('pttl', current_key))
  if previous_ttl <= 0 then previous_ttl = 0 end
  local acquired = 0
  if math.floor(previous * previous_ttl / expiry) + current + 1 <= limit then
    acquired = 1
    if current_ttl > 0 then
      current = redis.call('incrby', current_key, 1)
    else
      current, current_ttl = 1, expiry * 2
      redis.call('set', current_key, 1, 'PX', current_ttl)
    end
  end
  if current_ttl <= 0 then current_ttl = 0 end
  out[#out + 1] = acquired .. " " .. previous .. " " .. previous_ttl .. " " .. current .. " " ..
    current_ttl
end
return table.concat(out, " ")
"""
_COUNT_SHA = hashlib.sha1(_COUNT_SCRIPT.encode(), usedforsecurity=False).hexdigest()
_SECRET_CHARS = 64


class StorageError(Exception):
    """Redis could not count (down, slow, refused): the type of the cause
    is `kind`, never its message (which may hold the URL's password)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def client_options(timeout: float, *, asynchronous: bool = False) -> dict[str, Any]:
    """A deadline on connecting and on every reply, and no retry. The asyncio
    client takes its own `Retry` (redis-py 6+ warns on the sync one)."""
    from redis.backoff import NoBackoff

    if asynchronous:
        from redis.asyncio.retry import Retry
    else:
        from redis.retry import Retry  # type: ignore[assignment]

    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
    }


def _window(reply: Sequence[object]) -> Window:
    """The read script's answer: both windows' counts and TTLs (ms)."""

    def number(value: object) -> int:
        if isinstance(value, bytes | str | int) and not isinstance(value, bool):
            try:
                return int(value)
            except ValueError:
                return 0
        return 0

    previous, previous_ttl, current, current_ttl = (number(value) for value in reply[:4])
    return Window(
        previous if previous_ttl > 0 else 0,
        max(previous_ttl, 0) / 1000,
        current if current_ttl > 0 else 0,
        max(current_ttl, 0) / 1000,
    )


class RedisCounter:
    """One Redis for the fleet: the counts, and the fleet's hash key."""

    def __init__(self, url: str, *, prefix: str, timeout: float) -> None:
        import redis
        import redis.asyncio

        self.url, self.prefix, self.timeout = url, prefix, timeout
        self._sync: Any = redis.Redis.from_url(url, **client_options(timeout))
        self._async_class = redis.asyncio.Redis
        # redis.asyncio's connections belong to the loop that made them.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._no_script = redis.exceptions.NoScriptError
        self._secret: bytes | None = None
        self._secret_lock = threading.Lock()

    def forked(self) -> None:
        """In a forked child: a lock another thread held stays held."""
        self._secret_lock = threading.Lock()

    @property
    def secret_key(self) -> str:
        return f"{self.prefix}:throttle:secret"

    # --- the fleet's hash key ------------------------------------------------

    def secret(self, *, again: bool = False) -> bytes:
        """The key every worker hashes throttle keys with, made once by
        whichever worker asks first (SET NX) and read by the others; read
        `again` when Redis may have lost it (a restart without persistence):
        then the fleet agrees on the one made next."""
        if self._secret is None or again:
            with self._secret_lock:
                if self._secret is None or again:
                    self._secret = self._call(self._fetch_secret)
        return self._secret

    async def asecret(self) -> bytes:
        if self._secret is None:
            client = self._client()
            try:
                await client.set(self.secret_key, secret_source.token_hex(32), nx=True)
                value = await client.get(self.secret_key)
            except Exception as exc:  # any trouble of the client's: its type only
                raise (
                    exc if isinstance(exc, StorageError) else StorageError(type(exc).__name__)
                ) from None
            self._secret = self._checked_secret(value)
        return self._secret

    def _fetch_secret(self) -> bytes:
        self._sync.set(self.secret_key, secret_source.token_hex(32), nx=True)
        return self._checked_secret(self._sync.get(self.secret_key))

    def _checked_secret(self, value: object) -> bytes:
        if not isinstance(value, bytes) or len(value) < 32 or len(value) > _SECRET_CHARS * 2:
            raise StorageError("bad_secret")
        return value

    # --- counting -------------------------------------------------------------

    @staticmethod
    def _arguments(items: Sequence[tuple[str, Limit]]) -> list[Any]:
        keys: list[Any] = []
        limits: list[Any] = []
        for key, limit in items:
            keys += (f"{{{key}}}/-1", f"{{{key}}}")
            limits += (limit.amount, limit.window_s)
        return [_COUNT_SHA, len(keys), *keys, *limits]

    @staticmethod
    def _counted(reply: Any, items: int) -> list[Counted]:
        """The script's reply, held to its shape: anything else (a proxy,
        a server that is no Redis) is a storage error, never a failure
        counted as allowed."""
        # One bulk string of numbers: a reply parsed in one read, not one
        # line per number (redis-py parses RESP in Python without hiredis).
        fields = reply.split() if isinstance(reply, bytes) and len(reply) < 4096 else []
        if len(fields) != 5 * items:
            raise StorageError("bad_reply")
        counted = []
        for index in range(0, len(fields), 5):
            acquired = fields[index]
            if acquired not in (b"0", b"1"):
                raise StorageError("bad_reply")
            counted.append(Counted(acquired == b"1", _window(fields[index + 1 : index + 5])))
        return counted

    def _call(self, work: Any) -> Any:
        try:
            return work()
        except Exception as exc:  # any trouble of the client's: its type only
            raise (
                exc if isinstance(exc, StorageError) else StorageError(type(exc).__name__)
            ) from None

    def count(self, items: Sequence[tuple[str, Limit]], now: float) -> list[Counted]:
        arguments = self._arguments(items)

        def run() -> list[Counted]:
            try:
                reply = self._sync.execute_command("EVALSHA", *arguments)
            except self._no_script:  # a Redis that restarted or flushed its scripts
                self._sync.script_load(_COUNT_SCRIPT)
                reply = self._sync.execute_command("EVALSHA", *arguments)
            return self._counted(reply, len(items))

        result: list[Counted] = self._call(run)
        return result

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = self._async_class.from_url(
                self.url, **client_options(self.timeout, asynchronous=True)
            )
        return client

    async def acount(self, items: Sequence[tuple[str, Limit]], now: float) -> list[Counted]:
        arguments = self._arguments(items)
        client = self._client()
        try:
            try:
                reply = await client.execute_command("EVALSHA", *arguments)
            except self._no_script:  # a Redis that restarted or flushed its scripts
                await client.script_load(_COUNT_SCRIPT)
                reply = await client.execute_command("EVALSHA", *arguments)
        except Exception as exc:  # any trouble of the client's: its type only
            raise (
                exc if isinstance(exc, StorageError) else StorageError(type(exc).__name__)
            ) from None
        return self._counted(reply, len(items))

    # --- announcing a block to the fleet (`fleet` listens) ----------------------

    def _announcement(self, pipe: Any, blocks: Sequence[tuple[str, Block]], now: float) -> None:
        channel, members = announcement_names(self.prefix)
        for key, block in blocks:
            pipe.zadd(members, {f"{block.by} {key}": block.until})
            pipe.publish(channel, payload(key, block))
        pipe.zremrangebyscore(members, "-inf", now)
        pipe.expire(members, _SET_LIFETIME_S)

    def announce(self, blocks: Sequence[tuple[str, Block]], now: float) -> None:
        """Tell every worker (sync), before the failure that filled the keys
        is answered: the client's next try finds them blocked everywhere."""
        pipe = self._sync.pipeline(transaction=False)
        self._announcement(pipe, blocks, now)
        self._call(pipe.execute)

    async def aannounce(self, blocks: Sequence[tuple[str, Block]], now: float) -> None:
        pipe = self._client().pipeline(transaction=False)
        self._announcement(pipe, blocks, now)
        try:
            await pipe.execute()
        except Exception as exc:  # any trouble of the client's: its type only
            raise (
                exc if isinstance(exc, StorageError) else StorageError(type(exc).__name__)
            ) from None

    def close(self) -> None:
        self._sync.close()
        for loop, client in list(self._async.items()):
            # An asyncio client is closed in its own loop, when that loop is
            # idle (a test's, an app's at shutdown); a running or closed one
            # drops its connections itself.
            if not loop.is_closed() and not loop.is_running():
                with contextlib.suppress(Exception):
                    loop.run_until_complete(client.aclose())
        self._async.clear()


_SET_LIFETIME_S = 8 * 86_400
_MAX_PAYLOAD = 256


def announcement_names(prefix: str) -> tuple[str, str]:
    """The pub/sub channel and the sorted set of running blocks."""
    return f"{prefix}:throttle:blocked", f"{prefix}:throttle:blocked-set"


def payload(key: str, block: Block) -> str:
    return f"{block.until:.3f} {block.by} {key}"


def parse_payload(data: object, prefix: str) -> tuple[str, Block] | None:
    """An announcement, or None for anything that is not one of ours."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if not isinstance(data, str) or len(data) > _MAX_PAYLOAD:
        return None
    parts = data.split(" ", 2)
    if len(parts) != 3 or parts[1] not in ("client", "credential"):
        return None
    if not parts[2].startswith(prefix + ":") or len(parts[2]) > 128:
        return None
    try:
        until = float(parts[0])
    except ValueError:
        return None
    if not math.isfinite(until):
        return None
    return parts[2], Block(until, parts[1])
