"""The servers of the end-to-end benchmark: started, waited for, measured
and stopped, and a minimal HTTP client to ask them things.

Each server is a subprocess in its own session, so that it and its workers
form one process group: stopping is SIGTERM to the server (it stops its own
workers), then SIGKILL to the whole group if anything is left after a bounded
wait. Servers bind 127.0.0.1 only, on a free port; their output goes to a
temporary file, read back (scrubbed by the caller) for error messages.
Linux only: process groups and CPU time are read from /proc, as is fitting
for a benchmark that needs Debian's wrk anyway.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from benchmarks.e2e_apps import WRAPPED_ENV

__all__ = [
    "IO_TIMEOUT_S",
    "REPO_ROOT",
    "Reply",
    "Server",
    "ServerSpec",
    "fetch",
    "group_members",
    "start_server",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 5.0
START_ATTEMPTS = 3
_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """Which server serves which flavour of the app, and its command line."""

    server: str  # "uvicorn" | "gunicorn"
    flavour: str  # "bare" | "authhygiene"

    @property
    def label(self) -> str:
        return f"{self.server}.{self.flavour}"

    def argv(self, port: int) -> list[str]:
        bind = ["--host", "127.0.0.1", "--port", str(port)]
        if self.server == "uvicorn":
            # Default --loop/--http (auto): what a user gets (recorded by end_to_end).
            options = ["--workers", "1", "--no-access-log", "--log-level", "warning"]
            app = ["--factory", "benchmarks.e2e_apps:asgi_app"]
        else:
            bind = ["--bind", f"127.0.0.1:{port}"]
            # Access log off is gunicorn's default. gunicorn 27 opens a control
            # socket at one fixed path per user, which two gunicorns running
            # side by side would fight over: --no-control-socket.
            options = ["--workers", "1", "--worker-class", "sync", "--log-level", "warning"]
            options += ["--graceful-timeout", "5", "--no-control-socket"]
            app = ["benchmarks.e2e_apps:wsgi_app()"]
        return [sys.executable, "-m", self.server, *bind, *options, *app]


def _free_port() -> int:
    # The port may be taken between here and the server's bind; a server
    # that exits at start is then started again on another port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat from the field after the command name on (state,
    ppid, pgrp, ...), or [] if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    # The command name, in parentheses, may itself hold spaces or parentheses.
    return stat[stat.rfind(")") + 2 :].split()


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Server:
    """One server subprocess in its own session (so its workers form one
    process group that can be killed as a whole), output to a temp file."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.printed = ""
        self.port = _free_port()
        self.output: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()
        env = {**os.environ, WRAPPED_ENV: "1" if spec.flavour == "authhygiene" else "0"}
        try:
            self.process = subprocess.Popen(
                spec.argv(self.port),
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self.output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self.output.close()
            raise
        self.pids: set[int] = {self.process.pid}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> bool:
        """True once ``/ok`` answers 200; False if the process exits or does
        not answer within `START_TIMEOUT_S`."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(OSError, http.client.HTTPException):
                if fetch(self.port, "/ok", authorization=None).status == 200:
                    # gunicorn's worker is a child of its master: remember it
                    # now, so that its exit can be checked after stop().
                    self.pids.update(group_members(self.process.pid))
                    return True
            time.sleep(_POLL_S)
        return False

    def cpu_s(self) -> float:
        """CPU time (user + system) the server's processes have used so far."""
        ticks = 0
        for pid in self.pids:
            fields = _stat(pid)
            if len(fields) > 12:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / _CLOCK_TICKS

    def text(self, scrub: Callable[[str], str], limit: int = 2000) -> str:
        """The end of what the server printed so far, credential scrubbed.
        Read with pread: the server shares the file's offset, so seeking
        would make it write over its own output."""
        if self.output.closed:
            return ""
        fd = self.output.fileno()
        size = os.fstat(fd).st_size
        tail = os.pread(fd, limit, max(0, size - limit))
        return scrub(tail.decode("utf-8", "replace"))

    def stop(self) -> None:
        """SIGTERM to the server (it stops its own workers), SIGKILL to the
        whole group if it does not leave in time, and to any stray member.
        Calling it again does nothing more."""
        process = self.process
        try:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    # Not reaped yet, so the group id cannot have been reused.
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(STOP_TIMEOUT_S)
            # A group outlives its leader while any member lives, so its id
            # still names our processes only.
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while group_members(process.pid) and time.monotonic() < deadline:
                time.sleep(_POLL_S)
            if group_members(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        finally:
            if not self.output.closed:
                self.printed = self.text(lambda text: text)
                self.output.close()


def start_server(
    spec: ServerSpec, stack: contextlib.ExitStack, scrub: Callable[[str], str]
) -> Server:
    """A running, answering server; a few attempts, as a free port can be
    taken by someone else before the server binds it."""
    printed = ""
    for _attempt in range(START_ATTEMPTS):
        server = Server(spec)
        stack.callback(server.stop)
        if server.wait_ready():
            return server
        server.stop()
        printed = scrub(server.printed)
    raise RuntimeError(
        f"{spec.label} did not start (tried {START_ATTEMPTS} times); it printed:\n{printed}"
    )


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def fetch(port: int, path: str, *, authorization: str | None) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=IO_TIMEOUT_S)
    try:
        headers = {"Authorization": authorization} if authorization else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, tuple(response.getheaders()), response.read())
    finally:
        connection.close()
