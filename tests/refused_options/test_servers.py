"""A mistyped option under the servers FastAPI and Starlette users run.

Starlette builds ``add_middleware`` middleware inside its first ASGI call, so
a refused option cannot stop the import. Through uvicorn (``--lifespan auto``,
its default, and ``on``) and hypercorn the start-up fails with the message;
with ``--lifespan off`` every request passes through unchanged and the log
says so. Real servers on 127.0.0.1, each stopped by the test.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

EXIT_TIMEOUT_S = 20.0
_RUNNING = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:(\d+)")

_FASTAPI = """
from fastapi import FastAPI, HTTPException
from authhygiene import AuthHygiene

app = FastAPI()
app.add_middleware(AuthHygiene, realm="api", relam="typo")

@app.get("/me")
def me():
    raise HTTPException(401, "Not authenticated")
"""

_STARLETTE = """
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from authhygiene import AuthHygiene

async def me(request):
    return JSONResponse({"detail": "Not authenticated"}, status_code=401)

app = Starlette(
    routes=[Route("/me", me)],
    middleware=[Middleware(AuthHygiene, realm="api", log_limit="lots")],
)
"""

_ENFORCING = """
from fastapi import FastAPI
from authhygiene import AuthHygiene
from authhygiene.verify import APIKey

app = FastAPI()
app.add_middleware(
    AuthHygiene, realm="api", mode="enforce", verify=APIKey(keys={"svc": "k" * 40}), log_levle="x"
)

@app.get("/me")
def me():
    return {"secret": "for key holders only"}
"""

_SOURCES = {"fastapi": _FASTAPI, "starlette": _STARLETTE, "enforcing": _ENFORCING}


@dataclass(frozen=True)
class StartUp:
    name: str
    app: str
    command: tuple[str, ...]
    error: str


# What each refused option's message says to change.
_TYPO = "unknown option 'relam'. Did you mean 'realm'?"
_LOG_LIMIT = "log_limit must be authhygiene.LogLimit("

_START_UPS = [
    StartUp("uvicorn-auto", "fastapi", ("uvicorn", "--port", "0"), _TYPO),
    StartUp("uvicorn-on", "fastapi", ("uvicorn", "--port", "0", "--lifespan", "on"), _TYPO),
    StartUp("uvicorn-auto-starlette", "starlette", ("uvicorn", "--port", "0"), _LOG_LIMIT),
    StartUp("hypercorn", "fastapi", ("hypercorn", "--bind", "127.0.0.1:0"), _TYPO),
]


def _write_app(tmp_path: Path, kind: str) -> None:
    (tmp_path / "typo_app.py").write_text(_SOURCES[kind])


def _start(tmp_path: Path, command: tuple[str, ...]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-m", *command, "typo_app:app"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> bytes:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=EXIT_TIMEOUT_S)
    assert process.stdout is not None
    return process.stdout.read()


@pytest.mark.parametrize("case", _START_UPS, ids=lambda case: case.name)
def test_a_refused_option_stops_the_start_up(tmp_path: Path, case: StartUp) -> None:
    _write_app(tmp_path, case.app)
    process = _start(tmp_path, case.command)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=EXIT_TIMEOUT_S)
    stopped_by_itself = process.poll() is not None
    output = _stop(process).decode(errors="replace")
    assert stopped_by_itself, output
    assert "authhygiene refused its options, so the app was not started" in output
    assert case.error in output


def _serve_without_lifespan(
    tmp_path: Path, kind: str
) -> tuple[subprocess.Popen[bytes], int, bytes]:
    """uvicorn --lifespan off serving the app; its port and what it printed
    until it listened."""
    _write_app(tmp_path, kind)
    process = _start(tmp_path, ("uvicorn", "--port", "0", "--lifespan", "off"))
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while (running := _RUNNING.search(seen)) is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
    if running is None:
        output = (seen + _stop(process)).decode(errors="replace")
        pytest.fail(f"uvicorn did not start:\n{output}")
    return process, int(running.group(1)), seen


def test_without_lifespan_guarding_options_refuse_every_request(tmp_path: Path) -> None:
    """Enforce mode with a typo: passing through would serve the route to
    anyone, so every request is refused 503 (no-store) instead."""
    process, port, _ = _serve_without_lifespan(tmp_path, "enforcing")
    try:
        answers = [_get(port, "/me") for _ in range(2)]
    finally:
        output = _stop(process).decode(errors="replace")
    for status, headers, body in answers:
        names = {name.lower(): value for name, value in headers}
        assert status == 503
        assert names["cache-control"] == "no-store"
        assert b"key holders" not in body
    assert "requests are refused 503" in output


def _get(port: int, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=EXIT_TIMEOUT_S)
    try:
        connection.request("GET", path, headers={"Authorization": "Bearer abc.def.ghi"})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("kind", ["fastapi", "starlette"])
def test_without_lifespan_requests_pass_through_unchanged(tmp_path: Path, kind: str) -> None:
    """Nothing stops the server, so the middleware steps aside: the app's own
    401 as it wrote it (no problem+json, no no-store), and one loud log line
    for the three requests (then at most one a minute)."""
    process, port, seen = _serve_without_lifespan(tmp_path, kind)
    try:
        answers = [_get(port, "/me") for _ in range(3)]
    finally:
        output = (seen + _stop(process)).decode(errors="replace")
    for status, headers, body in answers:
        names = {name.lower(): value for name, value in headers}
        assert status == 401
        assert names["content-type"] == "application/json"
        assert "cache-control" not in names
        assert "www-authenticate" not in names
        assert body == b'{"detail":"Not authenticated"}'
    notices = [line for line in output.splitlines() if "requests pass through unchanged" in line]
    assert len(notices) == 1, output
    assert "requests_seen=1" in notices[0]
    assert "abc.def.ghi" not in output
