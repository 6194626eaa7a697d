"""`authhygiene audit URL` against real servers: exit status, JSON, and the
text a person reads; an unreachable server is exit status 2."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from structlog.testing import CapturingLogger

import authhygiene.audit
from authhygiene import CORS, AuthHygiene
from authhygiene.cli import main
from tests.audit.test_checks import ORIGIN, TOKEN, bearer_app
from tests.e2e.servers import UvicornThread


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("wrap", "status"),
    [(False, 1), (True, 0)],
    ids=["bare", "behind-the-one-line"],
)
def test_exit_status_and_json(capsys: pytest.CaptureFixture[str], wrap: bool, status: int) -> None:
    app: Any = bearer_app()
    if wrap:
        # Its log goes elsewhere: this process's stdout is the command's.
        app = AuthHygiene(
            app, realm="api", cors=CORS(allow_origins=[ORIGIN]), logger=CapturingLogger()
        )
    with UvicornThread(app, lifespan="off") as server:
        url = f"http://127.0.0.1:{server.port}/me"
        got, out, _ = run_cli(capsys, "audit", url, "--json", "--token", TOKEN, "--origin", ORIGIN)
    report = json.loads(out)
    assert got == status
    assert report["passed"] is (status == 0)
    assert report["statuses"]["anonymous"] == 401
    assert TOKEN not in out  # the token given is never printed


def test_the_text_names_each_failed_check_and_its_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with UvicornThread(bearer_app(), lifespan="off") as server:
        got, out, _ = run_cli(capsys, "audit", f"http://127.0.0.1:{server.port}/me")
    assert got == 1
    assert "FAIL   bearer-has-param  (RFC 6750 §3)" in out
    assert "anonymous, other-scheme, garbage-token" in out
    assert ": WWW-Authenticate: Bearer (no auth-param, not even realm)" in out
    assert "fix: Send Cache-Control: no-store with every auth failure." in out


def test_an_unreachable_server_is_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        got, out, err = run_cli(capsys, "audit", f"http://127.0.0.1:{port}/me", "--timeout", "2")
    assert (got, out) == (2, "")
    assert "cannot reach the server" in err


def test_a_url_that_is_no_http_url_is_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    got, _, err = run_cli(capsys, "audit", "ftp://example.com/x")
    assert got == 2
    assert "is not an http:// or https:// URL" in err


def test_the_json_report_follows_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    schema = json.loads(
        (Path(authhygiene.audit.__file__).parent / "report.schema.json").read_text()
    )
    with UvicornThread(bearer_app(), lifespan="off") as server:
        _, out, _ = run_cli(capsys, "audit", f"http://127.0.0.1:{server.port}/me", "--json")
    jsonschema.validate(json.loads(out), schema)


class _Slow:
    """An app that answers after the client gave up."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(3)
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _redirecting(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 302, "headers": [(b"location", b"/login")]}
    )
    await send({"type": "http.response.body", "body": b""})


def test_a_slow_server_is_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with UvicornThread(_Slow(), lifespan="off") as server:
        got, out, err = run_cli(
            capsys, "audit", f"http://127.0.0.1:{server.port}/me", "--timeout", "0.5"
        )
    assert (got, out) == (2, "")
    assert "no whole answer within 0.5 s" in err


def test_tls_to_a_plain_server_is_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with UvicornThread(bearer_app(), lifespan="off") as server:
        got, _, err = run_cli(capsys, "audit", f"https://127.0.0.1:{server.port}/me")
    assert got == 2
    assert "TLS failed" in err or "cannot reach the server" in err


def test_a_redirect_is_not_followed_and_is_a_finding(capsys: pytest.CaptureFixture[str]) -> None:
    with UvicornThread(_redirecting, lifespan="off") as server:
        got, out, _ = run_cli(capsys, "audit", f"http://127.0.0.1:{server.port}/me")
    assert got == 1
    assert "anonymous, anonymous-head, other-scheme: status 302" in out


async def _trickling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that sends its 401 one byte every 0.2 s, forever."""
    await reader.readuntil(b"\r\n\r\n")
    head = b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="x"\r\n'
    try:
        for byte in head + b"X-Slow: " + b"a" * 10_000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)
    except ConnectionError:
        return


def test_a_trickling_server_is_cut_at_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    """The timeout bounds each whole exchange, not each read."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(asyncio.start_server(_trickling, "127.0.0.1", 0))
        holder["port"] = server.sockets[0].getsockname()[1]
        holder["loop"], holder["server"] = loop, server
        ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        started = time.monotonic()
        got, out, err = run_cli(
            capsys, "audit", f"http://127.0.0.1:{holder['port']}/me", "--timeout", "1"
        )
        took = time.monotonic() - started
    finally:
        holder["loop"].call_soon_threadsafe(holder["loop"].stop)
        thread.join(10)
    assert (got, out) == (2, "")
    assert "no whole answer within 1 s" in err
    assert took < 5


def test_a_password_in_the_url_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        got, out, err = run_cli(capsys, "audit", f"http://user:hunter2-secret@127.0.0.1:{port}/me")
    assert got == 2
    assert "hunter2-secret" not in out + err
