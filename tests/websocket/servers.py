"""Real ASGI servers and a real WebSocket client for the handshake tests.

uvicorn (`tests.e2e.servers.UvicornThread`) and hypercorn serve on
127.0.0.1, in a thread, on a port the OS picks; the `websockets` library's
sync client talks to them. A refused handshake comes back from it as
`InvalidStatus`, whose response is turned into the end-to-end tests'
`Reply` so the same checks (werkzeug's parser as the oracle) judge it.
Every server is stopped by the context manager that started it; every
wait is bounded.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests import leaks
from tests.e2e.servers import IO_TIMEOUT_S, START_TIMEOUT_S, Reply, UvicornThread

__all__ = [
    "SERVERS",
    "HypercornThread",
    "accepted",
    "refused",
    "served",
    "without_extension",
]

_POLL_S = 0.02


class HypercornThread:
    """hypercorn serving `app` on 127.0.0.1 in a thread, with its own event
    loop, on a socket bound here (port 0), so the port is known at once."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="hypercorn-ws", daemon=True)

    def _run(self) -> None:
        config = Config()
        config.graceful_timeout = 1.0
        config.errorlog = None  # its tracebacks would only repeat what the test checks
        config.accesslog = None

        async def serve() -> None:
            self.stop_event = asyncio.Event()
            self.started.set()
            await worker_serve(
                wrap_app(self.app, config.wsgi_max_body_size, "asgi"),
                config,
                sockets=Sockets(secure_sockets=[], insecure_sockets=[self.sock], quic_sockets=[]),
                shutdown_trigger=self.stop_event.wait,
            )

        try:
            self.loop.run_until_complete(serve())
        except BaseException as exc:  # reported by __enter__/__exit__
            self.error = exc
        finally:
            self.loop.close()

    def __enter__(self) -> HypercornThread:
        self.thread.start()
        if not self.started.wait(START_TIMEOUT_S):
            raise RuntimeError("hypercorn did not start")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # listening once a connection is accepted
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or not self.thread.is_alive():
                    raise RuntimeError(f"hypercorn did not listen: {self.error!r}") from None
                time.sleep(_POLL_S)

    def __exit__(self, *exc: object) -> None:
        if self.stop_event is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(IO_TIMEOUT_S)
        if self.thread.is_alive():
            raise RuntimeError("hypercorn did not stop")


# The servers the handshake tests run on; both offer the ASGI
# `websocket.http.response` extension (uvicorn in all three of its
# WebSocket implementations).
SERVERS = ("uvicorn-sansio", "uvicorn-wsproto", "hypercorn")


@contextmanager
def served(server: str, app: Any) -> Iterator[int]:
    """`app` on `server` (one of SERVERS); the port it listens on."""
    if server == "hypercorn":
        with HypercornThread(app) as running:
            yield running.port
        return
    ws = {"uvicorn-sansio": "websockets-sansio", "uvicorn-wsproto": "wsproto"}[server]
    with UvicornThread(app, ws=ws, lifespan="off") as running:
        yield running.port


def without_extension(app: Any) -> Any:
    """`app` behind a server that offers no `websocket.http.response`."""

    async def stripped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope = {key: value for key, value in scope.items() if key != "extensions"}
        await app(scope, receive, send)

    return stripped


def _url(port: int, path: str) -> str:
    return f"ws://127.0.0.1:{port}{path}"


def _remember(headers: Sequence[tuple[str, str]]) -> None:
    for name, value in headers:
        leaks.remember_header(name, value)


def refused(
    port: int, path: str, *, headers: Sequence[tuple[str, str]] = (), origin: str | None = None
) -> Reply:
    """The HTTP answer to a handshake the server must refuse."""
    _remember(headers)
    try:
        with connect(
            _url(port, path),
            additional_headers=list(headers),
            origin=origin,  # type: ignore[arg-type]
            open_timeout=IO_TIMEOUT_S,
            close_timeout=IO_TIMEOUT_S,
        ):
            pass
    except InvalidStatus as exc:
        response = exc.response
        return Reply(response.status_code, list(response.headers.raw_items()), response.body or b"")
    raise AssertionError(f"the handshake to {path} was accepted")


@contextmanager
def accepted(
    port: int, path: str, *, headers: Sequence[tuple[str, str]] = (), origin: str | None = None
) -> Iterator[ClientConnection]:
    """An open connection (the handshake must succeed)."""
    _remember(headers)
    with connect(
        _url(port, path),
        additional_headers=list(headers),
        origin=origin,  # type: ignore[arg-type]
        open_timeout=IO_TIMEOUT_S,
        close_timeout=IO_TIMEOUT_S,
        max_size=4 * 1024 * 1024,
    ) as websocket:
        yield websocket
