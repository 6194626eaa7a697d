"""What the ASGI middleware does with options it refused while a framework
was building it in the middle of a call.

Built by hand (``app = AuthHygiene(app, tipo=1)``), a bad option raises at
construction: the module does not import and the server does not start.
Starlette and FastAPI build ``add_middleware`` middleware lazily, inside
their first ASGI call, usually the lifespan start-up. A raise there is not a
start-up failure: uvicorn's default ``--lifespan auto`` takes it for "lifespan
unsupported", starts anyway, and the framework, which keeps no half-built
stack, builds again for every request and answers each one 500. That is
worse than the bare app, which this middleware never is.

So, built during a call, a refused set of options makes the middleware:

- fail the lifespan start-up with the message (`lifespan.startup.failed`):
  uvicorn (``auto`` and ``on``) and hypercorn stop there, printing it;
- where the server runs no lifespan (``--lifespan off``), pass every request
  and websocket through unchanged, as if it were not there, and say so in
  the log: at the first request, then at most once a minute.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from authhygiene._asgi_types import Receive, Send
from authhygiene.core.events import Event
from authhygiene.logging import default_logger

__all__ = ["PassThroughNotice", "built_during_a_call", "fail_start_up"]

# How far up the stack a framework's ASGI `__call__` may sit above our
# constructor (Starlette: __init__ <- build_middleware_stack <- __call__;
# FastAPI adds its own __call__ on top).
_FRAMES = 16
_CO_COROUTINE = 0x80
_ASGI_PARAMETERS = ("scope", "receive", "send")
# Seconds between two log lines saying requests pass through unprotected.
_NOTICE_EVERY_S = 60.0


def built_during_a_call() -> bool:
    """Whether the caller's constructor runs inside an ASGI application's
    ``async def __call__(self, scope, receive, send)``: a framework building
    its middleware lazily, where a raise would fail the call, not the start."""
    frame = sys._getframe(2)
    for _ in range(_FRAMES):
        code = frame.f_code
        parameters = code.co_varnames[: code.co_argcount]
        if code.co_flags & _CO_COROUTINE and parameters[-3:] == _ASGI_PARAMETERS:
            return True
        if frame.f_back is None:
            return False
        frame = frame.f_back
    return False


def start_up_message(error: Exception) -> str:
    return (
        f"authhygiene refused its options, so the app was not started: {error}."
        " Fix the option in add_middleware(AuthHygiene, ...) and start again."
    )


async def fail_start_up(error: Exception, receive: Receive, send: Send) -> None:
    """Answer the lifespan protocol with a failed start-up (ASGI lifespan
    spec: the server logs the message and exits), then raise the error as
    Starlette's own lifespan does after a failed start-up: Starlette's
    TestClient waits for that raise, uvicorn expects it. A shutdown asked
    for first (a server that never started us) is acknowledged."""
    message = await receive()
    if message.get("type") == "lifespan.startup":
        await send({"type": "lifespan.startup.failed", "message": start_up_message(error)})
        raise error
    if message.get("type") == "lifespan.shutdown":
        await send({"type": "lifespan.shutdown.complete"})


class PassThroughNotice:
    """The log line saying that requests pass through unprotected, at the
    first one and then at most once every `_NOTICE_EVERY_S` seconds."""

    def __init__(self, error: Exception, logger: Any = None) -> None:
        self._error = str(error)
        # The app's logger when it passed one that can log errors.
        self._logger = logger if callable(getattr(logger, "error", None)) else default_logger()
        self._next = 0.0
        self._passed = 0

    def passed(self) -> None:
        self._passed += 1
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + _NOTICE_EVERY_S
        fields: dict[str, Any] = {
            "kind": "invalid_options",
            "error": self._error,
            "effect": (
                "requests pass through unchanged: authhygiene is off until its options are fixed"
            ),
            "requests_passed": self._passed,
        }
        self._logger.error(Event.MISCONFIG.value, **fields)
