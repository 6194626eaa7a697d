"""Prometheus counters for auth failures, scraped from a real /metrics.

Metrics are how a flood is seen once its log lines are suppressed, so they
count every failure; they must stay low-cardinality (no path, no client, no
scheme a client made up as a label), must not exist when the operator says
metrics=False, and the package must work without prometheus-client at all:
never imported, and a clear PolicyError naming the extra when metrics=True
asks for it. The counters live in prometheus-client's process-wide registry,
so in this process the tests compare deltas; gunicorn's worker is a process
of its own, where the counts are absolute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from authhygiene import LogLimit
from authhygiene.testing import assert_no_secrets

from . import leaks
from .e2e.log_apps import BAD_TOKEN, BASIC_CREDENTIAL, JWT_KEY, JsonLines, json_logger
from .e2e.log_apps.asgi_app import fastapi_app
from .e2e.servers import GunicornProcess, UvicornThread, fetch

ROOT = Path(__file__).resolve().parents[1]
FAILURES = "authhygiene_failures_total"
SUPPRESSED = "authhygiene_log_events_suppressed_total"
LABELS = ("reason", "status", "scheme")
# The gate's timer writes the summary window_s (1 s here) + 0.25 s after a
# suppression: a bound on the wait for it, not a timing assertion.
_SUMMARY_WAIT_S = 1 + 3

Labels = tuple[str, str, str]
Headers = tuple[tuple[str, str], ...]


def expired_jwt() -> str:
    exp = int(time.time()) - 95
    return jwt.encode({"sub": "metrics-user", "exp": exp}, JWT_KEY, algorithm="HS256")


class Scrape:
    """One read of /metrics, parsed by prometheus-client's own parser."""

    def __init__(self, port: int) -> None:
        # Starlette redirects a mount's bare path; WSGI's dispatcher does not.
        reply = fetch(port, "/metrics/")
        assert reply.status == 200
        self.text = reply.body.decode()
        self.samples = [
            sample
            for family in text_string_to_metric_families(self.text)
            for sample in family.samples
        ]

    def failures(self) -> Counter[Labels]:
        counts: Counter[Labels] = Counter()
        for sample in self.samples:
            if sample.name == FAILURES:
                assert tuple(sorted(sample.labels)) == tuple(sorted(LABELS)), sample.labels
                labels = (sample.labels["reason"], sample.labels["status"], sample.labels["scheme"])
                counts[labels] += int(sample.value)
        return counts

    def suppressed(self) -> int:
        values = [int(s.value) for s in self.samples if s.name == SUPPRESSED]
        return sum(values)


def delta(before: Counter[Labels], after: Counter[Labels]) -> dict[Labels, int]:
    keys = set(before) | set(after)
    return {key: after[key] - before[key] for key in keys if after[key] != before[key]}


FAILURE_CASES = [
    pytest.param((), ("credentials_missing", "401", "none"), id="no-credentials"),
    pytest.param(
        (("Authorization", f"Bearer {BAD_TOKEN}"),),
        ("credentials_invalid", "401", "Bearer"),
        id="bad-token",
    ),
    pytest.param("expired-jwt", ("token_expired", "401", "Bearer"), id="expired-jwt"),
    pytest.param(
        (("Authorization", f"Basic {BASIC_CREDENTIAL}"),),
        ("scheme_not_accepted", "401", "Basic"),
        id="basic-to-bearer-api",
    ),
    # Scheme names are case-insensitive (RFC 9110 §11.1): one label each.
    pytest.param(
        (("Authorization", f"bearer {BAD_TOKEN}"),),
        ("credentials_invalid", "401", "Bearer"),
        id="lower-case-bearer",
    ),
    pytest.param(
        (("Authorization", f"BASIC {BASIC_CREDENTIAL}"),),
        ("scheme_not_accepted", "401", "Basic"),
        id="upper-case-basic",
    ),
    # A scheme the client made up must not become a label value.
    pytest.param(
        (("Authorization", "Foo123 x"),), ("scheme_not_accepted", "401", "other"), id="made-up"
    ),
]


def _headers(headers: Headers | str) -> Headers:
    if headers == "expired-jwt":
        return (("Authorization", f"Bearer {expired_jwt()}"),)
    assert not isinstance(headers, str)
    return headers


# --- FastAPI under uvicorn, in this process ----------------------------------------------


@pytest.fixture(scope="module")
def asgi_servers() -> Iterator[dict[str, tuple[int, JsonLines]]]:
    """One FastAPI app per `metrics` option, each with /metrics mounted."""
    with contextlib.ExitStack() as exits:
        started = {}
        for name, option in (
            ("default", {}),
            ("on", {"metrics": True}),
            ("off", {"metrics": False}),
        ):
            lines = JsonLines()
            app = fastapi_app(
                metrics_endpoint=True, realm="api", logger=json_logger(lines), **option
            )
            server = exits.enter_context(UvicornThread(app))
            started[name] = (server.port, lines)
        yield started


@pytest.mark.parametrize(("headers", "labels"), FAILURE_CASES)
def test_asgi_failures_are_counted(
    asgi_servers: dict[str, tuple[int, JsonLines]], headers: Headers | str, labels: Labels
) -> None:
    port, lines = asgi_servers["default"]
    before = Scrape(port)

    for _ in range(3):
        reply = fetch(port, "/private/metrics-path-7f3a", headers=_headers(headers))
        assert reply.status == 401
        assert reply.json()["reason"] == labels[0]
    after = Scrape(port)

    assert delta(before.failures(), after.failures()) == {labels: 3}
    # Labels carry no path, no client, no made-up scheme.
    assert "metrics-path-7f3a" not in after.text
    assert "127.0.0.1" not in after.text
    assert "Foo123" not in after.text
    assert_no_secrets([after.text, lines.lines()], leaks.sent())


@pytest.mark.parametrize(
    ("server", "counted"),
    [
        pytest.param("default", True, id="none-means-on-when-installed"),
        pytest.param("on", True, id="true"),
        pytest.param("off", False, id="false"),
    ],
)
def test_metrics_option(
    asgi_servers: dict[str, tuple[int, JsonLines]], server: str, counted: bool
) -> None:
    port, _ = asgi_servers[server]
    before = Scrape(port)

    reply = fetch(port, "/private")
    after = Scrape(port)

    assert reply.status == 401
    expected = {("credentials_missing", "401", "none"): 1} if counted else {}
    assert delta(before.failures(), after.failures()) == expected


def test_successes_and_other_errors_are_not_counted(
    asgi_servers: dict[str, tuple[int, JsonLines]],
) -> None:
    port, _ = asgi_servers["default"]
    before = Scrape(port)

    assert fetch(port, "/public").status == 200
    assert fetch(port, "/no-such-page").status == 404
    after = Scrape(port)

    assert delta(before.failures(), after.failures()) == {}


def test_suppressed_log_lines_are_counted() -> None:
    """A flood's log lines are held back; its metrics are not."""
    lines = JsonLines()
    app = fastapi_app(
        metrics_endpoint=True,
        realm="api",
        logger=json_logger(lines),
        log_limit=LogLimit(per_key=2, total=100, window_s=1),
    )
    with UvicornThread(app) as server:
        before = Scrape(server.port)
        for _ in range(6):
            assert fetch(server.port, "/private/flood").status == 401
        after = Scrape(server.port)

        assert delta(before.failures(), after.failures()) == {
            ("credentials_missing", "401", "none"): 6
        }
        assert after.suppressed() - before.suppressed() == 4
        # The summary comes from the gate's timer once the window closes
        # (bounded wait); then no timer is left running.
        deadline = time.monotonic() + _SUMMARY_WAIT_S
        while not lines.events("auth.failure.suppressed") and time.monotonic() < deadline:
            time.sleep(0.05)

    assert len(lines.events("auth.failure")) == 2
    assert [e["count"] for e in lines.events("auth.failure.suppressed")] == [4]


# --- Flask under gunicorn: a process of its own -------------------------------------------


def test_wsgi_failures_under_gunicorn(tmp_path: Path) -> None:
    sent: list[Headers | str] = [
        (),
        (),
        (("Authorization", f"Bearer {BAD_TOKEN}"),),
        "expired-jwt",
        (("Authorization", f"Basic {BASIC_CREDENTIAL}"),),
        (("Authorization", "Foo123 x"),),
    ]
    with GunicornProcess(
        "tests.e2e.log_apps.wsgi_app:gunicorn_app('metrics')",
        pythonpath=ROOT,
        workdir=tmp_path,
        name="metrics",
    ) as server:
        for headers in sent:
            reply = fetch(server.port, "/private/metrics-path-9c1d", headers=_headers(headers))
            assert reply.status == 401
        assert fetch(server.port, "/public").status == 200
        scrape = Scrape(server.port)
    output = server.output()

    assert scrape.failures() == {
        ("credentials_missing", "401", "none"): 2,
        ("credentials_invalid", "401", "Bearer"): 1,
        ("token_expired", "401", "Bearer"): 1,
        ("scheme_not_accepted", "401", "Basic"): 1,
        ("scheme_not_accepted", "401", "other"): 1,
    }
    assert scrape.suppressed() == 0
    assert "metrics-path-9c1d" not in scrape.text
    assert output.count('"event": "auth.failure"') == len(sent)
    assert_no_secrets([output, scrape.text], leaks.sent())


# --- without prometheus-client ------------------------------------------------------------

_HIDE = {
    # Not installed: the probe runs without `site`, on a copy of this
    # environment's site-packages (symlinks) that lacks prometheus-client.
    "not-installed": "",
    # The documented way to make an import fail: nothing to find.
    "sys-modules-none": "sys.modules['prometheus_client'] = None",
    # An import blocker, as some sandboxes and test tools install.
    "finder-refuses": """
import importlib.abc
class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "prometheus_client" or name.startswith("prometheus_client."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Refuse())
""",
}

_PROBE = """
import asyncio
import json
import sys
import types

{hide}

import httpx
from structlog.testing import CapturingLogger
from werkzeug.test import Client

from authhygiene import AuthHygiene, AuthHygieneWSGI, PolicyError

async def app(scope, receive, send):
    await send({{"type": "http.response.start", "status": 401, "headers": []}})
    await send({{"type": "http.response.body", "body": b"Login required"}})

def wsgi_app(environ, start_response):
    start_response("401 Unauthorized", [("Content-Type", "text/plain")])
    return [b"Login required"]

out = {{}}
log = CapturingLogger()
asgi = AuthHygiene(app, realm="api", logger=log)

async def call():
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        return await client.get("/private")

reply = asyncio.run(call())
out["asgi"] = [reply.status_code, reply.json()["reason"]]
response = Client(AuthHygieneWSGI(wsgi_app, realm="api", logger=log)).get("/private")
out["wsgi"] = [response.status_code, response.get_json()["reason"]]
out["events"] = [call.args[0] for call in log.calls]
out["explicit_off"] = AuthHygiene(app, realm="api", metrics=False).runtime.metrics is None
try:
    AuthHygiene(app, realm="api", metrics=True)
    out["required"] = None
except PolicyError as exc:
    out["required"] = str(exc)
out["imported"] = isinstance(sys.modules.get("prometheus_client"), types.ModuleType)
print(json.dumps(out))
"""


def _site_packages_without_prometheus(into: Path) -> Path:
    import structlog

    site_packages = Path(structlog.__file__).resolve().parents[1]
    into.mkdir()
    for entry in site_packages.iterdir():
        if not entry.name.lower().startswith("prometheus"):
            (into / entry.name).symlink_to(entry)
    return into


@pytest.mark.parametrize("hide", sorted(_HIDE))
def test_without_prometheus_client(hide: str, tmp_path: Path) -> None:
    path = [str(ROOT / "src")]
    flags = []
    if hide == "not-installed":
        path.append(str(_site_packages_without_prometheus(tmp_path / "site-packages")))
        flags.append("-S")
    completed = subprocess.run(
        [sys.executable, *flags, "-c", _PROBE.format(hide=_HIDE[hide])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = json.loads(completed.stdout.strip().splitlines()[-1])

    assert out["asgi"] == [401, "credentials_missing"]
    assert out["wsgi"] == [401, "credentials_missing"]
    assert out["events"].count("auth.failure") == 2
    assert out["explicit_off"] is True
    assert out["imported"] is False
    assert out["required"] is not None
    assert "metrics=True needs prometheus-client" in out["required"]
    assert "authhygiene[prometheus]" in out["required"]


# --- nothing blocks the event loop -----------------------------------------------------


def test_prometheus_client_is_imported_with_the_module_not_per_middleware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Starlette builds its middleware at the first request, inside the
    event loop: the constructor must find prometheus-client already
    imported, and never look for it (a file-system search) again."""
    import importlib.util

    import prometheus_client

    from authhygiene import metrics

    assert metrics._prometheus is prometheus_client

    def no_search(*args: object, **kwargs: object) -> None:
        raise AssertionError("searched for prometheus-client at construction")

    monkeypatch.setattr(importlib.util, "find_spec", no_search)
    monkeypatch.setattr(importlib, "import_module", no_search)
    assert metrics.failure_metrics(None) is metrics.failure_metrics(True) is not None


@pytest.mark.parametrize("option", [None, True, False])
def test_construction_in_a_running_loop_does_not_block(option: bool | None) -> None:
    from blockbuster import blockbuster_ctx

    from authhygiene import AuthHygiene

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    async def build() -> object:
        return AuthHygiene(app, realm="api", metrics=option).runtime.metrics

    with blockbuster_ctx():
        built = asyncio.run(build())
    assert (built is None) == (option is False)
