"""The throttle section's Redis: a redis-server of its own, and what it counts.

- `RedisServer`, `running_redis`: Debian's redis-server (``make redis``
  installs it) on a free loopback port, with a temporary directory of its
  own and no persistence, waited for, and stopped by its PID. The pattern
  of ``tests/redis_server.py``, copied: the benchmarks import nothing from
  ``tests/``.
- `ServerStats`: what the server ran between two ``INFO commandstats
  stats`` calls: calls and microseconds per command (the commands a Lua
  script runs are counted too, under their own names, and their time is
  also in the script's) and the server's socket writes
  (``total_writes_processed``: one per batch of replies, so one per round
  trip of a pipelining client). The INFO itself is taken out.
- `round_trips`: requests redis-py sent and then waited for, counted at the
  client: each call of a connection's ``send_packed_command`` (a pipeline
  sends all its commands in one) from this thread, sync and asyncio
  clients alike.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Delta",
    "RedisMissingError",
    "RedisServer",
    "ServerStats",
    "find_redis_server",
    "round_trips",
    "running_redis",
]

_START_S = 10.0
_STOP_S = 5.0


class RedisMissingError(RuntimeError):
    """No redis-server to run (``make redis`` installs Debian's)."""


def find_redis_server() -> str:
    """The redis-server binary, or `RedisMissingError`."""
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not (os.path.isfile(found) and os.access(found, os.X_OK)):
        raise RedisMissingError("redis-server not found (`make redis` installs it)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1, stopped by its PID."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "no",
                "--protected-mode", "yes",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + _START_S
        while time.monotonic() < deadline:
            if self._ping():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM to its PID (SIGKILL if it lingers), then reaped."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_STOP_S)


@contextlib.contextmanager
def running_redis(binary: str) -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="authhygiene-bench-redis-") as directory:
        server = RedisServer(binary, Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@dataclass(slots=True)
class Delta:
    """What the server ran during a `ServerStats.measure` block."""

    calls: dict[str, int] = field(default_factory=dict)
    usec: dict[str, int] = field(default_factory=dict)
    writes: int = 0

    @property
    def commands(self) -> int:
        """Every command the server ran, a script's own ones included."""
        return sum(self.calls.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "calls": dict(sorted(self.calls.items())),
            "usec": dict(sorted(self.usec.items())),
            "server_writes": self.writes,
        }


_Counters = tuple[dict[str, tuple[int, int]], int]


class ServerStats:
    """Reads the server's counters over one connection of its own (opened
    once: a new connection's hand-shake would be counted)."""

    def __init__(self, url: str) -> None:
        import redis

        self._client: Any = redis.Redis.from_url(url, socket_timeout=5)
        self._client.ping()

    def version(self) -> str:
        return str(self._client.info("server")["redis_version"])

    def _read(self) -> _Counters:
        info = self._client.info("commandstats", "stats")
        calls = {
            name.removeprefix("cmdstat_"): (int(value["calls"]), int(value["usec"]))
            for name, value in info.items()
            if name.startswith("cmdstat_")
        }
        return calls, int(info["total_writes_processed"])

    @contextlib.contextmanager
    def measure(self) -> Iterator[Delta]:
        """The `Delta` of the block, filled when it ends. INFO does not
        count itself, so the difference holds exactly one INFO (the first)
        and its reply's write: taken out."""
        delta = Delta()
        before, writes = self._read()
        yield delta
        after, writes_after = self._read()
        for name, (calls, usec) in after.items():
            calls_before, usec_before = before.get(name, (0, 0))
            ran = calls - calls_before - (1 if name == "info" else 0)
            if ran:
                delta.calls[name] = ran
                delta.usec[name] = usec - usec_before
        delta.writes = writes_after - writes - 1

    def close(self) -> None:
        self._client.close()


@contextlib.contextmanager
def round_trips() -> Iterator[list[int]]:
    """``[n]``: the requests this thread's redis-py clients sent (each then
    waits for its replies) while the block runs. Not for timed code: it
    wraps redis-py's connection classes for the block's duration."""
    import redis.asyncio.connection
    import redis.connection

    thread = threading.get_ident()
    sent = [0]
    sync_class = redis.connection.AbstractConnection
    async_class = redis.asyncio.connection.AbstractConnection
    sync_send: Any = sync_class.send_packed_command
    async_send: Any = async_class.send_packed_command

    def counted_send(self: Any, command: Any, check_health: bool = True) -> None:
        if threading.get_ident() == thread:
            sent[0] += 1
        sync_send(self, command, check_health)

    async def counted_asend(self: Any, command: Any, check_health: bool = True) -> None:
        if threading.get_ident() == thread:
            sent[0] += 1
        await async_send(self, command, check_health)

    sync_class.send_packed_command = counted_send  # type: ignore[method-assign]
    async_class.send_packed_command = counted_asend  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        sync_class.send_packed_command = sync_send  # type: ignore[method-assign]
        async_class.send_packed_command = async_send  # type: ignore[method-assign]
