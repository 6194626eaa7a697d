"""`examples/throttle_app.py` under uvicorn, probed as its docstring says:
five wrong passwords for alice, then 429 for alice (her right password
too), while bob gets in; in memory, and with the storage its environment
names (a real redis-server) under two uvicorn workers."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from authhygiene.testing import assert_no_secrets
from tests.redis_server import free_port, running_redis
from tests.test_examples import EXAMPLES, ROOT, _load, _uvicorn


def call(port: int, user: str, password: str) -> tuple[int, Any, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        connection.request("GET", "/me", headers={"Authorization": f"Basic {basic}"})
        response = connection.getresponse()
        body = response.read()
        return response.status, response.headers, json.loads(body) if body else None
    finally:
        connection.close()


def _probe(port: int) -> None:
    statuses = [call(port, "alice", f"guess{n}")[0] for n in range(1, 7)]
    assert statuses == [401] * 5 + [429]
    status, headers, body = call(port, "alice", "wonderland")
    assert status == 429
    assert body["reason"] == "too_many_failures"
    assert body["limited_by"] == "credential"
    assert headers["RateLimit-Policy"] == '"failures-per-credential";q=5;w=60'
    assert 1 <= int(headers["Retry-After"]) <= 120
    assert_no_secrets([json.dumps(body), str(headers)], ["wonderland", "guess1", "guess6"])
    assert call(port, "bob", "builder")[:1] == (200,)


@pytest.fixture
def memory_port() -> Iterator[int]:
    module = _load(EXAMPLES / "throttle_app.py", "authhygiene_example_throttle")
    with _uvicorn(module.app) as bound:
        yield bound


def test_the_example_throttles_a_guessed_password_in_memory(memory_port: int) -> None:
    _probe(memory_port)


@pytest.mark.needs("redis-server")
def test_the_example_shares_its_counts_through_redis_across_two_workers() -> None:
    with running_redis() as redis_server:
        port = free_port()
        env = {**os.environ, "AUTHHYGIENE_THROTTLE_STORAGE": redis_server.url}
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "throttle_app:app",
                "--app-dir", str(EXAMPLES), "--host", "127.0.0.1", "--port", str(port),
                "--workers", "2", "--log-level", "warning",
            ],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if call(port, "bob", "builder")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            _probe(port)
            assert redis_server.command_calls().get("evalsha", 0) >= 5  # one per failure counted
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
