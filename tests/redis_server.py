"""A real redis-server (Debian's package, installed by `make test`) on a free
loopback port with its own directory, for the throttle's tests: the
benchmarks' own (`benchmarks.throttle_redis.RedisServer`), plus what tests
need besides: killing it mid-test and starting it again on the same port,
and reading what it ran. Always stopped by whoever started it."""

from __future__ import annotations

import contextlib
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import throttle_redis

__all__ = ["RedisServer", "free_port", "running_redis"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer(throttle_redis.RedisServer):
    def __init__(self, directory: Path) -> None:
        super().__init__(throttle_redis.find_redis_server(), directory)

    def ping(self) -> bool:
        return self._ping()

    def kill(self) -> None:
        """Gone at once (SIGKILL), as a crashed Redis is; `start()` brings
        it back on the same port."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(timeout=10)

    def _client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def command(self, *args: str) -> Any:
        """One command, its reply (FLUSHALL, SCRIPT FLUSH, CONFIG)."""
        client = self._client()
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def command_calls(self) -> dict[str, int]:
        """Calls per command since the server started (INFO commandstats;
        commands a script runs are counted too, under their own names)."""
        client = self._client()
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    def commands_called(self) -> int:
        return sum(self.command_calls().values())


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="authhygiene-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.kill()
