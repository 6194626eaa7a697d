"""What a hostile server puts in a header reaches the terminal raw."""

from __future__ import annotations

from authhygiene.audit.report import as_text
from authhygiene.audit.run import run
from tests.hostile.audit17.rawserver import RawServer, good_answer


def test_escape_sequences_in_a_challenge_are_not_printed_raw() -> None:
    evil = b'Bearer realm="\x1b]0;pwned\x07\x1b[2J"x'
    with RawServer(lambda c, r, s: c.sendall(good_answer(r, challenge=evil))) as srv:
        report = run(f"http://127.0.0.1:{srv.port}/me", timeout=2)
    text = as_text(report)
    assert "challenge-syntax" in text
    assert "\x1b" not in text
    assert "\x07" not in text


def test_escape_sequences_in_content_type_are_not_printed_raw() -> None:
    extra = b"X-Pad: 1\r\n"

    def handler(conn, request, state):
        answer = good_answer(request, extra=extra).replace(
            b"Content-Type: application/problem+json", b"Content-Type: text/\x1b[31mred"
        )
        conn.sendall(answer)

    with RawServer(handler) as srv:
        report = run(f"http://127.0.0.1:{srv.port}/me", timeout=2)
    assert "\x1b" not in as_text(report)


def test_escape_sequences_in_a_garbage_status_line_are_not_printed_raw() -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    with RawServer(lambda c, r, s: c.sendall(b"\x1b]0;pwned\x07\x1b[2J\r\n\r\n")) as srv:
        done = subprocess.run(
            [sys.executable, "-m", "authhygiene", "audit", f"http://127.0.0.1:{srv.port}/me"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert done.returncode == 2
    assert "\x1b" not in done.stderr
