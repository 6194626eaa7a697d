"""An accepted connection is the app's: every frame passes byte for byte,
with the middleware as without it, on every server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from authhygiene import CORS

from .apps import APPS, dispatch, wrapped
from .conftest import bearer
from .servers import SERVERS, accepted, served

MIB = 1024 * 1024
FRAMES: list[str | bytes] = [
    "hello",
    "",
    "çà ✓ 🚀",
    bytes(range(256)),
    b"",
    os.urandom(MIB),  # 1 MiB binary frame
    "x" * MIB,  # 1 MiB text frame
]
# The apps that check a token: a valid one gets in.
ACCEPTING = list(APPS)


@pytest.fixture(scope="module", params=[(s, v) for s in SERVERS for v in ("bare", "wrapped")])
def port(request: pytest.FixtureRequest, logger: Any) -> Iterator[int]:
    server, variant = request.param
    if variant == "bare":
        routes = {path: factory() for path, factory in APPS.values()}
    else:
        routes = wrapped(logger, cors=CORS(allow_origins=["https://app.example"]))
    with served(server, dispatch(routes)) as server_port:
        yield server_port


@pytest.mark.parametrize("app", ACCEPTING)
def test_frames_pass_byte_for_byte(port: int, app: str) -> None:
    with accepted(
        port, APPS[app][0], headers=bearer("valid"), origin="https://app.example"
    ) as websocket:
        for frame in FRAMES:
            websocket.send(frame)
            echoed = websocket.recv(timeout=20)
            assert type(echoed) is type(frame)
            assert echoed == frame


def test_after_accept_messages_pass_as_the_very_objects(logger: Any) -> None:
    # Once accepted, the wrapped send and receive only forward: the server
    # gets the app's own message objects, the app the server's.
    import asyncio

    from authhygiene import AuthHygiene

    frames = [
        {"type": "websocket.receive", "text": "a"},
        {"type": "websocket.receive", "bytes": b"b"},
    ]
    app_got: list[dict[str, Any]] = []
    app_sent = [
        {"type": "websocket.accept"},
        {"type": "websocket.send", "text": "x"},
        {"type": "websocket.send", "bytes": b"y"},
        {"type": "websocket.close", "code": 1000},
    ]
    server_got: list[dict[str, Any]] = []
    inbox = [{"type": "websocket.connect"}, *frames]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        app_got.append(await receive())
        await send(app_sent[0])
        app_got.extend([await receive(), await receive()])
        for message in app_sent[1:]:
            await send(message)

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        server_got.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    asyncio.run(AuthHygiene(app, realm="api", logger=logger)(scope, receive, send))

    assert all(got is sent for got, sent in zip(server_got, app_sent, strict=True))
    assert app_got[1:] == frames
    assert all(got is frame for got, frame in zip(app_got[1:], frames, strict=True))
