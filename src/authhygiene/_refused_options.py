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
- where no lifespan reaches it (``--lifespan off``, an app mounted under
  another, a test transport), answer what it was meant to guard closed and
  everything else open: options that may make the middleware a gate
  (enforce mode, ``require=``, ``throttle=``, ``profile=``, ``cors=``, or a
  word that is not plainly one of the explaining options) refuse every
  request 503, since passing through would open what they were written to
  close; options that all only explain refusals pass every request through
  unchanged, as if the middleware were not there. Either
  way the log says so, at the first request and then once a minute.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import json
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import fields
from typing import Any

from authhygiene._asgi_types import Message, Receive, Send
from authhygiene.core.events import Event
from authhygiene.core.policy import Policy
from authhygiene.logging import default_logger

__all__ = [
    "RefusedOptions",
    "built_during_a_call",
    "fail_start_up",
    "watched",
]

# How far up the stack a framework's ASGI `__call__` may sit above our
# constructor (Starlette: __init__ <- build_middleware_stack <- __call__).
_FRAMES = 16
# Code flags of a frame that awaits: a coroutine, an async generator, a
# generator-based coroutine (`inspect.CO_*`).
_AWAITS = 0x80 | 0x100 | 0x200
_ASGI_PARAMETERS = ("scope", "receive", "send")
# Seconds between two log lines saying the middleware is off.
_NOTICE_EVERY_S = 60.0

# The options that make the middleware decide who gets in (or which page
# may read an answer), not only explain the app's refusals; `mode` is one
# unless it says "explain".
_GATES = ("mode", "require", "throttle", "profile", "cors")
_GATE_VALUES = ("enforce", "mcp")
_KNOWN = tuple(sorted({field.name for field in fields(Policy) if field.init} | {"logger"}))
_EXPLAINING = frozenset(_KNOWN) - frozenset(_GATES)

_SERVICE_UNAVAILABLE = json.dumps(
    {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": (
            "The server's authentication layer is misconfigured; requests are refused"
            " until it is fixed."
        ),
    }
).encode()


def built_during_a_call() -> bool:
    """Whether the caller's constructor runs inside an ASGI application's
    ``async def __call__(self, scope, receive, send)``, reached through
    plain (synchronous) calls only: a framework building its middleware
    lazily, where a raise fails the call, not the start. A module being
    imported, or an awaiting frame that is no ASGI call (a lifespan handler,
    the app's own code), comes first otherwise: the constructor is then
    the app's own code, and raises."""
    frame: Any = sys._getframe(2)
    for _ in range(_FRAMES):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name == "<module>":
            return False
        if code.co_flags & _AWAITS:
            parameters = code.co_varnames[: code.co_argcount]
            return bool(parameters[-3:] == _ASGI_PARAMETERS)
        frame = frame.f_back
    return False


def guards(options: Mapping[str, Any]) -> bool:
    """Whether the refused options may have been written to refuse requests.
    Only options that are all known to explain (an option's name, in any
    case, or a misspelling closest to one that explains), with no gate's
    value among them, let requests through: anything else, a gate or a word
    we cannot place (`enforce=True`, `rate_limit=...`), is taken for one."""
    for name, value in options.items():
        if isinstance(value, str) and value.lower() in _GATE_VALUES:
            return True
        word = str(name).lower()
        if word == "mode":
            if value != "explain":
                return True
            continue
        if word in _EXPLAINING:
            continue
        closest = difflib.get_close_matches(word, _KNOWN, n=1, cutoff=0.75)
        if not closest or closest[0] not in _EXPLAINING:
            return True
    return False


def start_up_message(error: Exception) -> str:
    return (
        f"authhygiene refused its options, so the app was not started: {str(error).rstrip('.')}."
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


# The refusals a check in this context is watching for: `assert_auth_hygiene`
# sets a list, and every request a middleware with refused options sees in
# that context (its thread, the tasks it starts) adds the error's text, so
# the check names the typo instead of the checks it makes fail. Another
# thread's app never lands in it.
_watching: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "authhygiene_refused_options", default=None
)


@contextlib.contextmanager
def watched() -> Iterator[list[str]]:
    """The refused options' errors met by requests sent in this block."""
    seen: list[str] = []
    token = _watching.set(seen)
    try:
        yield seen
    finally:
        _watching.reset(token)


class RefusedOptions:
    """The requests a middleware with refused options still sees: refused
    503 where the options guarded something, passed on otherwise; and the
    log line saying so, at the first and then once every
    `_NOTICE_EVERY_S` seconds."""

    def __init__(self, error: Exception, options: Mapping[str, Any]) -> None:
        self.error = error
        self.closed = guards(options)
        logger = options.get("logger")
        # The app's logger where it passed one that can log errors.
        self._logger: Any = logger if callable(getattr(logger, "error", None)) else default_logger()
        self._next = 0.0
        self._seen = 0

    @property
    def effect(self) -> str:
        if self.closed:
            return "requests are refused 503: authhygiene guards this app and is misconfigured"
        return "requests pass through unchanged: authhygiene is off until its options are fixed"

    def seen(self) -> None:
        self._seen += 1
        if (watching := _watching.get()) is not None and len(watching) < 16:
            watching.append(str(self.error))
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + _NOTICE_EVERY_S
        fields = {
            "kind": "invalid_options",
            "error": str(self.error),
            "effect": self.effect,
            "requests_seen": self._seen,
        }
        try:
            self._logger.error(Event.MISCONFIG.value, **fields)
        except Exception:  # a logger that rejects these fields: ours says it
            default_logger().error(Event.MISCONFIG.value, **fields)

    async def refuse(self, scope: Mapping[str, Any], send: Send) -> None:
        """A 503 problem+json nobody caches, or a handshake closed."""
        if scope.get("type") == "websocket":
            await send({"type": "websocket.close", "code": 1013})
            return
        start: Message = {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(_SERVICE_UNAVAILABLE)).encode()),
                (b"cache-control", b"no-store"),
                (b"retry-after", b"60"),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": _SERVICE_UNAVAILABLE})
