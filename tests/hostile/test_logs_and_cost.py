"""Logs and cost under hostile input, through real servers (issue 12,
findings 6, 7, 8 and 13).

- 6: a secret made of digits under a secret name (`?access_token=987...`,
  `api_key`, `password`, `otp`) is masked in uvicorn's and gunicorn's own
  access logs by `redact_server_logs()`, like any other secret.
- 7: behind a trusted proxy, the client is read from the proxy-written
  right end of `X-Forwarded-For` / `Forwarded`, however much the client
  padded the left end (one field or several).
- 8: crafted user agents, origins and paths (a secret header name or a
  scheme word repeated inside the run it would mask) cost a bounded amount
  of work per refusal: no scrub ever sees more than a window of them, and
  a refusal is answered within a generous bound on uvicorn and gunicorn.
- 13: thousands of refusals with distinct 15 KB origins or header names
  leave the process's memory where it was: every cache is bounded in bytes.
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from authhygiene.core import redact
from authhygiene.testing import assert_no_secrets
from tests import leaks
from tests.e2e.servers import GunicornProcess, UvicornThread, WerkzeugThread, fetch, raw_exchange
from tests.e2e.test_access_logs import ServerSpec, _gunicorn, _python, get, serving
from tests.hostile.logs_and_cost_apps import refusing_asgi, refusing_wsgi

ROOT = Path(__file__).resolve().parents[2]

# --- finding 6: numbers under secret names in servers' access logs ------------------------


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


ACCESS_SERVERS = [
    pytest.param(
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
        id="uvicorn",
    ),
    pytest.param(lambda port: _gunicorn(port), id="gunicorn"),
]


@pytest.mark.parametrize("command", ACCESS_SERVERS)
def test_numeric_secrets_never_reach_the_access_log(
    command: Callable[[int], list[str]], tmp_path: Path
) -> None:
    token, key, password, otp = _digits(20), _digits(16), _digits(10), _digits(8)
    sent = {
        f"/items?access_token={token}": "/items?access_token=[redacted]",
        f"/items?page=2&api_key={key}": "/items?page=2&api_key=[redacted]",
        f"/items?password={password}&otp={otp}": "/items?password=[redacted]&otp=[redacted]",
        "/items?page=2&limit=50": "/items?page=2&limit=50",
    }
    leaks.remember(token, key, password, otp)
    spec = ServerSpec(command, (), "")
    with serving(spec, tmp_path, redact=True) as running:
        for target in sent:
            assert get(running.port, target, ()) == 401
        running.wait_for("GET /items", len(sent))
    output = running.output()

    assert_no_secrets(output, [token, key, password, otp])
    leaks.check(output, what="the server's output")
    for logged in sent.values():
        assert f'"GET {logged} HTTP/1.1" 401' in output, logged


@pytest.mark.parametrize("command", ACCESS_SERVERS)
def test_more_secret_query_names_never_reach_the_access_log(
    command: Callable[[int], list[str]], tmp_path: Path
) -> None:
    """CAS tickets, SAML-style assertions, servlet sessions, OAuth 1
    verifiers and nouns run together (`accesstoken`) in the request line."""
    values = {name: secrets.token_hex(8) for name in ("ticket", "assertion", "JSESSIONID")}
    values["oauth_verifier"] = _digits(8)
    values["accesstoken"] = secrets.token_hex(16)
    leaks.remember(*values.values())
    sent = {
        f"/items?{name}={value}&page=2": f"/items?{name}=[redacted]&page=2"
        for name, value in values.items()
    }
    with serving(ServerSpec(command, (), ""), tmp_path, redact=True) as running:
        for target in sent:
            assert get(running.port, target, ()) == 401
        running.wait_for("GET /items", len(sent))
    output = running.output()
    assert_no_secrets(output, list(values.values()))
    for logged in sent.values():
        assert f'"GET {logged} HTTP/1.1" 401' in output, logged


def test_a_basic_user_that_is_a_key_never_reaches_gunicorns_access_log(tmp_path: Path) -> None:
    """gunicorn's default access format prints the Basic user-id (`%(u)s`);
    with `curl -u KEY:` that is the credential."""
    import base64

    key = secrets.token_hex(16)
    leaks.remember(key)
    credential = base64.b64encode(f"{key}:".encode()).decode()
    with serving(
        ServerSpec(lambda port: _gunicorn(port), (), ""), tmp_path, redact=True
    ) as running:
        assert get(running.port, "/items", (("Authorization", f"Basic {credential}"),)) == 401
        running.wait_for("GET /items", 1)
    output = running.output()
    assert_no_secrets(output, [key, credential])
    assert '"GET /items HTTP/1.1" 401' in output


# --- finding 7: the proxy-written right end of the forwarding headers ---------------------

PROXY_SAW = "203.0.113.7"


def _captured_options(capture: LogCapture, **extra: Any) -> dict[str, Any]:
    return {
        "realm": "api",
        "logger": structlog.wrap_logger(None, processors=[capture]),
        **extra,
    }


def _failures(capture: LogCapture) -> list[dict[str, Any]]:
    return [entry for entry in capture.entries if entry.get("event") == "auth.failure"]


FORWARDING = [
    pytest.param(
        (("X-Forwarded-For", "6.6.6.6," * 511 + " 8.8.8.8, " + PROXY_SAW),), id="xff-one-field"
    ),
    pytest.param(
        (("X-Forwarded-For", "6.6.6.6, " * 700 + "8.8.8.8"), ("X-Forwarded-For", PROXY_SAW)),
        id="xff-proxy-field",
    ),
    pytest.param(
        (("Forwarded", "for=6.6.6.6," * 511 + " for=8.8.8.8, for=" + PROXY_SAW),),
        id="forwarded-one-field",
    ),
    pytest.param(
        (
            ("Forwarded", 'for="[2001:db8::6]", ' * 400 + "for=8.8.8.8"),
            ("Forwarded", f"for={PROXY_SAW};proto=https"),
        ),
        id="forwarded-proxy-field",
    ),
    # A proxy that appends to X-Forwarded-For passes on the Forwarded the
    # client wrote (and the other way round): two headers that disagree name
    # nobody, whichever one the client wrote.
    pytest.param(
        (("Forwarded", "for=6.6.6.6"), ("X-Forwarded-For", PROXY_SAW)),
        id="client-forwarded-behind-an-xff-proxy",
    ),
    pytest.param(
        (("X-Forwarded-For", "6.6.6.6"), ("Forwarded", f"for={PROXY_SAW}")),
        id="client-xff-behind-a-forwarded-proxy",
    ),
    pytest.param(
        (("Forwarded", f'for=6.6.6.6, host="a;for=1.1.1.1";for={PROXY_SAW}'),),
        id="for-inside-a-quoted-value",
    ),
]


@contextmanager
def _served(protocol: str, options: dict[str, Any]) -> Iterator[int]:
    if protocol == "asgi":
        # uvicorn's own proxy-header handling off: the middleware reads them.
        with UvicornThread(refusing_asgi(options), proxy_headers=False) as server:
            yield server.port
    else:
        with WerkzeugThread(refusing_wsgi(options)) as server:
            yield server.port


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
@pytest.mark.parametrize("headers", FORWARDING)
def test_the_logged_client_is_the_one_the_trusted_proxy_saw(
    protocol: str, headers: tuple[tuple[str, str], ...]
) -> None:
    capture = LogCapture()
    options = _captured_options(capture, trusted_proxies=("127.0.0.1",))
    with _served(protocol, options) as port:
        for _ in range(2):  # the second goes through the quick lane
            assert fetch(port, "/items", headers=headers).status == 401
    failures = _failures(capture)
    assert len(failures) == 2
    names = {name.lower() for name, _ in headers}
    expected = "unknown" if {"forwarded", "x-forwarded-for"} <= names else PROXY_SAW
    assert [entry["client"] for entry in failures] == [expected, expected]


# --- finding 8: bounded work for crafted user agents, origins and paths -------------------

REFUSAL_BOUND_S = 0.25  # median of 5; a normal refusal takes about a millisecond
HEADER_CHARS = 8000  # gunicorn's default limit on a header field is 8190


def _run(block: str, size: int, end: str) -> str:
    return (block * (size // len(block) + 1))[:size] + end


HOSTILE_HEADERS = {
    "header-line": lambda n: _run("x-api-key: ", n, ">"),
    "header-field": lambda n: _run("cookie=", n, ">"),
    "scheme-run": lambda n: _run("Token+a.b-", n, "\u00e9"),
}
HOSTILE_PATHS = {
    "header-field": lambda n: "/items/" + _run("cookie=", n, "%3E"),
    "scheme-run": lambda n: "/items/" + _run("bearer+", n, "%C3%A9"),
}


def _median_refusal(port: int, send: Callable[[int], int]) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        assert send(port) == 401
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _probes(path_chars: int) -> list[tuple[str, Callable[[int], int]]]:
    probes: list[tuple[str, Callable[[int], int]]] = []
    for family, build in HOSTILE_HEADERS.items():
        for name in ("User-Agent", "Origin"):
            value = build(HEADER_CHARS)
            probes.append(
                (
                    f"{name}:{family}",
                    lambda port, name=name, value=value: (
                        fetch(port, "/items", headers=((name, value),)).status
                    ),
                )
            )
    for family, build in HOSTILE_PATHS.items():
        path = build(path_chars)
        probes.append(
            (
                f"path:{family}",
                lambda port, path=path: int(
                    raw_exchange(
                        port,
                        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
                    ).split(b" ", 2)[1]
                ),
            )
        )
    return probes


@pytest.fixture
def scrub_inputs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every text `scrub` is given in this process: the work
    a refusal does on what the client sent is bounded by it."""
    seen: list[int] = []
    original = redact.scrub

    def counting(text: str, secrets: Any = (), *, entropy: bool = True) -> str:
        seen.append(len(text))
        return original(text, secrets, entropy=entropy)

    monkeypatch.setattr(redact, "scrub", counting)
    return seen


def test_crafted_fields_cost_bounded_work_under_uvicorn(scrub_inputs: list[int]) -> None:
    capture = LogCapture()
    with UvicornThread(refusing_asgi(_captured_options(capture))) as server:
        for name, send in _probes(HEADER_CHARS):
            scrub_inputs.clear()
            assert _median_refusal(server.port, send) < REFUSAL_BOUND_S, name
            # Log fields look at a window of at most 4x their display limit.
            assert scrub_inputs, name
            assert max(scrub_inputs) <= 4 * 512, name
    for entry in _failures(capture):
        assert len(entry.get("user_agent") or "") <= 256 + 3
        assert len(entry.get("origin") or "") <= 256 + 3
        assert len(entry["path"]) <= 512 + 3


def test_crafted_fields_cost_bounded_time_under_gunicorn(tmp_path: Path) -> None:
    with GunicornProcess(
        "tests.hostile.logs_and_cost_apps:gunicorn_refusing()",
        pythonpath=ROOT,
        workdir=tmp_path,
        name="cost",
    ) as server:
        # gunicorn's default request line limit is 4094 bytes.
        for name, send in _probes(4000):
            assert _median_refusal(server.port, send) < REFUSAL_BOUND_S, name


@pytest.mark.parametrize("family", sorted(HOSTILE_HEADERS))
def test_scrub_of_64_kb_crafted_fields_is_cheap(family: str) -> None:
    text = HOSTILE_HEADERS[family](65536)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        redact.scrub(text)
        best = min(best, time.perf_counter() - start)
    assert best < 0.05


# --- finding 13: caches bounded in bytes ---------------------------------------------------

GROWTH_BOUND = 4 * 1024 * 1024
BIG = 15_000


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _refuse_all(app: Any, requests: Iterator[list[tuple[bytes, bytes]]]) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for headers in requests:
        await app(_scope(headers), receive, send)
    assert set(statuses) == {401}


def _distinct_origins(count: int) -> Iterator[list[tuple[bytes, bytes]]]:
    for index in range(count):
        origin = f"https://{index}-" + "o" * BIG + ".example"
        yield [(b"host", b"x"), (b"origin", origin.encode())]


def _distinct_header_names(count: int) -> Iterator[list[tuple[bytes, bytes]]]:
    for index in range(count):
        yield [(b"host", b"x"), (f"x-{index}-".encode() + b"h" * BIG, b"1")]


def _growth(app: Any, requests: Callable[[int], Iterator[list[tuple[bytes, bytes]]]]) -> int:
    asyncio.run(_refuse_all(app, requests(200)))  # warm: imports, first-use caches
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(_refuse_all(app, requests(6000)))
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


CACHE_OPTIONS = [
    pytest.param({}, id="no-cors"),
    pytest.param({"cors": {"allow_origins": ["https://app.example"]}}, id="cors"),
]


@pytest.mark.parametrize("options", CACHE_OPTIONS)
def test_distinct_15_kb_origins_do_not_grow_memory(options: dict[str, Any]) -> None:
    app = refusing_asgi({**_captured_options(LogCapture()), **options})
    assert _growth(app, _distinct_origins) < GROWTH_BOUND


@pytest.mark.parametrize("options", CACHE_OPTIONS)
def test_distinct_15_kb_header_names_do_not_grow_memory(options: dict[str, Any]) -> None:
    app = refusing_asgi({**_captured_options(LogCapture()), **options})
    assert _growth(app, _distinct_header_names) < GROWTH_BOUND


def test_distinct_15_kb_origins_through_a_real_server() -> None:
    """The same through uvicorn: the server's own allocations come and go,
    the middleware's caches keep no 15 KB key."""
    options = {**_captured_options(LogCapture()), "cors": {"allow_origins": ["https://a.example"]}}
    with UvicornThread(refusing_asgi(options)) as server:
        for index in range(50):
            origin = f"https://{index}-" + "o" * BIG + ".example"
            assert fetch(server.port, "/items", headers=(("Origin", origin),)).status == 401
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for index in range(50, 650):
                origin = f"https://{index}-" + "o" * BIG + ".example"
                assert fetch(server.port, "/items", headers=(("Origin", origin),)).status == 401
            gc.collect()
            growth = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    # 600 distinct 15 KB origins kept would be 9 MB.
    assert growth < 2 * 1024 * 1024


# --- the secrets themselves are bounded work: 90 repeated 8 KB Authorization fields ------


def _median_refusal_s(port: int, request: bytes) -> float:
    times = []
    for _ in range(3):
        started = time.monotonic()
        reply = raw_exchange(port, request)
        times.append(time.monotonic() - started)
        assert reply.split(b" ", 2)[1] in (b"400", b"401")
    return sorted(times)[1]


@pytest.mark.parametrize("value", ["a" * 7990, "a b " * 1997], ids=["one-run", "spaced"])
def test_many_long_authorization_fields_cost_bounded_work(
    value: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """gunicorn joins 90 Authorization fields into one ~720 KB value, kept
    whole as a secret: every sink's search for it must stay bounded by the
    text searched, not by the secret (this cost 0.9 s a refusal)."""
    workdir = tmp_path_factory.mktemp("long-fields")
    pythonpath = Path(__file__).resolve().parents[2]
    lines = [b"GET /items HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [b"Authorization: Bearer " + value.encode()] * 90
    request = b"\r\n".join(lines) + b"\r\n\r\n"
    spec = "tests.hostile.apps:gunicorn_flask_httpauth({!r})"
    with (
        GunicornProcess(
            spec.format("bare"),
            pythonpath=pythonpath,
            workdir=workdir,
            name="bare",
            extra_args=("--threads", "8"),
        ) as bare,
        GunicornProcess(
            spec.format("wrapped"),
            pythonpath=pythonpath,
            workdir=workdir,
            name="wrapped",
            extra_args=("--threads", "8"),
        ) as wrapped,
    ):
        raw_exchange(wrapped.port, request)  # warm: the first refusal imports what it needs
        assert (
            _median_refusal_s(wrapped.port, request)
            < _median_refusal_s(bare.port, request) + REFUSAL_BOUND_S
        )
