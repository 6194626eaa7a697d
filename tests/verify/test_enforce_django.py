"""Enforce mode in a Django project (`settings.AUTHHYGIENE` with
`"mode": "enforce"`), served as it is deployed: gunicorn's sync worker
(WSGI, the middleware's sync path) and uvicorn (ASGI, its async path), each
a subprocess with the project's own settings. Views read
`request.auth_identity`; a DRF view gets it through an authentication
class. The refusal table the other adapters are held to, here too; the
`auth.failure` events are read from what the server printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import CapturingLogger

from tests import leaks
from tests.e2e.servers import GunicornProcess, assert_absent, fetch
from tests.verify.enforce_apps import (
    AUDIENCE,
    ISSUER,
    PAGE,
    REFUSALS,
    SECRET,
    Calls,
    Refusal,
    Served,
    assert_refused,
    bearer,
    check_refusal,
    token,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "tests.verify.enforce_django_app"
START_BOUND_S = 30.0
STOP_BOUND_S = 15.0
_UVICORN_PORT_RE = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
_FIELD_RE = re.compile(r"(\w+)=('[^']*'|\"[^\"]*\"|\S+)")


class UvicornProcess:
    """uvicorn serving the project's ASGI application, as a subprocess."""

    def __init__(self, workdir: Path) -> None:
        self.stdout_path = workdir / "uvicorn.stdout"
        self.stderr_path = workdir / "uvicorn.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> UvicornProcess:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            f"{PROJECT}.asgi:application",
            "--app-dir",
            str(ROOT),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--lifespan",
            "off",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "2",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + START_BOUND_S
        while True:
            found = _UVICORN_PORT_RE.search(self.stderr_path.read_text(errors="replace"))
            if found:
                self.port = int(found.group(1))
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"uvicorn did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )

    def _stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_BOUND_S)

    def __exit__(self, *exc: object) -> None:
        self._stop()
        leaks.check(self.output(), what="uvicorn's output")


@dataclass
class DjangoServed(Served):
    """The project under a server in a subprocess: its calls asked of its
    `/calls` view, its events read from what it printed."""

    server: GunicornProcess | UvicornProcess | None = None
    kind: str = ""
    calls: Calls = field(default_factory=Calls)
    log: CapturingLogger = field(default_factory=CapturingLogger)

    def app_calls(self) -> int:
        return int(fetch(self.port, "/calls").json()["calls"])

    def output(self) -> str:
        assert self.server is not None
        return _ANSI_RE.sub("", self.server.output())

    def events(self, request_id: str) -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        for line in self.output().splitlines():
            if "auth.failure" not in line.split() or f"request_id={request_id}" not in line:
                continue
            fields = {name: value.strip("'\"") for name, value in _FIELD_RE.findall(line)}
            found.append({**fields, "status": int(fields["status"])})
        return found


@pytest.fixture(scope="module", params=["gunicorn-wsgi", "uvicorn-asgi"])
def project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DjangoServed]:
    workdir = tmp_path_factory.mktemp("enforce-django")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_SETTINGS_MODULE", f"{PROJECT}.settings")
        patch.setenv("ENFORCE_JWT_KEY", SECRET.hex())
        patch.setenv("ENFORCE_ISSUER", ISSUER)
        patch.setenv("ENFORCE_AUDIENCE", AUDIENCE)
        server: GunicornProcess | UvicornProcess
        if request.param == "gunicorn-wsgi":
            server = GunicornProcess(
                f"{PROJECT}.wsgi:application",
                pythonpath=ROOT,
                workdir=workdir,
                name="django",
                # Past gunicorn's 8190-byte default, so a token too large for the
                # verifier (8 KiB) reaches the middleware instead of a 431.
                extra_args=("--limit-request-field_size", "16384"),
            )
        else:
            server = UvicornProcess(workdir)
        with server:
            yield DjangoServed(server.port, server=server, kind=request.param)


@pytest.fixture
def served(project: DjangoServed) -> Iterator[DjangoServed]:
    """The project, and after the test: no credential it sent in what the
    server printed."""
    yield project
    leaks.check(project.output(), what=f"{project.kind}'s output")


# --- admitted ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/items/11", "/async-items/11"])
def test_a_view_reads_request_auth_identity(served: DjangoServed, path: str) -> None:
    sent = token(sub="user-3", scope="items:read orders:read")
    before = served.app_calls()
    reply = fetch(served.port, path, headers=bearer(sent))
    assert reply.status == 200
    assert reply.json() == {
        "item": "11",
        "subject": "user-3",
        "authenticated": True,
        "scopes": ["items:read", "orders:read"],
        "scheme": "Bearer",
        "iss": ISSUER,
    }
    assert served.app_calls() == before + 1
    assert_absent([sent], reply.wire_text)


def test_a_head_is_admitted_as_its_get(served: DjangoServed) -> None:
    reply = fetch(served.port, "/items/1", method="HEAD", headers=bearer(token()))
    assert (reply.status, reply.body) == (200, b"")


def test_a_public_view_runs_without_an_identity(served: DjangoServed) -> None:
    reply = fetch(served.port, "/health")
    assert (reply.status, reply.json()) == (200, {"status": "ok", "identity": "None"})


DRF = [
    pytest.param("reports:read", 200, id="scope-held"),
    pytest.param("items:read", 403, id="drf-permission-refuses"),
]


@pytest.mark.parametrize(("scope", "status"), DRF)
def test_a_drf_view_authenticates_with_the_identity(
    served: DjangoServed, scope: str, status: int
) -> None:
    sent = token(scope=scope)
    reply = fetch(served.port, "/drf/reports", headers=bearer(sent))
    if status == 200:
        assert (reply.status, reply.json()) == (200, {"reports": [], "user": "user-1"})
    else:
        # DRF's own 403 for an authenticated user: the refusal path explains it.
        assert_refused(reply, status=403, reason="forbidden", log=served.events, sent=(sent,))


# --- refused before the view ---------------------------------------------------------------


@pytest.mark.parametrize("case", REFUSALS.values())
def test_refused_before_the_view(served: DjangoServed, case: Refusal) -> None:
    check_refusal(served, case, [])


def test_a_refusal_to_a_page_carries_the_cors_headers(served: DjangoServed) -> None:
    reply = check_refusal(served, REFUSALS["expired"].values[0], [("Origin", PAGE)])  # type: ignore[arg-type]
    assert reply.get("access-control-allow-origin") == PAGE


def test_a_preflight_is_never_refused(served: DjangoServed) -> None:
    before = served.app_calls()
    reply = fetch(
        served.port,
        "/items/1",
        method="OPTIONS",
        headers=[("Origin", PAGE), ("Access-Control-Request-Method", "GET")],
    )
    assert reply.status in (200, 204)
    assert reply.get("access-control-allow-origin") == PAGE
    assert reply.get("www-authenticate") is None
    assert served.app_calls() == before


def test_a_token_the_view_refuses_after_admission_is_said_to_be_valid(
    served: DjangoServed,
) -> None:
    sent = token(sub="user-revoked")
    before = served.app_calls()
    reply = fetch(served.port, "/me", headers=bearer(sent))
    assert_refused(
        reply,
        status=401,
        reason="credentials_invalid",
        problem="valid_token_refused",
        error="invalid_token",
        log=served.events,
        sent=(sent,),
    )
    assert served.app_calls() == before + 1


# --- a path the WSGI adapter misreads (test_enforce_wsgi.py); Django decodes it ------------


def test_a_non_ascii_route_admits_a_token_with_its_scope(served: DjangoServed) -> None:
    """Django puts the decoded path in request.META['PATH_INFO'] under WSGI
    too, so the rule ('GET', '/café/*', ...) matches on both servers."""
    reply = fetch(served.port, "/caf%C3%A9/7", headers=bearer(token(scope="orders:read")))
    assert (reply.status, reply.json()) == (200, {"order": "7"})
    refused = fetch(served.port, "/caf%C3%A9/7")
    assert_refused(
        refused,
        status=401,
        reason="credentials_missing",
        log=served.events,
        challenge_scope="orders:read",  # the route's scopes, asked for
    )
