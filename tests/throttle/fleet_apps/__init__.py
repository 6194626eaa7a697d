"""The apps test_fleet_e2e.py serves with real multi-worker servers: FastAPI
under `uvicorn --workers 2` (asgi_app.py) and Flask under gunicorn with two
sync workers (wsgi_app.py), each written the way its framework teaches, with
authhygiene's one line and a `Throttle` read from the environment.

Two things are test instruments, outside the app's own code:

- every request that reaches the app (a FastAPI app-wide dependency, a
  Flask `before_request`) appends its worker's pid to the file named by
  ``AUTHHYGIENE_FLEET_CALLS`` (one ``os.write`` of a short line with
  O_APPEND: whole lines, whichever worker writes), so the test knows how
  many requests got past the throttle;
- every response, the middleware's 429 included, carries the pid of the
  worker that answered in ``X-Worker-Pid`` (a wrapper outside the
  middleware), so the test knows which worker answered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from authhygiene import Throttle

__all__ = [
    "CALLS_ENV",
    "GOOD_ENV",
    "PID_HEADER",
    "THROTTLE_ENV",
    "asgi_with_pid",
    "good_token",
    "record_call",
    "throttle",
    "wsgi_with_pid",
]

THROTTLE_ENV = "AUTHHYGIENE_FLEET_THROTTLE"
CALLS_ENV = "AUTHHYGIENE_FLEET_CALLS"
GOOD_ENV = "AUTHHYGIENE_FLEET_GOOD"
PID_HEADER = "X-Worker-Pid"


def throttle() -> Throttle:
    """The Throttle the test asked for: its options as JSON."""
    return Throttle(**json.loads(os.environ[THROTTLE_ENV]))


def good_token() -> str:
    return os.environ[GOOD_ENV]


def record_call() -> None:
    line = f"{os.getpid()}\n".encode()
    fd = os.open(os.environ[CALLS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def asgi_with_pid(app: Any) -> Any:
    pid = str(os.getpid()).encode()

    async def served(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_pid(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (PID_HEADER.lower().encode(), pid)]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_pid if scope["type"] == "http" else send)

    return served


def wsgi_with_pid(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def served(environ: Any, start_response: Any) -> Iterable[bytes]:
        def start_with_pid(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, (PID_HEADER, str(os.getpid()))], exc_info)

        return app(environ, start_with_pid)

    return served
