"""ASGI apps, the floor middleware and the timed loop, without a server.

Apps are awaited directly (``await app(scope, receive, send)``) inside one
event loop, so no socket, HTTP parsing or task scheduling is charged to the
middleware being measured. Like a framework endpoint, the apps build fresh
message dicts on every request, and like a server the runner hands every
request a fresh copy of its scope (a middleware may mark it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from authhygiene import AuthFailure, Reason
from benchmarks.workload import BODY_401, BODY_OK, REQUEST_ID, Request
from benchmarks.wsgi_kit import joined as _joined

__all__ = [
    "ASGIApp",
    "Floor",
    "Message",
    "exchange",
    "ok_app",
    "raising_app",
    "response",
    "runner",
    "scope",
    "unauthorized_app",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def scope(request: Request) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("10.0.0.5", 8000),
        "client": ("203.0.113.7", 51514),
        "scheme": "https",
        "method": request.method,
        "root_path": "",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": request.query.encode(),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers],
        "state": {},
    }


def _app(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


def ok_app() -> ASGIApp:
    """200 with a JSON body, whatever the method (a preflight included)."""
    return _app(
        200,
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY_OK)).encode()),
            (b"x-request-id", REQUEST_ID.encode()),
        ],
        BODY_OK,
    )


def unauthorized_app() -> ASGIApp:
    """What a naive auth dependency answers: 401 text/plain, no challenge."""
    return _app(
        401,
        [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(BODY_401)).encode()),
        ],
        BODY_401,
    )


def raising_app() -> ASGIApp:
    """An endpoint that says exactly why it refuses (README "Saying exactly why")."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")

    return app


class Floor:
    """The least a response-watching ASGI middleware can do: wrap send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, wrapped)


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    return None


def runner(
    loop: asyncio.AbstractEventLoop, app: ASGIApp, requests: Sequence[Request]
) -> Callable[[int], int]:
    """``run(n)``: serve `n` requests, cycling through `requests`; the
    elapsed ns of the request loop only. Every variant uses this loop, so
    its own cost (the cycling included) cancels out in every difference."""
    scopes = [scope(r) for r in requests]
    size = len(scopes)
    # Where the next batch goes on in the cycle: a pool of distinct requests
    # repeats none of them before it has sent them all, across batches too.
    next_at = [0]

    async def batch(n: int) -> int:
        base = next_at[0]
        next_at[0] = (base + n) % size
        # Timed inside the coroutine: run_until_complete's own cost is excluded.
        start = time.perf_counter_ns()
        for i in range(base, base + n):
            await app(dict(scopes[i % size]), _receive, _discard)
        return time.perf_counter_ns() - start

    def run(n: int) -> int:
        return loop.run_until_complete(batch(n))

    return run


def exchange(loop: asyncio.AbstractEventLoop, app: ASGIApp, request: Request) -> list[Message]:
    """Every message `app` sends for one `request`."""
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    loop.run_until_complete(app(scope(request), _receive, record))
    return sent


def response(messages: Sequence[Message]) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of an exchange; a repeated
    header's values joined by commas (RFC 9110 §5.3)."""
    start = messages[0]
    headers = _joined((k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"])
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, body
