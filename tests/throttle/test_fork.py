"""A worker forked from a preloaded app (gunicorn --preload): the throttle's
listener starts again in the child, and a lock another thread held at the
fork does not stay held there. Run in a process of its own (forking the
test runner, with its threads, would test the runner)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.redis_server import RedisServer

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from authhygiene import Throttle
    from authhygiene.throttle.gate import gate_for

    gate = gate_for(Throttle(storage=sys.argv[1], key_prefix="fork"), None)
    assert gate.fleet.listening.wait(5), "the parent never listened"
    gate.table._lock.acquire()  # another thread's, held at the fork
    gate.counter._secret_lock.acquire()
    pid = os.fork()
    if pid == 0:
        ok = gate.table._lock.acquire(timeout=2) and gate.counter._secret_lock.acquire(timeout=2)
        listening = gate.fleet.listening.wait(5)
        print(f"child locks={ok} listening={listening}", flush=True)
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
    assert "child locks=True listening=True" in done.stdout
