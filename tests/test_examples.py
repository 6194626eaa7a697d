"""The four example apps under real servers, probed the way a curl user would.

Each example protects itself the way its framework's docs teach and adds
authhygiene with one line; these tests check that the one line is enough.
FastAPI and Starlette run under uvicorn in a thread, Flask under werkzeug's
`make_server` in a thread, and the Django project under gunicorn in a
subprocess (so its settings never meet the Django configuration other tests
set up in this process). `examples/demo.py` runs as `make demo` runs it,
with its log in the test's own directory; its transcript's numbers must add
up, and every command it or the examples' docs show must work from a fresh
clone without an activated venv.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
import structlog
import uvicorn
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.serving import make_server

from authhygiene.core.flood import LogLimit
from authhygiene.testing import assert_no_secrets

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DJANGO_PROJECT = EXAMPLES / "django_project"
# The examples' documented demo-only default; passed explicitly to the Django subprocess.
SECRET = "demo-only-secret-not-for-production-use"
REALM = "example-api"
SUBJECT = "alice"
# A compact JWS anywhere in printed output means a token leaked.
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
BASIC_DEMO = "ZGVtbzpkZW1v"  # base64("demo:demo")
GARBAGE = "not-a-jwt"
WAIT_STEPS = 3000  # x 0.01 s: bounded waits for servers to come up


def _mint(scopes: str, lifetime: timedelta, secret: str = SECRET) -> str:
    now = datetime.now(UTC)
    claims = {"sub": SUBJECT, "scope": scopes, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


# Minted once per run; what the probes put after "Bearer ".
TOKENS = {
    "me": _mint("me", timedelta(minutes=15)),
    "full": _mint("me items", timedelta(minutes=15)),
    "expired": _mint("me items", timedelta(minutes=-10)),
    "forged": _mint("me items", timedelta(minutes=15), secret="another-secret-entirely-32-bytes!"),
}


def _load(path: Path, name: str) -> ModuleType:
    """Import an example file the way `uvicorn module:app` would, under a private name."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Flask finds its root path through sys.modules
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- HTTP client


@dataclass(frozen=True)
class Exchange:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    logs: str  # everything the middleware logged for this request, one event a line

    def json(self) -> Any:
        return json.loads(self.body)

    def all_header_text(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.headers.items())


def _get(port: int, path: str, authorization: str | None) -> tuple[int, Any, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"Authorization": authorization} if authorization is not None else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _wait(condition: Callable[[], bool], what: str) -> None:
    for _ in range(WAIT_STEPS):
        if condition():
            return
        time.sleep(0.01)
    raise RuntimeError(f"gave up waiting for {what}")


# ---------------------------------------------------------------- servers


class Served:
    """A running example; `get` sends one request and collects the logs it caused."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port

    def get(self, path: str, authorization: str | None = None) -> Exchange:
        # In-process servers: structlog's documented capture works across threads,
        # and the middleware logs before it sends the answer.
        with structlog.testing.capture_logs() as captured:
            status, headers, body = _get(self.port, path, authorization)
        logs = "\n".join(json.dumps(event, default=str, sort_keys=True) for event in captured)
        return Exchange(status, headers, body, logs)


class ServedSubprocess(Served):
    """The Django project under gunicorn; its logs are the worker's stdout."""

    def __init__(self, name: str, port: int, output: _Output) -> None:
        super().__init__(name, port)
        self.output = output

    def get(self, path: str, authorization: str | None = None) -> Exchange:
        start = len(self.output.text())
        status, headers, body = _get(self.port, path, authorization)
        request_id = headers.get("X-Request-ID")
        if status >= 400 and request_id:
            # The worker wrote its log line before the answer; wait until our reader has it.
            self.output.wait_for(lambda text: request_id in text, f"the log of {request_id}")
        return Exchange(status, headers, body, self.output.text()[start:])


class _Output:
    """Collects a subprocess's output in a thread, so waits can be bounded."""

    def __init__(self, stream: Any) -> None:
        self._lines: list[str] = []
        self._closed = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._condition:
                self._lines.append(line)
                self._condition.notify_all()
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def text(self) -> str:
        with self._condition:
            return "".join(self._lines)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        with self._condition:
            self._condition.wait_for(
                lambda: predicate("".join(self._lines)) or self._closed, timeout=timeout
            )
            text = "".join(self._lines)
        if not predicate(text):
            raise RuntimeError(f"gave up waiting for {what}; output so far:\n{text[-3000:]}")
        return text

    def join(self) -> None:
        self._thread.join(timeout=10)


@contextlib.contextmanager
def _uvicorn(app: Any) -> Iterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-example", daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started or not thread.is_alive(), "uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def _werkzeug(app: Any) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug-example", daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def _gunicorn_django() -> Iterator[ServedSubprocess]:
    env = {**os.environ, "EXAMPLE_JWT_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the project's wsgi.py names its own
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "example_api.wsgi:application",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--no-control-socket",
        ],
        cwd=DJANGO_PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(process.stdout)
    try:
        listening = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
        text = output.wait_for(lambda t: listening.search(t) is not None, "gunicorn to listen")
        match = listening.search(text)
        assert match is not None
        yield ServedSubprocess("django", int(match.group(1)), output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        output.join()


@contextlib.contextmanager
def _start(name: str) -> Iterator[Served]:
    if name == "fastapi":
        module = _load(EXAMPLES / "fastapi_app.py", "authhygiene_example_fastapi")
        with _uvicorn(module.app) as port:
            yield Served(name, port)
    elif name == "starlette":
        module = _load(EXAMPLES / "starlette_app.py", "authhygiene_example_starlette")
        with _uvicorn(module.app) as port:
            yield Served(name, port)
    elif name == "flask":
        module = _load(EXAMPLES / "flask_app.py", "authhygiene_example_flask")
        with _werkzeug(module.app) as port:
            yield Served(name, port)
    else:
        with _gunicorn_django() as served:
            yield served


EXAMPLE_NAMES = ("fastapi", "starlette", "flask", "django")


class _Servers:
    """Each example started at most once per module, on first use, and stopped
    at the end (parametrized tests visit the examples in any order)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._running: dict[str, Served] = {}

    def get(self, name: str) -> Served:
        if name not in self._running:
            self._running[name] = self._stack.enter_context(_start(name))
        return self._running[name]


@pytest.fixture(scope="module")
def servers() -> Iterator[_Servers]:
    with contextlib.ExitStack() as stack:
        yield _Servers(stack)


@pytest.fixture
def example(request: pytest.FixtureRequest, servers: _Servers) -> Served:
    return servers.get(request.param)


# ---------------------------------------------------------------- shared checks


def _secret_of(authorization: str | None) -> str | None:
    """The credential part of an Authorization value (what must never be echoed)."""
    if not authorization:
        return None
    secret = authorization.partition(" ")[2].strip()
    return secret or None


def _assert_never_echoed(exchange: Exchange, authorization: str | None) -> None:
    secret = _secret_of(authorization)
    if secret is None:
        return
    assert_no_secrets([exchange.body, exchange.all_header_text(), exchange.logs], [secret])


def _vary_tokens(headers: http.client.HTTPMessage) -> set[str]:
    values = headers.get_all("Vary") or []
    return {item.strip().lower() for value in values for item in value.split(",") if item.strip()}


def _assert_failure_hygiene(
    exchange: Exchange, status: int, reason: str, also: tuple[str, ...] = ()
) -> dict[str, Any]:
    assert exchange.status == status
    assert exchange.headers.get("Content-Type") == "application/problem+json"
    assert exchange.headers.get_all("Cache-Control") == ["no-store"]
    assert exchange.headers.get("Pragma") == "no-cache"
    assert {"authorization", "cookie", "origin"} <= _vary_tokens(exchange.headers)
    body = exchange.json()
    assert body["status"] == status
    assert body["reason"] in (reason, *also)
    assert isinstance(body["type"], str)
    assert body["type"]
    for member in ("title", "detail", "hint", "request_id"):
        assert isinstance(body[member], str)
        assert body[member].strip(), member
    assert body["request_id"] == exchange.headers.get("X-Request-ID")
    # One auth.failure event for this request, naming the same reason.
    events = [
        line
        for line in exchange.logs.splitlines()
        if "auth.failure" in line and body["request_id"] in line
    ]
    assert len(events) == 1, "expected one auth.failure event for this request"
    assert body["reason"] in events[0]
    return body


def _challenges(exchange: Exchange) -> list[str]:
    return exchange.headers.get_all("WWW-Authenticate") or []


# ---------------------------------------------------------------- failures


@dataclass(frozen=True)
class Failure:
    path: str
    authorization: str | None  # "{name}" is replaced by TOKENS[name]
    status: int
    reason: str
    error: str | None  # RFC 6750 error code the challenge carries; None: no error param
    # Reasons that are just as right, where a finer diagnosis would be an improvement.
    also: tuple[str, ...] = ()

    def header(self) -> str | None:
        if self.authorization is None:
            return None
        return self.authorization.format(**TOKENS)


FAILURES = [
    # RFC 6750 §3.1 (R7): no credentials -> 401, a challenge without an error code.
    pytest.param(Failure("/users/me", None, 401, "credentials_missing", None), id="no-credentials"),
    # R7: an unsupported scheme is treated like no credentials at all.
    pytest.param(
        Failure("/users/me", f"Basic {BASIC_DEMO}", 401, "scheme_not_accepted", None),
        id="basic-to-bearer-api",
    ),
    # R8: a malformed request is 400 invalid_request, whatever the app answered.
    pytest.param(
        Failure("/users/me", "Bearer ", 400, "credentials_malformed", "invalid_request"),
        id="empty-bearer",
    ),
    # R9: a rejected token is 401 invalid_token.
    pytest.param(
        Failure("/users/me", f"Bearer {GARBAGE}", 401, "credentials_invalid", "invalid_token"),
        id="garbage-token",
    ),
    pytest.param(
        Failure(
            "/users/me",
            "Bearer {forged}",
            401,
            "credentials_invalid",
            "invalid_token",
            also=("token_signature_invalid",),
        ),
        id="wrong-signature",
    ),
    pytest.param(
        Failure("/users/me", "Bearer {expired}", 401, "token_expired", "invalid_token"),
        id="expired-jwt",
    ),
    # R2: the app's 403 to a request without credentials becomes 401.
    pytest.param(Failure("/admin", None, 401, "credentials_missing", None), id="403-for-anonymous"),
    # R10: a valid token without the scope is 403 insufficient_scope.
    pytest.param(
        Failure("/users/me/items", "Bearer {me}", 403, "insufficient_scope", "insufficient_scope"),
        id="missing-scope",
    ),
]

# Every example names the missing scope: in its challenge (FastAPI, Starlette) or
# in its message (Flask, Django), which the recogniser reads.
NAMES_SCOPE = frozenset({"fastapi", "starlette", "flask", "django"})


# Starlette's docs-style backend returns None for another scheme, so
# `requires()` answers a bare 403 that a Basic-auth app's permission refusal
# looks exactly like; with only the default `schemes` that 403 would be kept.
# The Starlette example says `schemes=("Bearer",)`, so every example answers
# Basic credentials 401 `scheme_not_accepted`.
KEPT_403: set[tuple[str, str]] = set()


def _probe_id(failure: Failure) -> str | None:
    return next((param.id for param in FAILURES if param.values[0] is failure), None)


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("example", EXAMPLE_NAMES, indirect=True)
def test_failure_is_answered_correctly(example: Served, failure: Failure) -> None:
    authorization = failure.header()
    exchange = example.get(failure.path, authorization)

    if (example.name, _probe_id(failure)) in KEPT_403:
        body = _assert_failure_hygiene(exchange, 403, "forbidden", failure.also)
        assert _challenges(exchange) == []
        return
    body = _assert_failure_hygiene(exchange, failure.status, failure.reason, failure.also)
    challenges = _challenges(exchange)
    if failure.error is None:
        # R1 + R3 + R7: exactly the challenge a client needs, realm quoted, no error.
        assert challenges == [f'Bearer realm="{REALM}"']
    else:
        assert len(challenges) == 1
        assert f'realm="{REALM}"' in challenges[0]  # R3: quoted-string, never realm=api
        parsed = WWWAuthenticate.from_header(challenges[0])
        assert parsed is not None
        assert parsed.type == "bearer"
        assert parsed.parameters["realm"] == REALM
        assert parsed.parameters["error"] == failure.error
        assert body.get("error") == failure.error
    if failure.reason == "token_expired":
        assert {"expired_at", "server_time"} <= body.keys()
    if failure.reason == "insufficient_scope" and example.name in NAMES_SCOPE:
        assert WWWAuthenticate.from_header(challenges[0]).parameters["scope"] == "items"
        assert body["required_scope"] == "items"
    _assert_never_echoed(exchange, authorization)


# What each example's own code says for a probe (see FAILURES' ids): the
# middleware keeps the app's words at the front of `detail`, adding its own
# explanation after them where the request proves more.
APP_MESSAGES = [
    pytest.param("fastapi", "no-credentials", "Not authenticated", id="fastapi-no-credentials"),
    pytest.param(
        "fastapi", "garbage-token", "Could not validate credentials", id="fastapi-garbage-token"
    ),
    pytest.param("fastapi", "missing-scope", "Not enough permissions", id="fastapi-missing-scope"),
    pytest.param("starlette", "empty-bearer", "Missing bearer token", id="starlette-empty-bearer"),
    pytest.param(
        "starlette",
        "wrong-signature",
        "Signature verification failed",
        id="starlette-wrong-signature",
    ),
    pytest.param("flask", "expired-jwt", "Token has expired", id="flask-expired-jwt"),
    pytest.param("flask", "missing-scope", "Missing scope items", id="flask-missing-scope"),
    pytest.param(
        "django",
        "no-credentials",
        "Authentication credentials were not provided",
        id="django-no-credentials",
    ),
    pytest.param("django", "empty-bearer", "Invalid token header", id="django-empty-bearer"),
]
_FAILURES_BY_ID = {param.id: param.values[0] for param in FAILURES}


@pytest.mark.parametrize(("example", "probe", "message"), APP_MESSAGES, indirect=["example"])
def test_app_message_survives_in_detail(example: Served, probe: str, message: str) -> None:
    failure = _FAILURES_BY_ID[probe]
    authorization = failure.header()
    exchange = example.get(failure.path, authorization)

    body = _assert_failure_hygiene(exchange, failure.status, failure.reason, failure.also)
    # The app's words lead `detail` when they agree with the diagnosis, else
    # they are kept as `app_detail` and `detail` is our one sentence.
    assert body["detail"].startswith(message) or body.get("app_detail", "").startswith(message)
    _assert_never_echoed(exchange, authorization)


def test_fastapi_auth_failure_route_asks_for_step_up(servers: _Servers) -> None:
    # The example's /billing raises AuthFailure(Reason.STEP_UP_REQUIRED, ...):
    # RFC 9470 §3 answers 401 Bearer error="insufficient_user_authentication".
    authorization = f"Bearer {TOKENS['full']}"
    exchange = servers.get("fastapi").get("/billing", authorization)
    body = _assert_failure_hygiene(exchange, 401, "step_up_required")
    assert body["detail"] == "Billing needs a sign-in with a second factor."
    assert body["acr_values"] == "mfa"
    (challenge,) = _challenges(exchange)
    parsed = WWWAuthenticate.from_header(challenge)
    assert parsed is not None
    assert parsed.parameters["realm"] == REALM
    assert parsed.parameters["error"] == "insufficient_user_authentication"
    _assert_never_echoed(exchange, authorization)


# ---------------------------------------------------------------- successes


@dataclass(frozen=True)
class Success:
    path: str
    authorization: str | None
    expected: Any

    def header(self) -> str | None:
        return None if self.authorization is None else self.authorization.format(**TOKENS)


SUCCESSES = [
    pytest.param(Success("/", None, "example-api"), id="public"),
    pytest.param(
        Success("/users/me/items", "Bearer {full}", [{"item_id": "foo", "owner": SUBJECT}]),
        id="token-with-scope",
    ),
]


@pytest.mark.parametrize("success", SUCCESSES)
@pytest.mark.parametrize("example", EXAMPLE_NAMES, indirect=True)
def test_success_passes_through_unchanged(example: Served, success: Success) -> None:
    authorization = success.header()
    exchange = example.get(success.path, authorization)

    assert exchange.status == 200
    assert exchange.headers.get("Content-Type", "").startswith("application/json")
    body = exchange.json()
    if isinstance(success.expected, str):
        assert body["service"] == success.expected
        assert body["framework"] == example.name
    else:
        assert body == success.expected
    # Nothing of the failure path: no challenge, no no-store, no minted request id.
    for header in ("WWW-Authenticate", "Pragma", "X-Request-ID"):
        assert exchange.headers.get(header) is None, header
    assert "no-store" not in (exchange.headers.get("Cache-Control") or "")
    assert "auth.failure" not in exchange.logs
    _assert_never_echoed(exchange, authorization)


# ---------------------------------------------------------------- the demo


def _run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """`make demo`, once for the tests below, its log in a directory of the
    test's own (never the demo's default, never a fixed path)."""
    log = tmp_path_factory.mktemp("demo") / "auth.jsonl"
    result = _run_demo("--log", str(log))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr, log


def test_demo_prints_a_readable_transcript_without_tokens(demo_run: tuple[str, Path]) -> None:
    everything, log = demo_run
    out = everything
    assert "< HTTP/1.1 401 Unauthorized" in out
    assert f'< WWW-Authenticate: Bearer realm="{REALM}"' in out
    assert "< Content-Type: application/problem+json" in out
    assert "< Cache-Control: no-store" in out
    assert "< HTTP/1.1 200 OK" in out
    # The log lines are what production would write: JSON with level and ISO time.
    events = [
        json.loads(line)
        for line in (raw.strip() for raw in out.splitlines())
        if line.startswith("{") and '"event": "auth.failure"' in line
    ]
    assert events
    for event in events:
        assert event["level"] == "warning"
        assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    # No credential is ever printed, not even a demo one.
    printed_jwt = JWT_RE.search(everything) is not None
    assert not printed_jwt, "a JWT was printed"
    assert_no_secrets(everything, [BASIC_DEMO, GARBAGE])
    # ... nor is it in the JSON log it leaves for `authhygiene logs`.
    assert_no_secrets(log.read_text(), [BASIC_DEMO])
    # The log is read back into a summary, and the retried token's failures
    # beyond the log's limit are counted in it.
    assert '"event": "auth.failure.suppressed"' in out


def _number(pattern: str, text: str) -> list[int]:
    match = re.search(pattern, re.sub(r"\s+", " ", text))
    assert match is not None, pattern
    return [int(group.replace(",", "")) for group in match.groups()]


def test_demo_numbers_add_up_as_printed(demo_run: tuple[str, Path]) -> None:
    """What a newcomer checks by hand: the retries' lines plus the earlier
    identical one make the log's limit, written plus counted make the
    retries, and the summary's header adds up to what the demo answered."""
    out, log = demo_run
    limit = LogLimit()
    written, earlier = _number(
        r"auth\.failure lines written here: (\d+)\. With the (\d+) written in \d+/9 above",
        out,
    )
    (counted,) = _number(r"The other (\d+) were not written one by one", out)
    assert written + earlier == limit.per_key
    assert f"that makes the {limit.per_key} a minute the log writes" in re.sub(r"\s+", " ", out)
    (retries,) = _number(r"The same expired token, (\d+) times in a row", out)
    assert written + counted == retries
    suppressed = [json.loads(line) for line in log.read_text().splitlines() if "suppressed" in line]
    assert [event["count"] for event in suppressed] == [counted]

    answered, in_cases, retried = _number(
        r"The demo answered (\d+) auth failures: (\d+) in the cases above and (\d+) retries", out
    )
    assert (answered, retried) == (in_cases + retries, retries)
    total, logged, held, lines_ = _number(
        r"(\d+) auth failures answered: (\d+) logged one per auth\.failure line, (\d+) counted"
        r" in (\d+) auth\.failure\.suppressed line",
        out,
    )
    assert (total, logged + held, held, lines_) == (answered, answered, counted, 1)
    assert logged == in_cases + written
    read, events = _number(r"(\d+) lines read: (\d+) events \(\d+ JSON\), 0 unreadable", out)
    assert read == events == len(log.read_text().splitlines())
    assert (
        f"of the {earlier + written} logged with the clock-skew check, none looked like clock"
        " skew (all long expired)"
    ) in out
    assert f"the other {counted} carry no clock-skew check" in out


# A command a reader may copy: one the transcript shows after "$ ", or offers
# to try. From a fresh clone's root the venv is not activated, so each
# starts with .venv/bin/ (or is a make target).
_COMMAND_RE = re.compile(r"(?:\$ |\(or: |Try it yourself: +|^ {4}(?=\S+/bin/))(\S+)")


def test_demo_commands_work_without_an_activated_venv(demo_run: tuple[str, Path]) -> None:
    out, log = demo_run
    commands = [m.group(1) for line in out.splitlines() if (m := _COMMAND_RE.search(line))]
    assert len(commands) >= 5
    assert [c for c in commands if not (c.startswith(".venv/bin/") or c == "make")] == []
    assert f"  $ .venv/bin/authhygiene logs {log}\n" in out
    assert f"its JSON log goes to\n{log}." in out
    assert (
        "    .venv/bin/authhygiene audit http://127.0.0.1:8000/users/me --token"
        ' "$(.venv/bin/python examples/demo.py --token me)"\n'
    ) in out
    assert "Try it yourself:  make serve   (or: .venv/bin/python examples/demo.py --serve)" in out


def test_demo_log_is_a_new_file_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --log, each run writes to a directory of its own under the
    system's temporary directory: two runs (or a run and the test suite)
    never overwrite each other's log."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    demo = _load(EXAMPLES / "demo.py", "authhygiene_example_demo")
    first, second = Path(demo.default_log_path()), Path(demo.default_log_path())
    try:
        assert first.parent != second.parent
        for path in (first, second):
            assert path.parent.parent == Path(tempfile.gettempdir())
            assert path.parent.name.startswith("authhygiene-demo-")
            assert list(path.parent.iterdir()) == []
    finally:
        first.parent.rmdir()
        second.parent.rmdir()


# The tools a reader runs, as the examples' docs show them: a code span
# of a whole command (`python manage.py runserver`, not a mention such as
# `authhygiene logs`), or an indented line of a code block.
_TOOLS = ("python", "uvicorn", "flask", "gunicorn", "authhygiene")
_SPAN_RE = re.compile(r"`([^`\n]+)`")
_DOC_FILES = [
    EXAMPLES / "README.md",
    *sorted(EXAMPLES.glob("*.py")),
    *sorted(DJANGO_PROJECT.rglob("*.py")),
]


def _commands(text: str) -> list[str]:
    """The tools named bare (no .venv/bin/) in the commands of `text`."""
    spans = [span for span in _SPAN_RE.findall(text) if len(span.split()) >= 3]
    indented = [line for line in text.splitlines() if line.startswith("    ")]
    fenced = [line for block in text.split("```")[1::2] for line in block.splitlines()[1:]]
    found = []
    for command in (*spans, *indented, *fenced):
        words = command.split("#")[0].replace("$(", " ").split()
        found += [word for word in words if word in _TOOLS]
    return found


@pytest.mark.parametrize("path", _DOC_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_commands_name_the_venv(path: Path) -> None:
    """Every command the examples' docs give (README code, module
    docstrings) runs from a fresh clone without an activated venv: the
    tools are called as .venv/bin/... (../../.venv/bin/... from the Django
    project)."""
    text = path.read_text()
    if path.suffix == ".py":
        text = text.split('"""')[1] if text.startswith('"""') else ""
    assert _commands(text) == []


@pytest.mark.parametrize(
    ("args", "scopes", "expired"),
    [
        pytest.param(["--token", "me items"], "me items", False, id="valid"),
        pytest.param(["--token", "me", "--expired"], "me", True, id="expired"),
    ],
)
def test_demo_token_option_mints_tokens_the_examples_accept(
    args: list[str], scopes: str, expired: bool
) -> None:
    result = _run_demo(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    token = result.stdout.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["scope"] == scopes
    assert (claims["exp"] < time.time()) is expired


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_demo_serve_keeps_the_api_up_until_interrupted() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "demo.py"), "--serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = _Output(process.stdout)
    try:
        output.wait_for(lambda text: "Uvicorn running on" in text, "the demo server")
        status, headers, _ = _get(port, "/users/me", None)
        assert status == 401
        assert headers.get("WWW-Authenticate") == f'Bearer realm="{REALM}"'
        text = output.wait_for(lambda t: "auth.failure" in t, "the auth.failure line")
        assert f"curl -i http://127.0.0.1:{port}/users/me" in text
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)
        output.join()
