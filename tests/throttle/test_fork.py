"""A worker forked from a preloaded app (gunicorn --preload): the throttle's
listener starts again in the child, and a lock another thread held at the
fork does not stay held there. Run in a process of its own (forking the
test runner, with its threads, would test the runner)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.redis_server import RedisServer

pytestmark = pytest.mark.needs("redis-server")

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from authhygiene import Throttle
    from authhygiene.throttle.gate import gate_for

    import threading

    gate = gate_for(Throttle(storage=sys.argv[1], key_prefix="fork"), None)
    # Building the middleware starts nothing: this may be a master that forks.
    assert threading.active_count() == 1 and gate.cold
    gate.warm()  # as the first request does
    assert gate.fleet.listening.is_set(), "the parent never listened"
    gate.table._lock.acquire()  # another thread's, held at the fork
    gate.counter._secret_lock.acquire()
    pid = os.fork()
    if pid == 0:
        ok = gate.table._lock.acquire(timeout=2) and gate.counter._secret_lock.acquire(timeout=2)
        gate.table._lock.release()
        gate.counter._secret_lock.release()
        cold = gate.cold and not gate.fleet.started
        gate.warm()  # the child's first request
        listening = gate.fleet.listening.is_set()
        print(f"child locks={ok} cold={cold} listening={listening}", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    """
)


def test_a_forked_worker_listens_and_is_not_locked_out(redis_server: RedisServer) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, redis_server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "child locks=True cold=True listening=True" in done.stdout
