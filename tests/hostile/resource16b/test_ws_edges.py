"""WebSocket handshakes: a denial body streamed in many chunks past the
body limit, report_only with a foreign Origin, a client gone mid-handshake."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from authhygiene import CORS, AuthHygiene
from tests.websocket.servers import SERVERS, refused, served

CHUNK = b"x" * 65536
CHUNKS = 64  # 4 MiB, finite


def streaming_denial(sent: list[int]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"www-authenticate", b'Bearer realm="x"')],
            }
        )
        for index in range(CHUNKS):
            await send(
                {
                    "type": "websocket.http.response.body",
                    "body": CHUNK,
                    "more_body": index < CHUNKS - 1,
                }
            )
            sent.append(index)

    return app


@pytest.mark.parametrize("server", SERVERS)
def test_an_oversized_streamed_denial_is_answered_once(server: str) -> None:
    sent: list[int] = []
    with served(server, AuthHygiene(streaming_denial(sent), realm="api")) as port:
        reply = refused(port, "/ws")
    assert reply.status == 401
    assert b"credentials_missing" in reply.body
    assert len(reply.body) < 4096
    assert len(sent) == CHUNKS  # the app ran to its end


def closing_app(calls: list[str]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        calls.append("ran")
        await receive()
        await send({"type": "websocket.close", "code": 1008})

    return app


@pytest.mark.parametrize("server", SERVERS)
def test_report_only_passes_a_foreign_origin_and_the_apps_close_unchanged(server: str) -> None:
    calls: list[str] = []
    with served(server, closing_app(calls)) as port:
        bare = refused(port, "/ws", origin="https://evil.example")
    with served(
        server,
        AuthHygiene(
            closing_app(calls),
            realm="api",
            report_only=True,
            cors=CORS(allow_origins=["https://app.example.com"]),
        ),
    ) as port:
        wrapped = refused(port, "/ws", origin="https://evil.example")
    assert calls == ["ran", "ran"]
    assert (wrapped.status, wrapped.body) == (bare.status, bare.body)


HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Origin: https://evil.example\r\n\r\n"
)


@pytest.mark.parametrize("server", SERVERS)
def test_a_client_gone_mid_handshake_leaves_the_server_serving(server: str) -> None:
    calls: list[str] = []
    app = AuthHygiene(
        closing_app(calls), realm="api", cors=CORS(allow_origins=["https://app.example.com"])
    )
    with served(server, app) as port:
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(HANDSHAKE)
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
        time.sleep(0.3)
        reply = refused(port, "/ws", origin="https://evil.example")
    assert reply.status == 403
    assert calls == []
