"""`authhygiene logs`, run as a user runs it: a subprocess reading files,
stdin and .gz, and on the log a real FastAPI app under uvicorn wrote while
it refused real requests, in each rendering structlog has (JSON, its
default console lines with and without colours, key=value, logfmt).

The command is started as `python -m authhygiene` (the console script is
the same `main`), so these tests need no reinstall.
"""

from __future__ import annotations

import gzip
import json
import os
import runpy
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from authhygiene.cli import main
from authhygiene.log_summary import MAX_LINE_BYTES

TIMEOUT_S = 60.0
START_TIMEOUT_S = 20.0
_POLL_S = 0.05


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def authhygiene(*args: str, stdin: bytes | None = None, encoding: str | None = None) -> Run:
    env = dict(os.environ)
    if encoding is not None:
        env["PYTHONIOENCODING"] = encoding
    done = subprocess.run(
        [sys.executable, "-m", "authhygiene", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
        env=env,
    )
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8", "replace"))


def event(**fields: object) -> str:
    return json.dumps({"event": "auth.failure", "timestamp": "2026-11-23T00:00:01Z", **fields})


LOG = "\n".join(
    [
        "INFO:     Started server process [4242]",
        *[event(reason="token_expired", status=401, client="10.0.0.7", path="/a")] * 4,
        event(reason="credentials_missing", status=401, client="10.0.0.8", path="/b"),
        json.dumps({"event": "auth.failure.suppressed", "reason": "token_expired", "count": 3}),
        json.dumps({"event": "request finished", "status": 200}),
    ]
).encode()


def expect_log_counts(doc: dict[str, Any]) -> None:
    assert doc["failures"] == {"total": 8, "logged": 5, "suppressed": 3, "suppressed_events": 1}
    assert doc["by_reason"] == [
        {"reason": "token_expired", "count": 7},
        {"reason": "credentials_missing", "count": 1},
    ]
    assert doc["lines"]["unreadable"] == 1
    assert doc["lines"]["other_events"] == 1


@pytest.mark.parametrize(
    ("name", "content", "via_stdin"),
    [
        pytest.param("app.log", LOG, False, id="file"),
        pytest.param("app.log", LOG + b"\n", False, id="file-final-newline"),
        pytest.param("app.log", LOG.replace(b"\n", b"\r\n"), False, id="crlf"),
        pytest.param("app.log.gz", gzip.compress(LOG), False, id="gz-file"),
        # Compression is recognised by its magic bytes, not the name.
        pytest.param("rotated.1", gzip.compress(LOG), False, id="gz-without-suffix"),
        pytest.param("-", LOG, True, id="stdin"),
        pytest.param("-", gzip.compress(LOG), True, id="gz-stdin"),
    ],
)
def test_reads_files_stdin_and_gzip(
    tmp_path: Path, name: str, content: bytes, via_stdin: bool
) -> None:
    if via_stdin:
        run = authhygiene("logs", "--json", stdin=content)
    else:
        (tmp_path / name).write_bytes(content)
        run = authhygiene("logs", str(tmp_path / name), "--json")
    assert (run.code, run.err) == (0, "")
    expect_log_counts(run.json())


def test_no_file_reads_stdin() -> None:
    run = authhygiene("logs", "--json", stdin=LOG)
    assert run.code == 0
    expect_log_counts(run.json())


def test_text_output(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_bytes(LOG)
    run = authhygiene("logs", str(tmp_path / "app.log"))
    assert (run.code, run.err) == (0, "")
    assert run.out.startswith("8 lines read: 7 events (7 JSON), 1 unreadable")
    assert "7 events: 5 auth.failure, 1 auth.failure.suppressed, 1 other\n" in run.out
    assert (
        "8 auth failures answered: 5 logged one per auth.failure line, 3 counted in 1"
        " auth.failure.suppressed line (the log's rate limit)"
    ) in run.out
    assert "  - 88% of failures (7 of 8) are token_expired" in run.out
    assert "By reason and status\n  token_expired " in run.out


def test_top_limits_every_table(tmp_path: Path) -> None:
    lines = [event(reason="x", client=f"10.0.0.{i}", path=f"/{i}") for i in range(20)]
    (tmp_path / "app.log").write_text("\n".join(lines))
    doc = authhygiene("logs", str(tmp_path / "app.log"), "--json", "--top", "3").json()
    assert (len(doc["top_clients"]), len(doc["top_paths"])) == (3, 3)
    assert doc["distinct"]["clients"] == 20


def test_a_line_longer_than_the_limit_is_skipped_not_held(tmp_path: Path) -> None:
    huge = event(reason="x", path="/" + "a" * (4 * MAX_LINE_BYTES))
    (tmp_path / "app.log").write_text("\n".join([huge, event(reason="y"), huge]))
    doc = authhygiene("logs", str(tmp_path / "app.log"), "--json").json()
    assert doc["lines"]["read"] == 3
    assert doc["lines"]["too_long"] == 2
    assert doc["by_reason"] == [{"reason": "y", "count": 1}]


def test_hostile_values_reach_the_terminal_escaped(tmp_path: Path) -> None:
    hostile = "\x1b[2J\x1b]0;owned\x07\r\nFAKE: no failures\u202e"
    lines = [event(reason=hostile, client=hostile, path=hostile)] * 3
    (tmp_path / "app.log").write_text("\n".join(lines))
    run = authhygiene("logs", str(tmp_path / "app.log"))
    assert run.code == 0
    assert [c for c in run.out if c != "\n" and not c.isprintable()] == []
    assert not any(line.startswith("FAKE") for line in run.out.splitlines())
    assert "\\x1b[2J\\x1b]0;owned\\x07\\r\\nFAKE" in run.out
    # JSON output is JSON: the values come back exactly.
    doc = authhygiene("logs", str(tmp_path / "app.log"), "--json").json()
    assert doc["top_paths"][0]["path"] == hostile


def test_a_terminal_that_cannot_show_a_path(tmp_path: Path) -> None:
    """Printable non-ASCII (a path in another script) is shown as is where
    the terminal can show it and escaped where it cannot, never a crash."""
    (tmp_path / "app.log").write_text(event(reason="x", path="/caf\u00e9/\u6771") + "\n")
    for encoding, shown in (("utf-8", "/caf\u00e9/\u6771"), ("ascii", "/caf\\xe9/\\u6771")):
        run = authhygiene("logs", str(tmp_path / "app.log"), encoding=encoding)
        assert (run.code, run.err) == (0, "")
        assert f"  {shown}  mostly x" in run.out


def test_no_failures_is_not_an_error(tmp_path: Path) -> None:
    """A clean log is good news, not a failed command: scripts read
    `failures.total` from --json."""
    (tmp_path / "app.log").write_text(json.dumps({"event": "request finished"}) + "\n")
    run = authhygiene("logs", str(tmp_path / "app.log"))
    assert (run.code, run.err) == (0, "")
    assert "no auth.failure events found" in run.out
    assert authhygiene("logs", "--json", stdin=b"").json()["failures"]["total"] == 0


def test_a_log_without_events_says_what_is_read(tmp_path: Path) -> None:
    """A file with no event in any rendering names the renderings read and
    the one structlog call that writes the best of them."""
    (tmp_path / "app.log").write_text("INFO:     Started server process [1]\nhello\n")
    run = authhygiene("logs", str(tmp_path / "app.log"))
    assert (run.code, run.err) == (0, "")
    assert run.out.startswith("2 lines read: 0 events, 2 unreadable")
    assert (
        "  - no line is a log event (2 lines read); this command reads structlog's JSON,"
        " console (its default), key=value and logfmt lines. JSON reads best:"
        " structlog.configure(processors=[structlog.processors.add_log_level,"
        ' structlog.processors.TimeStamper(fmt="iso", utc=True),'
        " structlog.processors.JSONRenderer()])\n"
    ) in run.out


def test_the_setup_the_message_shows_writes_what_is_read(tmp_path: Path) -> None:
    """The structlog call in that message, run as shown, writes lines the
    command reads as JSON events."""
    from authhygiene.log_summary.findings import JSON_SETUP

    script = (
        "import structlog\n"
        f"{JSON_SETUP}\n"
        "structlog.get_logger().warning('auth.failure', reason='token_expired', status=401)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=TIMEOUT_S, check=True
    )
    doc = authhygiene("logs", "--json", stdin=done.stdout).json()
    assert doc["lines"]["formats"]["json"] == 1
    assert doc["by_reason"] == [{"reason": "token_expired", "count": 1}]
    assert doc["untimed"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["logs", "{tmp}/missing.log"], "cannot read", id="missing-file"),
        pytest.param(["logs", "{tmp}"], "Is a directory", id="directory"),
        pytest.param(["logs", "--top", "0"], "must be at least 1", id="top-zero"),
        pytest.param(["logs", "--top", "many"], "not a whole number", id="top-words"),
        pytest.param([], "required", id="no-command"),
        pytest.param(["tail"], "invalid choice", id="unknown-command"),
        pytest.param(["logs", "a", "b"], "unrecognized arguments", id="two-files"),
    ],
)
def test_errors_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    run = authhygiene(*(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert run.code == 2
    assert run.out == ""
    assert message in run.err


def test_truncated_gzip_prints_what_was_read_and_exits_2(tmp_path: Path) -> None:
    lines = [event(reason="x", request_id=os.urandom(16).hex()) for _ in range(2000)]
    packed = gzip.compress("\n".join(lines).encode())
    (tmp_path / "cut.log.gz").write_bytes(packed[: len(packed) // 2])
    run = authhygiene("logs", str(tmp_path / "cut.log.gz"), "--json")
    assert run.code == 2
    assert "reading stopped after" in run.err
    assert 0 < run.json()["failures"]["total"] < 2000


def test_not_gzip_after_all(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_bytes(b"\x1f\x8b but not gzip\n")
    run = authhygiene("logs", str(tmp_path / "app.log"))
    assert run.code == 2
    assert "reading stopped after 0 lines" in run.err


FILES = {
    "app.log": LOG,
    "app.log.gz": gzip.compress(LOG),
    "cut.log.gz": gzip.compress(LOG * 50)[:300],
    "not-gzip.log": b"\x1f\x8b but not gzip\n",
}


@pytest.mark.parametrize(
    ("args", "code", "out", "err"),
    [
        pytest.param(["logs", "{tmp}/app.log", "--json"], 0, '"schema": 1', "", id="json"),
        pytest.param(["logs", "{tmp}/app.log.gz"], 0, "8 auth failures", "", id="gz-text"),
        pytest.param(["logs", "{tmp}/missing.log"], 2, "", "cannot read", id="missing"),
        pytest.param(["logs", "{tmp}"], 2, "", "Is a directory", id="directory"),
        pytest.param(["logs", "{tmp}/cut.log.gz"], 2, "lines read", "stopped", id="cut-gz"),
        pytest.param(["logs", "{tmp}/not-gzip.log"], 2, "0 lines read", "stopped", id="not-gz"),
        pytest.param(["logs", "--top", "-1"], 2, "", "at least 1", id="usage"),
    ],
)
def test_main_in_process(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    out: str,
    err: str,
) -> None:
    """`main` is the console script's entry point: it returns the exit
    status (argparse exits by itself on a usage error), in the same process
    as the tests so coverage sees every branch the subprocess runs take."""
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
    try:
        status = main([arg.replace("{tmp}", str(tmp_path)) for arg in args])
    except SystemExit as exc:
        status = exc.code  # type: ignore[assignment]
    printed = capsys.readouterr()
    assert status == code
    assert out in printed.out
    assert err in printed.err
    if not out:
        assert printed.out == ""


def test_python_dash_m(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m authhygiene` runs `main` and exits with its status."""
    (tmp_path / "app.log").write_bytes(LOG)
    monkeypatch.setattr(sys, "argv", ["authhygiene", "logs", str(tmp_path / "app.log")])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("authhygiene", run_name="__main__")
    assert exited.value.code == 0


def test_a_reader_that_leaves_early(tmp_path: Path) -> None:
    """`authhygiene logs x --json | head`: the command stops quietly, no
    traceback, exit 1. The output is far larger than a pipe's buffer, so
    the command is blocked writing when the reader leaves."""
    lines = [
        event(reason="x", client=f"10.{i >> 16}.{i >> 8 & 255}.{i & 255}") for i in range(20000)
    ]
    (tmp_path / "app.log").write_text("\n".join(lines))
    command = ["logs", str(tmp_path / "app.log"), "--json", "--top", "20000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "authhygiene", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.read(1) == b"{"
        process.stdout.close()
        assert process.wait(timeout=TIMEOUT_S) == 1
        assert process.stderr.read() == b""
    finally:
        stop(process)


# --- end to end: a real app's real log -------------------------------------

SIGNING_KEY = "cli-e2e-signing-key-not-a-secret-0123456789"

SERVER = """
import socket
import sys
from typing import Annotated

import jwt
import structlog
import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from authhygiene import AuthHygiene

log_path, port_path, key, rendering = sys.argv[1:5]
RENDERERS = {
    "json": structlog.processors.JSONRenderer(),
    "key_value": structlog.processors.KeyValueRenderer(),
    "logfmt": structlog.processors.LogfmtRenderer(),
}
sink = structlog.WriteLoggerFactory(file=open(log_path, "a"))
if rendering == "console":
    # structlog's defaults, as a first run has them: only the file is ours.
    structlog.configure(logger_factory=sink)
else:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            RENDERERS[rendering],
        ],
        logger_factory=sink,
    )

app = FastAPI()
app.add_middleware(AuthHygiene, realm="api")
bearer = HTTPBearer(auto_error=False)


def user(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    if credentials is None:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = jwt.decode(credentials.credentials, key, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(
            401, "Could not validate credentials", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    return str(claims["sub"])


@app.get("/items")
def items(name: Annotated[str, Depends(user)]) -> dict[str, str]:
    return {"user": name}


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)
with open(port_path + ".tmp", "w") as out:
    out.write(str(sock.getsockname()[1]))
import os
os.replace(port_path + ".tmp", port_path)
uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])
"""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    output: Path


@contextmanager
def fastapi_server(
    workdir: Path, log_path: Path, rendering: str = "json", env: dict[str, str] | None = None
) -> Iterator[Server]:
    """The app in its own process, as deployed: its structlog writes lines
    to `log_path`, rendered as `rendering` says. The socket is bound before
    the port is published, so requests sent right away wait in the backlog
    instead of failing."""
    script, port_path, output = workdir / "server.py", workdir / "port", workdir / "server.out"
    script.write_text(SERVER)
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(script), str(log_path), str(port_path), SIGNING_KEY, rendering],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start:\n{output.read_text()}")
            time.sleep(_POLL_S)
        yield Server(process, int(port_path.read_text()), output)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # uvicorn shuts down gracefully on SIGTERM
    try:
        process.wait(timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=START_TIMEOUT_S)


def hs256(exp_in_s: int) -> str:
    now = int(datetime.now(UTC).timestamp())
    return jwt.encode(
        {"sub": "cli-e2e", "iat": now - 3600, "exp": now + exp_in_s}, SIGNING_KEY, "HS256"
    )


@dataclass(frozen=True)
class Sent:
    """One request the test sends, and the reason the log must give it."""

    token: str | None
    reason: str
    skew: bool | None = None  # the clock_skew_suspected flag its event must carry


def requests_to_send() -> Sequence[Sent]:
    return [
        Sent(None, "credentials_missing"),
        Sent(None, "credentials_missing"),
        # Expired 30 s ago: inside the default 120 s clock-skew window.
        Sent(hs256(-30), "token_expired", skew=True),
        Sent(hs256(-3600), "token_expired", skew=False),
        Sent("garbage-bearer-token-not-a-jwt-7f3c", "credentials_invalid"),
    ]


RENDERINGS = [
    pytest.param("json", {}, "JSON", id="json"),
    # structlog unconfigured: ConsoleRenderer, colours as a terminal has them.
    pytest.param("console", {"NO_COLOR": "1"}, "console", id="console"),
    pytest.param("console", {"FORCE_COLOR": "1"}, "console", id="console-colours"),
    pytest.param("key_value", {}, "key=value", id="key-value"),
    pytest.param("logfmt", {}, "key=value", id="logfmt"),
]


@pytest.mark.parametrize(("rendering", "env", "label"), RENDERINGS)
def test_summary_of_a_real_apps_log(
    tmp_path: Path, rendering: str, env: dict[str, str], label: str
) -> None:
    """The log a real app wrote while refusing real requests reads back
    with the counts that were sent, whichever renderer structlog used, and
    no credential reaches the summary."""
    log_path = tmp_path / "app.log"
    sent = requests_to_send()
    with fastapi_server(tmp_path, log_path, rendering, env) as server:
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
            for request in sent:
                headers = {"Authorization": f"Bearer {request.token}"} if request.token else {}
                reply = client.get("/items", headers=headers)
                assert reply.status_code == 401
                assert reply.json()["reason"] == request.reason
            # A success is not a failure: the log summary must not count it.
            assert client.get("/items", headers=auth(hs256(600))).status_code == 200

    run = authhygiene("logs", str(log_path), "--json")
    assert (run.code, run.err) == (0, "")
    doc = run.json()
    reasons: dict[str, int] = {}
    for request in sent:
        reasons[request.reason] = reasons.get(request.reason, 0) + 1
    assert {r["reason"]: r["count"] for r in doc["by_reason"]} == reasons
    assert doc["failures"] == {
        "total": len(sent),
        "logged": len(sent),
        "suppressed": 0,
        "suppressed_events": 0,
    }
    assert doc["by_status"] == [{"status": 401, "count": len(sent)}]
    assert (doc["top_paths"][0]["path"], doc["top_paths"][0]["count"]) == ("/items", len(sent))
    assert doc["top_clients"][0]["client"] == "127.0.0.1"
    flagged = [r for r in sent if r.skew is not None]
    assert doc["clock_skew"]["flagged"] == len(flagged)
    assert doc["clock_skew"]["suspected"] == sum(1 for r in flagged if r.skew)
    assert doc["timeline"] is not None
    assert doc["untimed"] == 0
    assert doc["lines"]["unreadable"] == 0
    assert doc["lines"]["events"] == doc["lines"]["read"] == len(sent)
    assert ("\x1b[" in log_path.read_text()) == ("FORCE_COLOR" in env)
    # Every token sent was a distinct credential; missing ones have none.
    assert doc["distinct"]["credential_fingerprints"] == sum(1 for r in sent if r.token)

    text = authhygiene("logs", str(log_path))
    assert text.code == 0
    n = len(sent)
    assert text.out.startswith(f"{n} lines read: {n} events ({n} {label}), 0 unreadable")
    secrets = [SIGNING_KEY, *(r.token for r in sent if r.token)]
    for output in (run.out, text.out):
        leaked = [i for i, secret in enumerate(secrets) if secret in output]
        assert leaked == [], "a credential (by index) reached the summary"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
