"""The Django test project behind a real server: gunicorn, one sync worker.

Why this file exists: Django's test clients skip the WSGI server, its header
handling and the process's real stdout. Here the project runs exactly as it
is deployed (DJANGO_SETTINGS_MODULE, `wsgi.application`, the middleware's
default structlog logger printing to stdout), and the probes speak plain
HTTP/1.1 through http.client. The server's captured output must show the
failure events and never a token.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.datastructures import WWWAuthenticate

from tests.django.conftest import REALM, Secret, assert_not_leaked
from tests.django.project import views

ROOT = Path(__file__).resolve().parents[2]
_LISTENING_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_START_BOUND_S = 60.0  # a bound on waiting for start-up, not a timing assertion
_STOP_BOUND_S = 20.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path
    token: Secret
    sent: list[Secret] = field(default_factory=list)
    failures: int = 0

    def request(
        self, path: str, headers: dict[str, str]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def output(self) -> str:
        return self.stdout.read_text("utf-8", "replace") + self.stderr.read_text("utf-8", "replace")

    def stop(self) -> str:
        """Stop the server (idempotent) and return everything it printed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_STOP_BOUND_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=_STOP_BOUND_S)
        return self.output()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("gunicorn")
    token = Secret(secrets.token_urlsafe(24))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.django.project.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",  # each event reaches the file when it is logged
        "HYGIENE_TEST_TOKEN": token,
    }
    stdout, stderr = directory / "stdout.log", directory / "stderr.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:0",  # the kernel picks a free port; gunicorn prints it
        "--workers",
        "1",
        "--worker-class",
        "sync",
        "--no-control-socket",
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "5",
        "tests.django.project.wsgi:application",
    ]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
    server = Server(process, 0, stdout, stderr, token)
    try:
        deadline = time.monotonic() + _START_BOUND_S
        while time.monotonic() < deadline and process.poll() is None:
            found = _LISTENING_RE.search(stderr.read_text("utf-8", "replace"))
            if found:
                server.port = int(found.group(1))
                break
            time.sleep(0.05)
        if not server.port:
            pytest.fail(f"gunicorn did not start:\n{server.stop()}")
        yield server
    finally:
        server.stop()


# (path, credential, expected status, expected RFC 6750 error; None: a challenge without one)
# credential: None, "bad", "good", or "empty" (a bare "Bearer ").
PROBES = [
    pytest.param("/api/items", None, 401, None, id="401-no-credentials"),
    pytest.param("/api/items", "bad", 401, "invalid_token", id="401-bad-token"),
    pytest.param("/api/items", "empty", 400, "invalid_request", id="400-empty-bearer"),
    pytest.param("/api/write", "good", 403, "insufficient_scope", id="403-insufficient-scope"),
    pytest.param("/api/denied", None, 401, None, id="401-from-PermissionDenied"),
]


def _headers(server: Server, credential: str | None) -> tuple[dict[str, str], Secret | None]:
    token = {"bad": Secret(secrets.token_urlsafe(24)), "good": server.token}.get(credential or "")
    if credential == "empty":
        return {"Authorization": "Bearer "}, None
    if token is None:
        return {}, None
    server.sent.append(token)
    return {"Authorization": f"Bearer {token}"}, token


@pytest.mark.parametrize(("path", "credential", "status", "error"), PROBES)
def test_failure_over_http(
    server: Server, path: str, credential: str | None, status: int, error: str | None
) -> None:
    headers, token = _headers(server, credential)
    got, response_headers, body = server.request(path, headers)
    server.failures += 1
    assert got == status
    challenges = response_headers.get_all("WWW-Authenticate") or []
    assert len(challenges) == 1
    assert f'realm="{REALM}"' in challenges[0]  # R3, as it went over the wire
    parsed = WWWAuthenticate.from_header(challenges[0])
    assert parsed is not None
    assert parsed.type == "bearer"
    assert parsed.parameters.get("error") == error
    assert response_headers["Content-Type"] == "application/problem+json"
    assert response_headers["Cache-Control"] == "no-store"
    assert response_headers["Pragma"] == "no-cache"
    assert int(response_headers["Content-Length"]) == len(body)
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["request_id"] == response_headers["X-Request-ID"]
    if token is not None:
        # The event for this request was printed before the response was sent.
        assert_not_leaked(token, body, str(response_headers), server.output())


def test_success_over_http_is_the_apps_answer(server: Server) -> None:
    headers, token = _headers(server, "good")
    status, response_headers, body = server.request("/api/items", headers)
    assert status == 200
    assert json.loads(body) == {"items": ["a", "b"]}
    assert response_headers["Content-Type"] == "application/json"
    assert "WWW-Authenticate" not in response_headers
    assert "no-store" not in (response_headers.get("Cache-Control") or "")
    assert token is not None
    assert_not_leaked(token, body, server.output())


def test_bytes_over_http_are_untouched(server: Server) -> None:
    status, response_headers, body = server.request("/ok", {})
    assert status == 200
    assert body == views.OK_BODY
    assert response_headers["Cache-Control"] == "max-age=60"
    assert response_headers["ETag"] == '"v1"'


def test_server_output_has_the_events_and_no_token(server: Server) -> None:
    # Runs last in this module; it sends one failure itself so that it also
    # proves something when selected alone.
    headers, _ = _headers(server, "bad")
    status, _, _ = server.request("/api/items", headers)
    assert status == 401
    server.failures += 1
    output = server.stop()
    # structlog's default configuration prints one line per event to stdout.
    assert output.count("auth.failure") == server.failures
    assert server.sent
    for token in server.sent:
        assert_not_leaked(token, output)
