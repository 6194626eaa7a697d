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
