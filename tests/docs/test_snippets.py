"""Every command a newcomer is shown works as written on a fresh clone.

The README's and the docs' snippets marked runnable (see `snippets.py`) run
from the repository root with the virtual environment NOT activated (its
bin directory is taken off PATH, VIRTUAL_ENV unset), as a newcomer types
them after `make demo`. Servers a page starts are stopped by the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import pytest

from .snippets import ROOT, Snippet, markers_astray, snippets, unmarked

# The newcomer's path: every sh block there says whether it is run.
NEWCOMER_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "getting-started").glob("*.md"))]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNABLE_FILES = [path for path in DOC_FILES if any(s.runnable for s in snippets(path))]


def _runnable(path: Path) -> object:
    """A page whose commands call curl needs it (make's preflight installs it)."""
    calls_curl = any(s.runnable and "curl " in s.body for s in snippets(path))
    marks = [pytest.mark.needs("curl")] if calls_curl else []
    return pytest.param(path, marks=marks, id=str(path.relative_to(ROOT)))


_OUTPUTS: dict[int, IO[bytes]] = {}
SNIPPET_TIMEOUT_S = 600.0  # `make demo` on a fresh clone installs first
SERVER_START_S = 30.0


def _environment() -> dict[str, str]:
    """The shell of someone who never activated .venv."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if part and part != venv_bin
    )
    return env


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _start(snippet: Snippet) -> subprocess.Popen[bytes]:
    port = snippet.port
    assert port is not None, f"{snippet.where}: a background snippet must name its port"
    assert not _port_open(port), f"{snippet.where}: port {port} is already taken on this machine"
    # Its output goes to a file: a pipe nobody reads fills up and stalls it.
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _stop
    server = subprocess.Popen(
        ["bash", "-c", snippet.body],
        cwd=ROOT,
        env=_environment(),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _OUTPUTS[server.pid] = output
    deadline = time.monotonic() + SERVER_START_S
    while not _port_open(port):
        if server.poll() is not None or time.monotonic() > deadline:
            output = _stop(server)
            pytest.fail(f"{snippet.where}: the server did not start:\n{output}")
        time.sleep(0.1)
    return server


def _stop(server: subprocess.Popen[bytes]) -> str:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
    output = _OUTPUTS.pop(server.pid)
    output.seek(0)
    text = output.read()[-20000:].decode(errors="replace")
    output.close()
    return text


def _run(snippet: Snippet) -> None:
    __tracebackhide__ = True
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippet.body],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        timeout=SNIPPET_TIMEOUT_S,
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    tail = output[-3000:]
    assert done.returncode == 0, f"{snippet.where}: exit {done.returncode}\n{tail}"
    if snippet.expect is not None:
        assert snippet.expect in output, f"{snippet.where}: no {snippet.expect!r} in\n{tail}"


@pytest.mark.parametrize("path", [_runnable(path) for path in RUNNABLE_FILES])
def test_runnable_snippets_work_as_written(path: Path) -> None:
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for snippet in snippets(path):
            if snippet.background:
                servers.append(_start(snippet))
            elif snippet.runnable:
                _run(snippet)
    finally:
        for server in servers:
            _stop(server)


@pytest.mark.parametrize("path", NEWCOMER_PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_newcomer_snippet_says_whether_it_is_run(path: Path) -> None:
    assert [snippet.where for snippet in unmarked(path)] == []


def test_the_newcomer_pages_run_something() -> None:
    """The README and every getting-started page prove at least one command."""
    assert set(NEWCOMER_PAGES) <= set(RUNNABLE_FILES)


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_marker_is_well_formed_and_on_its_block(path: Path) -> None:
    """A mistyped marker, or one parted from its block, would leave the block
    silently unrun."""
    assert markers_astray(path) == []
