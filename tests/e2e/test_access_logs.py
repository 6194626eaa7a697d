"""Servers' own access logs, the leak the middleware cannot stop on its own
(R11): uvicorn, gunicorn, werkzeug's dev server and Django's runserver print
every request line, query string included, and gunicorn prints any request
header its `--access-logformat` names. A token sent as `?access_token=` (RFC
6750 §2.3, which §5.3 warns ends up in logs) lands there in clear.

Each server runs for real, as a subprocess, with its access log on, serving
an app written the way its framework teaches (tests/e2e/access_apps/).
Without redaction the test must see the token in the access log: that proves
it would see a leak. With `authhygiene.logging.redact_server_logs()` called
at the app's import, the same line is still there, the secret parameter reads
`[redacted]`, and no form of the token is anywhere in the server's output.

The output is read from files and never printed: the unredacted case holds a
token on purpose, and pytest's captured output is checked for leaks.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest

from authhygiene.testing import assert_no_secrets
from tests import leaks
from tests.e2e.access_apps import REDACT_ENV

ROOT = Path(__file__).resolve().parents[2]
_START_BOUND_S = 20.0
_LOG_BOUND_S = 10.0
_STOP_BOUND_S = 10.0
_IO_TIMEOUT_S = 10.0
_POLL_S = 0.05
# werkzeug colours its request lines (red for a 401) even into a file.
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")

Headers = Sequence[tuple[str, str]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_jwt() -> str:
    """A fresh, signed, unexpired JWT: what a real client puts in the URL."""
    claims = {"sub": "access-log-test", "jti": secrets.token_hex(8), "exp": int(time.time()) + 600}
    return jwt.encode(claims, secrets.token_hex(32), algorithm="HS256")


def make_opaque() -> str:
    """An opaque token with no shape to recognise: only its parameter name gives it away."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Probe:
    """One request: the token it carries, where it goes, and the request
    line's path part as the access log shows it once the token is masked."""

    token: Callable[[], str]
    path: Callable[[str], str]
    headers: Callable[[str], Headers]
    logged_path: str


PROBES = {
    "query-jwt": Probe(
        make_jwt,
        lambda token: f"/items?access_token={token}",
        lambda token: (),
        "/items?access_token=[redacted]",
    ),
    "query-opaque-after-another-parameter": Probe(
        make_opaque,
        lambda token: f"/items?page=2&access_token={token}",
        lambda token: (),
        "/items?page=2&access_token=[redacted]",
    ),
    "authorization-header": Probe(
        make_jwt,
        lambda token: "/items",
        lambda token: (("Authorization", f"Bearer {token}"),),
        "/items",
    ),
}


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server on `port`, the requests it gets, and the
    text its access line has around the path (`{path}` is filled in)."""

    command: Callable[[int], list[str]]
    probes: tuple[str, ...]
    line: str
    # With a header named in the access log format, the masked value shows.
    header_logged: bool = False


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _gunicorn(port: int, *extra: str) -> list[str]:
    """One sync worker with its access log on stdout, plus `extra` options."""
    return _python(
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--access-logfile",
        "-",
        *extra,
        "--no-control-socket",
        "--graceful-timeout",
        "5",
        "tests.e2e.access_apps.wsgi_app:app",
    )


SERVERS = [
    pytest.param(
        ServerSpec(
            lambda port: _python(
                "-m",
                "uvicorn",
                "tests.e2e.access_apps.asgi_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "info",
            ),
            ("query-jwt", "query-opaque-after-another-parameter"),
            '"GET {path} HTTP/1.1" 401',
        ),
        id="uvicorn",
    ),
    pytest.param(
        ServerSpec(
            lambda port: _gunicorn(port),
            ("query-jwt", "query-opaque-after-another-parameter"),
            '"GET {path} HTTP/1.1" 401',
        ),
        id="gunicorn",
    ),
    pytest.param(
        ServerSpec(
            lambda port: _gunicorn(
                port, "--access-logformat", '%(h)s "%(r)s" %(s)s %({authorization}i)s'
            ),
            ("query-jwt", "authorization-header"),
            '127.0.0.1 "GET {path} HTTP/1.1" 401',
            header_logged=True,
        ),
        id="gunicorn-authorization-in-format",
    ),
    pytest.param(
        ServerSpec(
            lambda port: _python("-m", "tests.e2e.access_apps.wsgi_app", str(port)),
            ("query-jwt", "query-opaque-after-another-parameter"),
            '"GET {path} HTTP/1.1" 401',
        ),
        id="werkzeug",
    ),
    pytest.param(
        ServerSpec(
            lambda port: _python(
                "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"
            ),
            ("query-jwt", "query-opaque-after-another-parameter"),
            '"GET {path} HTTP/1.1" 401',
        ),
        id="django-runserver",
    ),
]


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text("utf-8", "replace") + self.stderr.read_text("utf-8", "replace")

    def wait_for(self, marker: str, count: int) -> None:
        """Until the server has logged `count` lines holding `marker`
        (gunicorn writes its access line after the response went out)."""
        deadline = time.monotonic() + _LOG_BOUND_S
        while self.output().count(marker) < count and time.monotonic() < deadline:
            time.sleep(_POLL_S)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_BOUND_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_BOUND_S)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def serving(spec: ServerSpec, workdir: Path, *, redact: bool) -> Iterator[Running]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "tests.e2e.access_apps.django_settings",
        REDACT_ENV: "1" if redact else "0",
    }
    stdout, stderr = workdir / "stdout.log", workdir / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(spec.command(port), cwd=ROOT, env=env, stdout=out, stderr=err)
    running = Running(process, port, stdout, stderr)
    try:
        deadline = time.monotonic() + _START_BOUND_S
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                # The output holds no token yet: nothing was sent.
                pytest.fail(f"the server did not start:\n{running.output()}")
            time.sleep(_POLL_S)
        yield running
    finally:
        _stop(process)


def get(port: int, path: str, headers: Headers) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=_IO_TIMEOUT_S)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def exercise(spec: ServerSpec, workdir: Path, *, redact: bool) -> tuple[str, dict[str, str]]:
    """Send each probe once, with a fresh token; return everything the
    server printed and the token each probe sent."""
    tokens = {name: PROBES[name].token() for name in spec.probes}
    with serving(spec, workdir, redact=redact) as running:
        for name in spec.probes:
            probe = PROBES[name]
            token = tokens[name]
            assert get(running.port, probe.path(token), probe.headers(token)) == 401
        running.wait_for("GET /items", len(spec.probes))
    return running.output(), tokens


@pytest.mark.parametrize("spec", SERVERS)
def test_without_redaction_the_access_log_shows_the_token(spec: ServerSpec, tmp_path: Path) -> None:
    """The control: if the server did not print the token, the redacted
    case below would prove nothing."""
    output, tokens = exercise(spec, tmp_path, redact=False)

    for name, token in tokens.items():
        shown = token in output  # never in an assert message: it is a token
        assert shown, f"{name}: the server's access log does not show the token"


@pytest.mark.parametrize("spec", SERVERS)
def test_redact_server_logs_masks_the_token_and_keeps_the_line(
    spec: ServerSpec, tmp_path: Path
) -> None:
    output, tokens = exercise(spec, tmp_path, redact=True)

    # First: these checks fail without showing the output they search.
    assert_no_secrets(output, list(tokens.values()))
    leaks.check(output, what="the server's output")
    plain = _ANSI_RE.sub("", output)
    for name in spec.probes:
        probe = PROBES[name]
        line = spec.line.format(path=probe.logged_path)
        if spec.header_logged:
            line += " [redacted]" if probe.headers("x") else " -"
        assert line in plain, name
