"""Success-path overhead of `AuthHygiene` (ASGI) and `AuthHygieneWSGI` (WSGI),
and, for information, the cost of the failure path.

For each protocol three apps answer the same realistic request:

- ``bare``: the app alone (the baseline);
- ``floor``: the app behind a middleware that does nothing but wrap ``send``
  / ``start_response`` -- the least any response-watching middleware costs;
- ``authhygiene``: the app behind authhygiene.

Added time is ``wrapped - bare``; the figure of merit is
``(authhygiene added) / (floor added)``, computed per round. The design
promises that the success path costs "one status check in the wrapped send /
start_response", so it should stay close to the floor (target <= 1.5x).

The failure path (the app answers 401 text/plain; authhygiene rewrites it to
problem+json and logs one JSON event) is measured the same way but has no
target: it runs only when a request is already being refused.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from starlette.middleware.cors import CORSMiddleware

from authhygiene import CORS, AuthHygiene, AuthHygieneWSGI
from benchmarks._harness import Variant

__all__ = [
    "COMPARISONS",
    "FAILURE_COMPARISONS",
    "TOKEN",
    "Comparison",
    "FailureComparison",
    "Scenario",
    "build",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

REALM = "api"
TARGET_RATIO = 1.5

# A JWT shaped like the ones real APIs receive (header.claims.signature,
# unexpired), signed with a throwaway per-run key: the failure-path app
# rejects it, so authhygiene reads its claims the way it would in production.
_NOW = int(time.time())
TOKEN = jwt.encode(
    {"sub": "bench-user", "iat": _NOW, "exp": _NOW + 3600, "scope": "items:read"},
    secrets.token_bytes(32),
    algorithm="HS256",
)

_BODY_OK = json.dumps(
    {"items": [{"id": i, "name": f"item {i}", "price": 9.5 + i} for i in range(3)]}
).encode()
_BODY_401 = b"Could not validate credentials"
_REQUEST_ID = "0f6c1d6e-2a3b-4c5d-8e9f-123456789abc"
_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"

# Typical request headers of an API call from a browser or SDK.
_REQUEST_HEADERS: tuple[tuple[str, str], ...] = (
    ("host", "api.example.com"),
    ("user-agent", _USER_AGENT),
    ("accept", "application/json"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-language", "en-US,en;q=0.9"),
    ("authorization", f"Bearer {TOKEN}"),
    ("x-request-id", _REQUEST_ID),
    ("origin", "https://app.example.com"),
    ("connection", "keep-alive"),
)
# The CORS variants allow the request's origin and expose one header of the app's.
CORS_ORIGINS = ["https://app.example.com"]


# --------------------------------------------------------------------- ASGI


def asgi_scope() -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("10.0.0.5", 8000),
        "client": ("203.0.113.7", 51514),
        "scheme": "https",
        "method": "GET",
        "root_path": "",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"limit=20",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in _REQUEST_HEADERS],
        "state": {},
    }


def _asgi_app(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> ASGIApp:
    # Like a framework endpoint: fresh message dicts on every request.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


def asgi_ok_app() -> ASGIApp:
    return _asgi_app(
        200,
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BODY_OK)).encode()),
            (b"x-request-id", _REQUEST_ID.encode()),
        ],
        _BODY_OK,
    )


def asgi_401_app() -> ASGIApp:
    return _asgi_app(
        401,
        [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(_BODY_401)).encode()),
        ],
        _BODY_401,
    )


class FloorASGI:
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


def _asgi_runner(loop: asyncio.AbstractEventLoop, app: ASGIApp) -> Callable[[int], int]:
    scope = asgi_scope()

    async def batch(n: int) -> int:
        # Timed inside the coroutine so run_until_complete's own cost is excluded.
        start = time.perf_counter_ns()
        for _ in range(n):
            # A server builds a new scope per request; middleware may mark it.
            await app(dict(scope), _receive, _discard)
        return time.perf_counter_ns() - start

    def run(n: int) -> int:
        return loop.run_until_complete(batch(n))

    return run


def asgi_exchange(loop: asyncio.AbstractEventLoop, app: ASGIApp) -> list[Message]:
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    loop.run_until_complete(app(asgi_scope(), _receive, record))
    return sent


# --------------------------------------------------------------------- WSGI


def wsgi_environ() -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/items",
        "QUERY_STRING": "limit=20",
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "REMOTE_PORT": "51514",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in _REQUEST_HEADERS:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _wsgi_app(status: str, headers: list[tuple[str, str]], body: bytes) -> WSGIApp:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list(headers))
        return [body]

    return app


def wsgi_ok_app() -> WSGIApp:
    return _wsgi_app(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(_BODY_OK))),
            ("X-Request-Id", _REQUEST_ID),
        ],
        _BODY_OK,
    )


def wsgi_401_app() -> WSGIApp:
    return _wsgi_app(
        "401 Unauthorized",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(_BODY_401)))],
        _BODY_401,
    )


class FloorWSGI:
    """The least a response-watching WSGI middleware can do: wrap start_response."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def wrapped(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            return start_response(status, headers, exc_info)

        return self.app(environ, wrapped)


def _write(chunk: bytes) -> None:
    return None


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], object]:
    return _write


def _wsgi_runner(app: WSGIApp) -> Callable[[int], int]:
    environ = wsgi_environ()

    def run(n: int) -> int:
        # What a server does per request: call, iterate, close (PEP 3333).
        start = time.perf_counter_ns()
        for _ in range(n):
            result = app(environ, _start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return time.perf_counter_ns() - start

    return run


def wsgi_exchange(app: WSGIApp) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        started.append((status, headers))
        return _write

    result = app(wsgi_environ(), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started[0][0], started[0][1], body


# ------------------------------------------------------------ the scenarios


def json_logger(stream: Any) -> Any:
    """A structlog logger rendering JSON lines to `stream`, independent of
    the global structlog configuration."""
    return structlog.wrap_logger(
        structlog.PrintLogger(stream), processors=[structlog.processors.JSONRenderer()]
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """`subject` must add at most `target` times what `floor` adds over `bare`."""

    name: str
    bare: str
    floor: str
    subject: str
    target: float


@dataclass(frozen=True, slots=True)
class FailureComparison:
    """For information: what `subject` adds over `bare` when a request is refused."""

    name: str
    bare: str
    subject: str


COMPARISONS = (
    Comparison(
        "asgi", "asgi.success.bare", "asgi.success.floor", "asgi.success.authhygiene", TARGET_RATIO
    ),
    Comparison(
        "wsgi", "wsgi.success.bare", "wsgi.success.floor", "wsgi.success.authhygiene", TARGET_RATIO
    ),
    # With cors=, authhygiene is the app's CORS layer: its floor is the CORS
    # layer a Starlette/FastAPI app would otherwise run (same policy).
    Comparison(
        "asgi-cors",
        "asgi.success.bare",
        "asgi.cors.starlette",
        "asgi.cors.authhygiene",
        TARGET_RATIO,
    ),
)
FAILURE_COMPARISONS = (
    FailureComparison("asgi", "asgi.failure.bare", "asgi.failure.authhygiene"),
    FailureComparison("wsgi", "wsgi.failure.bare", "wsgi.failure.authhygiene"),
    # For information: WSGI has no framework-neutral CORS layer to compare with.
    FailureComparison("wsgi-cors", "wsgi.success.bare", "wsgi.cors.authhygiene"),
)


@dataclass(slots=True)
class Scenario:
    variants: list[Variant]
    checks: dict[str, object]
    loop: asyncio.AbstractEventLoop
    devnull: Any

    def close(self) -> None:
        self.loop.close()
        self.devnull.close()


def _check(condition: bool, what: str) -> None:
    # Not an assert: a benchmark that measures the wrong thing must stop even under -O.
    if not condition:
        raise RuntimeError(f"benchmark self-check failed: {what}")


def _verify(
    loop: asyncio.AbstractEventLoop,
    asgi_apps: dict[str, ASGIApp],
    wsgi_apps: dict[str, WSGIApp],
) -> dict[str, object]:
    """Check, outside the timed loops, that every variant answers what it
    claims: success passes through unchanged, failures are rewritten and
    logged once, and the credential appears in neither body nor log."""
    checks: dict[str, object] = {}
    expected = asgi_exchange(loop, asgi_apps["asgi.success.bare"])
    for name in ("asgi.success.floor", "asgi.success.authhygiene"):
        _check(asgi_exchange(loop, asgi_apps[name]) == expected, f"{name} changed the response")
    for name in ("asgi.cors.starlette", "asgi.cors.authhygiene"):
        start = asgi_exchange(loop, asgi_apps[name])[0]
        allowed = dict(start["headers"]).get(b"access-control-allow-origin")
        _check(allowed == CORS_ORIGINS[0].encode(), f"{name} did not allow the origin")
    _status, cors_headers, _body = wsgi_exchange(wsgi_apps["wsgi.cors.authhygiene"])
    _check(
        dict(cors_headers).get("access-control-allow-origin") == CORS_ORIGINS[0],
        "wsgi.cors.authhygiene did not allow the origin",
    )
    expected_wsgi = wsgi_exchange(wsgi_apps["wsgi.success.bare"])
    for name in ("wsgi.success.floor", "wsgi.success.authhygiene"):
        _check(wsgi_exchange(wsgi_apps[name]) == expected_wsgi, f"{name} changed the response")

    # Same options as the timed failure variants, but logging to a buffer we can read.
    log = io.StringIO()
    sent = asgi_exchange(loop, AuthHygiene(asgi_401_app(), realm=REALM, logger=json_logger(log)))
    status, headers, body = wsgi_exchange(
        AuthHygieneWSGI(wsgi_401_app(), realm=REALM, logger=json_logger(log))
    )
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    asgi_headers = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    wsgi_headers = {k.lower(): v for k, v in headers}
    asgi_body = b"".join(m.get("body", b"") for m in sent[1:])
    for proto, code, hdrs, payload in (
        ("asgi", sent[0]["status"], asgi_headers, asgi_body),
        ("wsgi", int(status[:3]), wsgi_headers, body),
    ):
        _check(code in (400, 401, 403), f"{proto} failure answered {code}")
        _check(
            hdrs.get("content-type", "").startswith("application/problem+json"),
            f"{proto} failure not rewritten to problem+json",
        )
        _check(TOKEN.encode() not in payload, f"{proto} failure body echoes the credential")
        problem = json.loads(payload)
        checks[f"{proto}.failure"] = {
            "status": code,
            "reason": problem.get("reason"),
            "www_authenticate": hdrs.get("www-authenticate"),
        }
    # One auth.failure per refused request; an auth.misconfig (the app's 401
    # had no challenge) is logged once per process on top.
    failures = [e for e in events if e.get("event") == "auth.failure"]
    _check(len(failures) == 2, f"expected 2 auth.failure events, got {len(failures)}")
    _check(TOKEN not in log.getvalue(), "a log event contains the credential")
    checks["log_events"] = [e.get("event") for e in events]
    return checks


def build() -> Scenario:
    """Every variant, ready to run, with its self-checks passed."""
    loop = asyncio.new_event_loop()
    devnull = open(os.devnull, "w")  # noqa: SIM115 -- closed by Scenario.close
    try:
        logger = json_logger(devnull)
        asgi_apps: dict[str, ASGIApp] = {
            "asgi.success.bare": asgi_ok_app(),
            "asgi.success.floor": FloorASGI(asgi_ok_app()),
            "asgi.success.authhygiene": AuthHygiene(asgi_ok_app(), realm=REALM, logger=logger),
            "asgi.failure.bare": asgi_401_app(),
            "asgi.failure.authhygiene": AuthHygiene(asgi_401_app(), realm=REALM, logger=logger),
            "asgi.cors.starlette": CORSMiddleware(
                asgi_ok_app(),
                allow_origins=CORS_ORIGINS,
                allow_credentials=True,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["X-Request-Id"],
            ),
            "asgi.cors.authhygiene": AuthHygiene(
                asgi_ok_app(),
                realm=REALM,
                logger=logger,
                cors=CORS(allow_origins=CORS_ORIGINS, expose_headers=["X-Request-Id"]),
            ),
        }
        wsgi_apps: dict[str, WSGIApp] = {
            "wsgi.success.bare": wsgi_ok_app(),
            "wsgi.success.floor": FloorWSGI(wsgi_ok_app()),
            "wsgi.success.authhygiene": AuthHygieneWSGI(wsgi_ok_app(), realm=REALM, logger=logger),
            "wsgi.failure.bare": wsgi_401_app(),
            "wsgi.failure.authhygiene": AuthHygieneWSGI(wsgi_401_app(), realm=REALM, logger=logger),
            "wsgi.cors.authhygiene": AuthHygieneWSGI(
                wsgi_ok_app(),
                realm=REALM,
                logger=logger,
                cors=CORS(allow_origins=CORS_ORIGINS, expose_headers=["X-Request-Id"]),
            ),
        }
        checks = _verify(loop, asgi_apps, wsgi_apps)
    except BaseException:
        loop.close()
        devnull.close()
        raise
    descriptions = {
        "starlette": "Starlette's CORSMiddleware, same policy",
        "bare": "the app alone",
        "floor": "do-nothing middleware wrapping send/start_response",
        "authhygiene": "behind authhygiene",
    }
    variants = [
        Variant(name, descriptions[name.rsplit(".", 1)[1]], _asgi_runner(loop, app))
        for name, app in asgi_apps.items()
    ] + [
        Variant(name, descriptions[name.rsplit(".", 1)[1]], _wsgi_runner(app))
        for name, app in wsgi_apps.items()
    ]
    return Scenario(variants, checks, loop, devnull)
