"""Whatever is not an auth failure passes through the middleware untouched.

The one rule the middleware never breaks: it only makes failures better. On a
real server that means a success, redirect, 404 or other client error reaches
the client with the same status, headers and bytes as from the bare app; a
streamed body is streamed, not buffered; HEAD works; a WSGI app's iterable is
closed exactly once whichever way the response goes; and the ASGI scopes the
middleware does not handle (websocket, lifespan) reach the app as they are.
Each case is sent to the app with and without the middleware, both running.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from typing import Any

import pytest
import structlog
from starlette.testclient import TestClient
from structlog.testing import LogCapture

from authhygiene import AuthHygiene, AuthHygieneWSGI

from .conftest import (
    CHUNKS,
    RELEASED,
    SECRETS,
    VALID_TOKEN,
    Stack,
    fastapi_app,
    open_gate,
    starlette_app,
)
from .servers import (
    IO_TIMEOUT_S,
    UvicornThread,
    WerkzeugThread,
    assert_absent,
    challenges,
    fetch,
    fetch_stream,
    raw_exchange,
    without_date,
)

# id, method, path, request headers, status both apps answer
PASS_CASES = [
    pytest.param("GET", "/json", (), 200, id="json-200"),
    pytest.param(
        "GET", "/private", (("Authorization", f"Bearer {VALID_TOKEN}"),), 200, id="authorized-200"
    ),
    pytest.param("GET", "/redirect", (), 302, id="redirect-302"),
    pytest.param("GET", "/no-such-page", (), 404, id="not-found-404"),
    pytest.param("GET", "/validate?n=abc", (), 422, id="validation-422"),
    pytest.param("GET", "/bad", (), 400, id="bad-request-400"),
    pytest.param("HEAD", "/json", (), 200, id="head-200"),
]


@pytest.mark.parametrize(("method", "path", "headers", "status"), PASS_CASES)
def test_identical_to_bare_app(
    any_stack: Stack, method: str, path: str, headers: tuple[tuple[str, str], ...], status: int
) -> None:
    # A gunicorn stack's output is shared with earlier tests: count what is new.
    failures_before = any_stack.log_text().count("auth.failure")
    bare = any_stack.fetch(path, variant="bare", method=method, headers=headers)
    wrapped = any_stack.fetch(path, method=method, headers=headers)

    assert bare.status == status
    assert wrapped.status == bare.status
    assert without_date(wrapped.headers) == without_date(bare.headers)
    assert wrapped.body == bare.body
    if method == "HEAD":
        assert wrapped.body == b""
    # Nothing to report: a pass-through is not a failure.
    assert any_stack.log_text().count("auth.failure") == failures_before
    assert_absent(SECRETS, wrapped.wire_text, any_stack.log_text())


def _stream(stack: Stack, variant: str) -> tuple[Any, bool | None]:
    if stack.output is not None:
        # gunicorn runs the app in another process: no shared gate, so only
        # chunking and bytes are checked there.
        return fetch_stream(stack.port(variant), "/stream", after_first=lambda: None), None
    key = uuid.uuid4().hex
    gate = open_gate(key)
    reply = fetch_stream(stack.port(variant), f"/stream?gate={key}", after_first=gate.set)
    return reply, RELEASED.pop(key, None)


def test_streaming_is_unbuffered_and_identical(any_stack: Stack) -> None:
    bare, _ = _stream(any_stack, "bare")
    wrapped, released = _stream(any_stack, "wrapped")

    if any_stack.output is None:
        # The app waited after its first chunk until the client had read it:
        # True means that chunk left the server while the app was still running.
        assert released is True
    assert wrapped.status == 200
    assert len(wrapped.chunks) >= len(CHUNKS)
    assert wrapped.body == b"".join(CHUNKS)
    assert wrapped.body == bare.body
    assert without_date(wrapped.headers) == without_date(bare.headers)


def test_head_on_a_refusal(any_stack: Stack) -> None:
    # The same request id makes the GET body exactly as long as the HEAD's would be.
    headers = (("X-Request-ID", "head-check-1"),)
    head = any_stack.fetch("/private", method="HEAD", headers=headers)
    get = any_stack.fetch("/private", headers=headers)

    assert head.status == 401
    assert head.body == b""
    assert head.get("content-type") == "application/problem+json"
    assert head.get_all("cache-control") == ["no-store"]
    assert challenges(head)
    assert head.get_all("www-authenticate") == get.get_all("www-authenticate")
    assert head.get("content-length") == str(len(get.body))


# --- WSGI: the app's iterable is closed exactly once ---------------------------


class _Body:
    """An app iterable that counts close() calls. With `lazy`, it calls
    start_response on the first iteration, as PEP 3333 allows."""

    def __init__(
        self, chunks: list[bytes], start: Callable[[], None] | None, closes: list[str]
    ) -> None:
        self._chunks = iter(chunks)
        self._start = start
        self._closes = closes

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._start is not None:
            start, self._start = self._start, None
            start()
        return next(self._chunks)

    def close(self) -> None:
        self._closes.append("closed")


def _counting_app(status: str, *, lazy: bool, closes: list[str]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> _Body:
        def start() -> None:
            start_response(status, [("Content-Type", "text/plain")])

        if not lazy:
            start()
        return _Body([b"part one, ", b"part two"], start if lazy else None, closes)

    return app


@pytest.mark.parametrize(
    ("status", "lazy", "expected"),
    [
        pytest.param("200 OK", False, 200, id="success"),
        pytest.param("401 Unauthorized", False, 401, id="rewritten-401"),
        pytest.param("200 OK", True, 200, id="lazy-start-success"),
        pytest.param("401 Unauthorized", True, 401, id="lazy-start-rewritten-401"),
    ],
)
def test_wsgi_iterable_closed_exactly_once(status: str, lazy: bool, expected: int) -> None:
    closes: list[str] = []
    logs = LogCapture()
    app = AuthHygieneWSGI(
        _counting_app(status, lazy=lazy, closes=closes),
        realm="api",
        logger=structlog.wrap_logger(None, processors=[logs]),
    )
    with WerkzeugThread(app) as server:
        raw = raw_exchange(
            server.port, b"GET /thing HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n"
        )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n", 1)[0].split(b" ")[1] == str(expected).encode()
    if expected == 200:
        # Chunked on the wire (HTTP/1.1, no Content-Length): both parts, in order.
        assert body.index(b"part one, ") < body.index(b"part two")
    else:
        assert b"application/problem+json" in head
        assert [entry["event"] for entry in logs.entries].count("auth.failure") == 1
    # Reading to EOF means the server finished the request, its own close() included.
    assert closes == ["closed"]


# --- ASGI: websocket and lifespan scopes reach the app ---------------------------

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def _websocket_echo(port: int, path: str, text: str) -> tuple[bytes, str, str]:
    """A raw RFC 6455 handshake and one text frame: (status line, accept ok, echo)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    expected_accept = base64.b64encode(
        hashlib.sha1((key + _WS_GUID).encode(), usedforsecurity=False).digest()
    )
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(request.encode())
        buffer = b""
        for _ in range(1000):
            if b"\r\n\r\n" in buffer:
                break
            data = sock.recv(4096)
            if not data:
                break
            buffer += data
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0]
        if not status_line.startswith(b"HTTP/1.1 101"):
            return status_line, "", ""
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        }
        accept = "ok" if fields.get(b"sec-websocket-accept") == expected_accept else "bad"
        sock.sendall(_masked_frame(0x1, text.encode()))
        for _ in range(1000):
            if len(buffer) >= 2 and len(buffer) >= 2 + (buffer[1] & 0x7F):
                break
            data = sock.recv(4096)
            if not data:
                break
            buffer += data
        length = buffer[1] & 0x7F
        echo = buffer[2 : 2 + length].decode()
        sock.sendall(_masked_frame(0x8, b"\x03\xe8"))
        return status_line, accept, echo


_UVICORN_HAS_WEBSOCKETS = find_spec("websockets") is not None or find_spec("wsproto") is not None


@pytest.mark.skipif(
    not _UVICORN_HAS_WEBSOCKETS,
    reason="uvicorn serves websockets only with 'websockets' or 'wsproto' installed;"
    " neither is in the test extra (the in-process test below still runs)",
)
@pytest.mark.parametrize("name", ["starlette", "starlette-outside"])
def test_websocket_echo_under_uvicorn(stacks: Any, name: str) -> None:
    stack = stacks.get(name)
    status_line, accept, echo = _websocket_echo(stack.port(), "/ws", "hello")
    assert status_line.startswith(b"HTTP/1.1 101")
    assert accept == "ok"
    assert echo == "echo:hello"


def _ws_apps() -> Iterator[Any]:
    inner = starlette_app([])
    inner.add_middleware(AuthHygiene, realm="api")
    yield inner
    yield AuthHygiene(starlette_app([]), realm="api")


@pytest.mark.parametrize("app", list(_ws_apps()), ids=["add_middleware", "outside"])
def test_websocket_echo_in_process(app: Any) -> None:
    # Starlette's own ASGI test driver: the websocket scope and its messages go
    # through the middleware exactly as a server would send them.
    with TestClient(app) as client, client.websocket_connect("/ws") as websocket:
        websocket.send_text("hello")
        assert websocket.receive_text() == "echo:hello"


def _lifespan_app(name: str, events: list[str]) -> Any:
    if name == "fastapi":
        return fastapi_app({"realm": "api"}, events)
    app = starlette_app(events)
    if name == "starlette":
        app.add_middleware(AuthHygiene, realm="api")
        return app
    return AuthHygiene(app, realm="api")


@pytest.mark.parametrize("name", ["fastapi", "starlette", "starlette-outside"])
def test_lifespan_reaches_the_app(name: str) -> None:
    events: list[str] = []
    with UvicornThread(_lifespan_app(name, events), lifespan="on") as server:
        assert events == ["startup"]
        reply = fetch(server.port, "/state")
        assert reply.status == 200
        assert reply.json() == {"phase": "started"}
    assert events == ["startup", "shutdown"]
