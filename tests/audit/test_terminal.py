"""What a person sees: `authhygiene audit` run in a real terminal (tmux),
its screen captured as a person would read it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.audit.test_checks import bearer_app
from tests.e2e.servers import UvicornThread

pytestmark = pytest.mark.needs("tmux")

ROOT = Path(__file__).resolve().parents[2]
_WAIT_S = 30.0


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10, check=False)
    return done.stdout


def test_a_person_reads_the_failed_checks_and_their_fixes() -> None:
    session = f"audit-{uuid.uuid4().hex[:8]}"
    with UvicornThread(bearer_app(), lifespan="off") as server:
        url = f"http://127.0.0.1:{server.port}/me"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        command = f"{sys.executable} -m authhygiene audit {url}; echo EXIT=$?; sleep 30"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "80", command],
            env=env,
            check=True,
            timeout=10,
        )
        try:
            screen = ""
            deadline = time.monotonic() + _WAIT_S
            while time.monotonic() < deadline and "EXIT=" not in screen:
                time.sleep(0.2)
                screen = _tmux("capture-pane", "-p", "-t", session, "-S", "-200")
        finally:
            _tmux("kill-session", "-t", session)
    assert "EXIT=1" in screen
    assert f"authhygiene audit of {url}" in screen
    assert "FAIL   bearer-has-param  (RFC 6750 §3)" in screen
    assert "fix: Send Cache-Control: no-store with every auth failure." in screen
    assert "required checks failed" in screen
    assert "probing" not in screen.splitlines()[-3:]  # the progress line was cleared
