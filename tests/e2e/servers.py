"""Real servers and a real HTTP client for the end-to-end tests.

The middleware's promises (bytes pass through untouched, streams stay
unbuffered, a WSGI iterable is closed once, a 401 always carries a challenge)
only mean something on the wire, through the servers people deploy: uvicorn
for ASGI, werkzeug's server and gunicorn's sync worker for WSGI. This module
starts and stops them on 127.0.0.1 and talks to them with `http.client` (or a
raw socket where http.client would hide the bytes), and holds the checks every
failure response is judged by, with werkzeug's own header parser as the oracle.

Every server started here is stopped by the context manager that started it;
every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from authhygiene.testing import assert_no_secrets
from tests import leaks

__all__ = [
    "GunicornProcess",
    "Reply",
    "UvicornThread",
    "WerkzeugThread",
    "assert_absent",
    "assert_problem",
    "challenges",
    "fetch",
    "fetch_stream",
    "raw_exchange",
    "without_date",
]

START_TIMEOUT_S = 20.0
IO_TIMEOUT_S = 15.0
_POLL_S = 0.02


# --- servers ---------------------------------------------------------------


class UvicornThread:
    """uvicorn serving `app` on 127.0.0.1 in a thread, on a port the OS picks."""

    def __init__(self, app: Any, *, lifespan: str = "on", **options: Any) -> None:
        # `options`: more of uvicorn's settings (h11_max_incomplete_event_size=...).
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan, **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-e2e", daemon=True)
        self.port = 0

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.server.should_exit = True
                self.thread.join(IO_TIMEOUT_S)
                raise RuntimeError("uvicorn did not start")
            time.sleep(_POLL_S)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(IO_TIMEOUT_S)
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not stop")


class _QuietHandler(WSGIRequestHandler):
    # werkzeug's per-request access line goes to stderr, query string included;
    # that is the dev server's log, not the middleware's, and would only add
    # noise (and URL tokens) to pytest's captured output.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WerkzeugThread:
    """werkzeug's threaded WSGI server on 127.0.0.1 in a thread."""

    def __init__(self, app: Any) -> None:
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.port = self.server.server_port
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="werkzeug-e2e", daemon=True
        )

    def __enter__(self) -> WerkzeugThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(IO_TIMEOUT_S)
        if self.thread.is_alive():
            raise RuntimeError("werkzeug's server did not stop")


_LISTENING_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_BOOTED_RE = re.compile(r"Booting worker with pid")


class GunicornProcess:
    """gunicorn with one sync worker, as a subprocess, loading `app_spec`
    (``module:factory(args)``) from `pythonpath`. The worker's stdout and the
    server's stderr go to files, so a test can read everything it printed."""

    def __init__(
        self,
        app_spec: str,
        *,
        pythonpath: Path,
        workdir: Path,
        name: str,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.app_spec = app_spec
        # More gunicorn options, e.g. ("--threads", "8") for the gthread worker.
        self.extra_args = tuple(extra_args)
        self.pythonpath = pythonpath
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> GunicornProcess:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--bind",
            "127.0.0.1:0",
            "--pythonpath",
            str(self.pythonpath),
            "--log-level",
            "info",
            "--graceful-timeout",
            "5",
            # gunicorn 27 opens a control socket at one fixed path per user;
            # two test servers (or a developer's own gunicorn) would share it.
            "--no-control-socket",
            *self.extra_args,
            self.app_spec,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            text = self.stderr_path.read_text(errors="replace")
            listening = _LISTENING_RE.search(text)
            if listening and _BOOTED_RE.search(text):
                self.port = int(listening.group(1))
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"gunicorn did not start:\n{self.output()}")
            time.sleep(_POLL_S * 5)

    def output(self) -> str:
        """Everything the server and its worker printed so far."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )

    def _stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=IO_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=IO_TIMEOUT_S)

    def __exit__(self, *exc: object) -> None:
        self._stop()
        # What the server printed is a log too: no credential sent may be in it.
        leaks.check(self.output(), what="gunicorn's output")


# --- client ----------------------------------------------------------------


@dataclass
class Reply:
    """One response as received: headers in wire order with their case."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunks: list[bytes] = field(default_factory=list)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def wire_text(self) -> str:
        """Headers and body as text, to search for anything that must not be there."""
        head = "\r\n".join(f"{key}: {value}" for key, value in self.headers)
        return head + "\r\n\r\n" + self.body.decode("latin-1")


Headers = Sequence[tuple[str, str]]


def _request(
    port: int, method: str, path: str, headers: Headers
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=IO_TIMEOUT_S)
    connection.putrequest(method, path, skip_accept_encoding=True)
    # putheader once per pair: two Authorization lines stay two lines.
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders()
    return connection, connection.getresponse()


def fetch(port: int, path: str, *, method: str = "GET", headers: Headers = ()) -> Reply:
    connection, response = _request(port, method, path, headers)
    try:
        body = response.read()
        return Reply(response.status, response.getheaders(), body)
    finally:
        connection.close()


def fetch_stream(
    port: int, path: str, *, after_first: Callable[[], None], headers: Headers = ()
) -> Reply:
    """Read a streamed response chunk by chunk; `after_first` runs once the
    first chunk has arrived and before the rest is read, so an app that waits
    for it proves the first chunk left the server while the app still ran."""
    connection, response = _request(port, "GET", path, headers)
    try:
        chunks: list[bytes] = []
        for _ in range(10_000):  # bounded: the apps send a handful of chunks
            chunk = response.read1(65536)
            if not chunk:
                break
            if not chunks:
                after_first()
            chunks.append(chunk)
        return Reply(response.status, response.getheaders(), b"".join(chunks), chunks)
    finally:
        connection.close()


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes the connection. Reading
    to EOF means the server has finished the request, including closing the
    app's iterable (werkzeug and gunicorn both do that before closing)."""
    leaks.remember_raw_request(request)
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(request)
        received = bytearray()
        for _ in range(100_000):
            data = sock.recv(65536)
            if not data:
                break
            received += data
        return bytes(received)


def without_date(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers minus Date, the one header two identical answers may differ in
    when they are sent in different seconds."""
    return [(key, value) for key, value in headers if key.lower() != "date"]


# --- checks ----------------------------------------------------------------

PROBLEM_MEMBERS = ("type", "title", "status", "detail", "reason", "hint", "request_id")
_REALM_QUOTED_RE = re.compile(r'(?:^|[ ,])realm="[^"]*"')


def challenges(reply: Reply) -> list[WWWAuthenticate]:
    """Every WWW-Authenticate value parsed by werkzeug (the oracle), each one
    also checked for a quoted realm (RFC 9110 §11.5, R3)."""
    parsed = []
    for value in reply.get_all("www-authenticate"):
        assert "\r" not in value
        assert "\n" not in value
        challenge = WWWAuthenticate.from_header(value)
        assert challenge is not None, value
        assert challenge.token is None  # Bearer/Basic carry auth-params, not token68
        if "realm" in challenge.parameters:
            assert _REALM_QUOTED_RE.search(value), value
        parsed.append(challenge)
    return parsed


def assert_problem(reply: Reply, *, status: int, reason: str) -> dict[str, Any]:
    """The RFC 9457 body and the failure headers every rewritten answer has."""
    assert reply.status == status
    assert reply.get("content-type") == "application/problem+json"
    assert reply.get_all("cache-control") == ["no-store"]  # R22
    assert reply.get("pragma") == "no-cache"
    problem = reply.json()
    for member in PROBLEM_MEMBERS:
        assert member in problem, member
    assert problem["status"] == reply.status  # RFC 9457 §3.1.3 / R12
    assert problem["reason"] == reason
    # OAuth `error`/`error_description` only where RFC 6750 defines a code.
    assert ("error" in problem) == ("error_description" in problem)
    if status == 401:
        parsed = challenges(reply)
        assert parsed  # R1
        assert all(c.parameters.get("realm") == "api" for c in parsed)
    return dict(problem)


def assert_absent(secrets: Iterable[str], *texts: str) -> None:
    """No credential the test sent, in any of its encodings, appears in any
    of `texts`. The message names neither the secret nor the text, so a
    failure leaks nothing."""
    assert_no_secrets(list(texts), list(secrets), shapes=False)
