"""The real middleware's log for a few requests, in one structlog
rendering: what the attacks on `authhygiene logs` read back."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import structlog

from authhygiene import AuthHygiene

__all__ = ["Requests", "refusals_logged"]

# (path, headers) per request.
Requests = list[tuple[str, list[tuple[str, str]]]]


async def _refusing_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": []})
    await send({"type": "http.response.body", "body": b"no"})


def refusals_logged(renderer: Any, requests: Requests) -> list[str]:
    """The log lines the middleware writes refusing `requests`, rendered by
    `renderer` (a structlog processor)."""
    buffer = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(buffer),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
    )
    middleware = AuthHygiene(_refusing_app, realm="api", log_limit=None, logger=logger)

    async def one(path: str, headers: list[tuple[str, str]]) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            "client": ("10.0.0.1", 1234),
            "server": ("t", 80),
        }
        incoming = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            pass

        await middleware(scope, receive, send)

    async def run() -> None:
        for path, headers in requests:
            await one(path, headers)

    asyncio.run(run())
    return buffer.getvalue().splitlines()
