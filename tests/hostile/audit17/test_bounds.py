"""Bounded work: the per-request timeout is per socket read, not a deadline;
the in-process runner has no deadline and no body bound at all."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from authhygiene.audit.probes import battery
from authhygiene.audit.run import UnreachableError, _send
from authhygiene.testing import assert_auth_hygiene
from tests.hostile.audit17.rawserver import RawServer, good_answer


def _timed_send(handler) -> float:
    with RawServer(handler) as srv:
        start = time.monotonic()
        with contextlib.suppress(UnreachableError):
            _send(f"http://127.0.0.1:{srv.port}/me", battery("/me")[0], 1.0)
        return time.monotonic() - start


def test_a_body_trickled_one_byte_at_a_time_is_cut_at_the_timeout() -> None:
    def trickle_body(conn, request, state):
        conn.sendall(
            b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="a"\r\n'
            b"Cache-Control: no-store\r\nContent-Length: 100000\r\n\r\n"
        )
        end = time.monotonic() + 5  # the server gives up by itself; unbounded otherwise
        while time.monotonic() < end:
            conn.sendall(b"x")
            time.sleep(0.3)

    assert (
        _timed_send(trickle_body) < 2.5
    )  # timeout=1.0; it takes 5 s (forever if the server wants)


def test_a_status_line_trickled_one_byte_at_a_time_is_cut_at_the_timeout() -> None:
    def trickle_head(conn, request, state):
        end = time.monotonic() + 5
        for byte in good_answer(request):
            if time.monotonic() > end:
                return
            conn.sendall(bytes([byte]))
            time.sleep(0.3)

    assert _timed_send(trickle_head) < 2.5


def _finishes_within(target, seconds: float) -> bool:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def test_inprocess_asgi_app_that_never_answers_is_bounded() -> None:
    async def app(scope, receive, send):
        await asyncio.sleep(8)  # bounded here only so that the thread ends

    def audit() -> None:
        with contextlib.suppress(AssertionError):
            assert_auth_hygiene(app, "/me")

    assert _finishes_within(audit, 4)


def test_inprocess_asgi_app_streaming_forever_is_cut() -> None:
    sent = {"bytes": 0}

    async def app(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", b'Bearer realm="a"'),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        for _ in range(20_000):  # 20 MB; "forever" for the runner
            sent["bytes"] += 1024
            await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with contextlib.suppress(AssertionError):
        assert_auth_hygiene(app, "/me")
    # The runner keeps the app streaming long past MAX_BODY_BYTES (64 KB).
    assert (
        sent["bytes"] < 9 * 1024 * 1024
    )  # at most ~1 MB per probe (9 probes); 20 MB each was taken


def test_inprocess_wsgi_app_yielding_forever_is_cut() -> None:
    pulled = {"chunks": 0}

    def app(environ, start_response):
        start_response(
            "401 Unauthorized",
            [("WWW-Authenticate", 'Bearer realm="a"'), ("Cache-Control", "no-store")],
        )

        def body():
            for _ in range(20_000):  # 20 MB; "forever" for the runner
                pulled["chunks"] += 1
                yield b"x" * 1024

        return body()

    with contextlib.suppress(AssertionError):
        assert_auth_hygiene(app, "/me")
    assert (
        pulled["chunks"] < 9 * 1024
    )  # at most ~1 MB per probe; the whole 20 MB was read into memory, every probe
