"""Secrets that reach the audit's output: URL userinfo, --token in a traceback,
--token echoed by the server into a later probe, a truncated echo."""

from __future__ import annotations

import os
import subprocess
import sys

from authhygiene.audit.report import as_text, dumps
from authhygiene.audit.run import run
from tests.hostile.audit17.rawserver import RawServer, good_answer

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
TOKEN = "tok-" + "Q" * 60


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authhygiene", "audit", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )


def test_url_password_is_never_printed() -> None:
    with RawServer(lambda c, r, s: c.sendall(good_answer(r))) as srv:
        url = f"http://user:hunter2pw@127.0.0.1:{srv.port}/me"
        text, as_json = cli(url), cli(url, "--json")
    assert text.returncode == 0
    assert as_json.returncode == 0
    assert "hunter2pw" not in text.stdout + text.stderr
    assert "hunter2pw" not in as_json.stdout + as_json.stderr


def test_url_password_is_never_printed_when_unreachable() -> None:
    done = cli("http://user:hunter2pw@127.0.0.1:1/me")
    assert done.returncode == 2
    assert "hunter2pw" not in done.stderr


def test_token_with_crlf_is_a_usage_error_not_a_traceback_quoting_it() -> None:
    with RawServer(lambda c, r, s: c.sendall(good_answer(r))) as srv:
        done = cli(f"http://127.0.0.1:{srv.port}/me", "--token", "s3cr3t-value\r\nX: y")
    assert "Traceback" not in done.stderr
    assert "s3cr3t-value" not in done.stdout + done.stderr
    assert done.returncode == 2


def test_token_outside_latin1_is_not_a_traceback() -> None:
    with RawServer(lambda c, r, s: c.sendall(good_answer(r))) as srv:
        done = cli(f"http://127.0.0.1:{srv.port}/me", "--token", "tok\u20acen")
    assert "Traceback" not in done.stderr
    assert done.returncode == 2


def test_token_echoed_by_the_server_in_a_later_probe_is_redacted() -> None:
    def stateful(conn, request, state):  # remembers the valid token, echoes it later
        if TOKEN.encode() in request:
            state["seen"] = True
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        elif state.get("seen"):
            conn.sendall(
                good_answer(request, challenge=b'Bearer realm="api" error=' + TOKEN.encode())
            )
        else:
            conn.sendall(good_answer(request))

    with RawServer(stateful) as srv:
        report = run(
            f"http://127.0.0.1:{srv.port}/me",
            timeout=2,
            token=TOKEN,
            expired_token="expired-token-xyz",
        )
    assert TOKEN not in as_text(report)
    assert TOKEN not in dumps(report)


def test_token_echoed_in_the_metadata_document_is_redacted() -> None:
    def meta(conn, request, state):
        if b"/.well-known" in request.split(b"\r\n")[0]:
            body = b'{"resource":"' + TOKEN.encode() + b'","authorization_servers":["x"]}'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d"
                b"\r\nConnection: close\r\n\r\n" % len(body) + body
            )
        elif TOKEN.encode() in request:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            md = b"http://127.0.0.1:%d/.well-known/oauth-protected-resource" % state["port"]
            conn.sendall(
                good_answer(
                    request, challenge=b'Bearer realm="api", resource_metadata="' + md + b'"'
                )
            )

    with RawServer(meta) as srv:
        srv.state["port"] = srv.port
        report = run(f"http://127.0.0.1:{srv.port}/me", timeout=2, token=TOKEN)
    assert any(f.check == "metadata-document" for f in report.failed)
    assert TOKEN not in as_text(report)


def test_echo_cut_by_the_200_char_limit_is_still_redacted() -> None:
    def trunc(conn, request, state):
        if TOKEN.encode() in request:
            ch = b'Bearer realm="' + b"a" * 130 + b'", x="' + TOKEN.encode() + b'" bad'
            conn.sendall(good_answer(request, challenge=ch))
        else:
            conn.sendall(good_answer(request))

    with RawServer(trunc) as srv:
        report = run(f"http://127.0.0.1:{srv.port}/me", timeout=2, token=TOKEN)
    text = as_text(report)
    assert "challenge-syntax" in text
    assert "tok-QQQQQQQQ" not in text  # a prefix of the token is a leak too
