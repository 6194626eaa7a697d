"""Counting in a real redis-server: one pipeline per failure, the `limits`
scripts reloaded when Redis forgot them, one hash key for the fleet, blocks
announced and heard, and every Redis trouble a StorageError within the
deadline (never the URL, never a hang)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhygiene.throttle.blocked import Block
from authhygiene.throttle.fleet import Fleet
from authhygiene.throttle.limit_text import Limit
from authhygiene.throttle.redis_store import RedisCounter, StorageError, parse_payload, payload
from authhygiene.throttle.window import used
from tests.redis_server import RedisServer, free_port

THREE = Limit(3, 60, "3/minute")


def _counter(server: RedisServer, prefix: str = "t", timeout: float = 0.5) -> RedisCounter:
    return RedisCounter(server.url, prefix=prefix, timeout=timeout)


@pytest.mark.needs("redis-server")
def test_failures_are_counted_to_the_limit_sync_and_async(redis_server: RedisServer) -> None:
    counter = _counter(redis_server)
    seen = [counter.count([("t:k:sync", THREE)], time.time())[0] for _ in range(4)]
    assert [c.acquired for c in seen] == [True, True, True, False]
    assert [used(THREE, c.window) for c in seen] == [1, 2, 3, 3]

    async def run() -> list[bool]:
        out = []
        for _ in range(4):
            result = await counter.acount([("t:k:async", THREE)], time.time())
            out.append(result[0].acquired)
        return out

    assert asyncio.run(run()) == [True, True, True, False]
    counter.close()


@pytest.mark.needs("redis-server")
def test_one_round_trip_counts_both_keys(redis_server: RedisServer) -> None:
    counter = _counter(redis_server)
    counter.count([("t:c:warm", THREE)], time.time())  # scripts loaded
    before = redis_server.command_calls()
    counter.count([("t:c:a", THREE), ("t:k:b", THREE)], time.time())
    after = redis_server.command_calls()
    # One script for both keys; no SCRIPT EXISTS, no SCRIPT LOAD.
    assert after["evalsha"] - before["evalsha"] == 1
    assert after.get("script|exists", 0) == before.get("script|exists", 0)
    assert after.get("script|load", 0) == before.get("script|load", 0)
    counter.close()


@pytest.mark.needs("redis-server")
def test_scripts_redis_forgot_are_loaded_again(redis_server: RedisServer) -> None:
    counter = _counter(redis_server)
    assert counter.count([("t:k:x", THREE)], time.time())[0].acquired
    redis_server.command("SCRIPT", "FLUSH")
    result = counter.count([("t:k:x", THREE)], time.time())[0]
    assert result.acquired
    assert used(THREE, result.window) == 2
    counter.close()


@pytest.mark.needs("redis-server")
def test_every_worker_gets_the_same_hash_key(redis_server: RedisServer) -> None:
    one, two = _counter(redis_server, "fleet"), _counter(redis_server, "fleet")
    assert one.secret() == two.secret()
    assert len(one.secret()) >= 32
    assert asyncio.run(_counter(redis_server, "fleet").asecret()) == one.secret()
    assert _counter(redis_server, "other").secret() != one.secret()


def test_a_redis_that_is_gone_is_a_storage_error_at_once() -> None:
    counter = RedisCounter(
        f"redis://:hunter2-password@127.0.0.1:{free_port()}/0", prefix="t", timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(StorageError) as raised:
        counter.count([("t:k:x", THREE)], time.time())
    assert time.monotonic() - started < 1.0
    assert "hunter2" not in str(raised.value)
    assert raised.value.kind == "ConnectionError"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung Redis)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_redis_that_hangs_costs_at_most_the_deadline(silent_server: int) -> None:
    counter = RedisCounter(f"redis://127.0.0.1:{silent_server}/0", prefix="t", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(StorageError):
        counter.count([("t:k:x", THREE)], time.time())
    assert time.monotonic() - started < 1.5

    async def run() -> None:
        await counter.acount([("t:k:x", THREE)], time.time())

    started = time.monotonic()
    with pytest.raises(StorageError):
        asyncio.run(run())
    assert time.monotonic() - started < 1.5


@pytest.mark.needs("redis-server")
def test_a_block_announced_is_heard_by_the_other_workers(redis_server: RedisServer) -> None:
    heard: list[tuple[str, Block]] = []
    got = threading.Event()

    def hear(key: str, block: Block) -> None:
        heard.append((key, block))
        got.set()

    # A block announced before the listener starts is read from the set.
    announcer = _counter(redis_server, "ann")
    earlier = Block(time.time() + 60, "client")
    announcer.announce([("ann:c:earlier", earlier)], time.time())
    fleet = Fleet(redis_server.url, "ann", 0.5, hear, 100)
    fleet.start()
    try:
        assert fleet.listening.wait(5)
        assert [(key, block.by) for key, block in heard] == [("ann:c:earlier", "client")]
        assert heard[0][1].until == pytest.approx(earlier.until, abs=0.001)
        got.clear()
        later = Block(time.time() + 30, "credential")
        asyncio.run(announcer.aannounce([("ann:k:later", later)], time.time()))
        assert got.wait(5)
        assert heard[-1][0] == "ann:k:later"
        assert heard[-1][1].by == "credential"
    finally:
        fleet.close()
        announcer.close()


PAYLOADS = [
    (payload("p:k:abc", Block(12.5, "credential")), ("p:k:abc", Block(12.5, "credential"))),
    ("12.5 client p:c:abc", ("p:c:abc", Block(12.5, "client"))),
    ("12.5 admin p:c:abc", None),
    ("nan client p:c:abc", None),
    ("inf client p:c:abc", None),
    ("12.5 client other:c:abc", None),
    ("12.5 client p:c:" + "a" * 300, None),
    ("garbage", None),
    (b"\xff\xfe 12 client p:c:x", None),
    (None, None),
]


@pytest.mark.parametrize(("data", "parsed"), PAYLOADS)
def test_only_our_own_announcements_are_heard(data: object, parsed: object) -> None:
    assert parse_payload(data, "p") == parsed


@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_any_message_on_the_channel_is_heard_or_ignored(data: bytes | str) -> None:
    parsed = parse_payload(data, "p")
    if parsed is not None:
        key, block = parsed
        assert key.startswith("p:")
        assert block.by in ("client", "credential")


@pytest.fixture
def ok_server() -> Iterator[int]:
    """Something on a port that answers every command +OK (a proxy, or a
    server that is no Redis)."""
    import socketserver

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(2)
            try:
                while data := self.request.recv(65536):
                    commands = max(data.count(b"\r\n*") + (1 if data.startswith(b"*") else 0), 1)
                    self.request.sendall(b"+OK\r\n" * commands)
            except OSError:
                return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_replies_that_are_no_counts_are_a_storage_error(ok_server: int) -> None:
    counter = RedisCounter(f"redis://127.0.0.1:{ok_server}/0", prefix="t", timeout=0.5)
    with pytest.raises(StorageError) as raised:
        counter.count([("t:k:x", THREE), ("t:c:y", THREE)], time.time())
    # redis-py 7 gets as far as the script's reply; redis-py 8's handshake
    # already fails on it: a storage error either way, by type only.
    assert raised.value.kind in ("bad_reply", "AttributeError", "ResponseError")


@pytest.mark.needs("redis-server")
def test_a_hash_key_redis_lost_is_made_again_and_read_by_every_worker(
    redis_server: RedisServer,
) -> None:
    one, two = _counter(redis_server, "lost"), _counter(redis_server, "lost")
    first = one.secret()
    redis_server.command("FLUSHALL")
    renewed = two.secret(again=True)
    assert renewed != first
    assert one.secret(again=True) == renewed


@pytest.mark.needs("redis-server")
def test_the_count_agrees_with_the_limits_library_on_the_same_redis(
    redis_server: RedisServer,
) -> None:
    """Our one script and `limits`' own sliding-window counter, fed the same
    failures: the same ones fit, and the same count remains."""
    import limits
    from limits.storage import RedisStorage
    from limits.strategies import SlidingWindowCounterRateLimiter

    item = limits.parse("4/2 seconds")
    theirs = SlidingWindowCounterRateLimiter(RedisStorage(redis_server.url))
    ours = _counter(redis_server)
    limit = Limit(4, 2, "4/2 seconds")
    seen_theirs, seen_ours = [], []
    for step in range(14):
        seen_theirs.append(theirs.hit(item, "agree"))
        result = ours.count([("t:k:agree", limit)], time.time())[0]
        seen_ours.append(result.acquired)
        if step in (5, 9):
            time.sleep(1.1)  # into the next window, the previous one still weighing
    assert seen_ours == seen_theirs
    stats = theirs.get_window_stats(item, "agree")
    assert stats.remaining == max(0, limit.amount - used(limit, result.window))
