"""Apps for tests/hostile/test_logs_and_cost.py: a raw ASGI app and a raw
WSGI app that refuse every request with a bare `Bearer` challenge, the way
a hand-written API does, so that the cost measured is the middleware's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from authhygiene import AuthHygiene, AuthHygieneWSGI

__all__ = ["gunicorn_refusing", "refusing_asgi", "refusing_wsgi"]

_BODY = b'{"detail":"Not authenticated"}'
_HEADERS = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def _asgi(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 401, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def _wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response(
        "401 Unauthorized",
        [(name.decode(), value.decode()) for name, value in _HEADERS],
    )
    return [_BODY]


def refusing_asgi(options: dict[str, Any] | None) -> Any:
    return _asgi if options is None else AuthHygiene(_asgi, **options)


def refusing_wsgi(options: dict[str, Any] | None) -> Any:
    return _wsgi if options is None else AuthHygieneWSGI(_wsgi, **options)


def gunicorn_refusing() -> Any:
    """Factory the gunicorn worker calls."""
    return refusing_wsgi({"realm": "api"})
