"""The ASGI adapter under the peers' own test suites, through real servers.

- Messages an app sends before `http.response.start` (Starlette's template
  `http.response.debug`, a push promise, early hints, any extension) pass
  on unchanged and in order, and the answer is the app's.
- Nothing the middleware does at construction or per request blocks the
  event loop (`blockbuster`, the checker Starlette's own suite runs under).
- Only the server-error layer's plain 500 waits for an exception that may
  follow it; a streamed or non-500 5xx, or any response followed by a
  background task, leaves at once. Proved by handshakes, not clocks: the
  app waits (bounded) for the client to have read what it sent, which only
  happens if the response was not held.
- A refusal answered for an escaped exception carries the CORS headers the
  app's own CORSMiddleware computes, however the middleware is wired.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' hints.
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.templating import Jinja2Templates
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from authhygiene import AuthFailure, AuthHygiene, Reason

from ..e2e.servers import UvicornThread, assert_problem, fetch, fetch_stream

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hostile-asgi-hs256-secret-0123456789"
ALLOWED = "https://app.example"
# The bound on every handshake wait: long enough for a loaded machine, and
# a held response makes the app wait all of it, which the test then sees.
HANDSHAKE_S = 5.0
_POLL_S = 0.01


def quiet(**options: Any) -> dict[str, Any]:
    return {"realm": "api", "logger": structlog.get_logger("hostile-asgi"), **options}


def expired_jwt() -> str:
    now = int(time.time())
    return jwt.encode({"sub": "u", "iat": now - 3600, "exp": now - 95}, SECRET, algorithm="HS256")


async def wait_for(event: threading.Event) -> bool:
    """Wait, without blocking the loop, until `event` is set; False when
    the bound passed first."""
    for _ in range(int(HANDSHAKE_S / _POLL_S)):
        if event.is_set():
            return True
        await asyncio.sleep(_POLL_S)
    return event.is_set()


# --- 18: messages before the response start --------------------------------------

EXTENSIONS = ("http.response.debug", "http.response.push", "http.response.early_hint")


class OfferExtensions:
    """Plays the server's part for the extensions uvicorn does not offer
    over HTTP/1.1 (as Starlette's TestClient does for `http.response.debug`):
    advertises them in the scope and takes their messages off `send`,
    recording each and whether the response had started."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, bool]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["extensions"] = {**scope.get("extensions", {}), **{e: {} for e in EXTENSIONS}}
        started = False

        async def offered_send(message: Any) -> None:
            nonlocal started
            if message["type"] in EXTENSIONS:
                self.seen.append((message["type"], started))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, receive, offered_send)


class Hinted:
    """A raw ASGI endpoint sending early hints (RFC 8297) before its start."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hinted"})


def template_app(directory: Path, wiring: str) -> Any:
    (directory / "page.html").write_text("<p>Hello {{ name }}</p>")
    templates = Jinja2Templates(directory=str(directory))

    async def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "page.html", {"name": "template"})

    async def pushed(request: Request) -> Any:
        await request.send_push_promise("/style.css")
        return PlainTextResponse("pushed")

    async def refused(request: Request) -> Any:
        # A template refusal: the debug message goes out before the 401 start.
        return templates.TemplateResponse(request, "page.html", {"name": "no"}, status_code=401)

    routes = [
        Route("/page", page),
        Route("/pushed", pushed),
        Route("/refused", refused),
        Route("/hinted", Hinted()),  # an instance: Starlette routes it as ASGI
    ]
    if wiring == "add_middleware":
        app = Starlette(routes=routes)
        app.add_middleware(AuthHygiene, **quiet())
        return app
    return AuthHygiene(Starlette(routes=routes), **quiet())


WIRINGS = ["add_middleware", "around"]


@pytest.mark.parametrize("wiring", WIRINGS)
def test_template_page_with_testclient(tmp_path: Path, wiring: str) -> None:
    """Starlette's TestClient offers `http.response.debug`; the template
    response sends it before its start, and the test reads the template."""
    with TestClient(template_app(tmp_path, wiring)) as client:
        reply = client.get("/page")
        assert reply.status_code == 200
        assert reply.text == "<p>Hello template</p>"
        assert reply.template.name == "page.html"  # type: ignore[attr-defined]
        assert reply.context["name"] == "template"  # type: ignore[attr-defined]
        refused = client.get("/refused")
        assert refused.status_code == 401
        assert refused.json()["reason"] == "credentials_missing"


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize(
    ("path", "status", "extension"),
    [
        pytest.param("/page", 200, "http.response.debug", id="template-debug"),
        pytest.param("/pushed", 200, "http.response.push", id="push-promise"),
        pytest.param("/hinted", 200, "http.response.early_hint", id="early-hint"),
        pytest.param("/refused", 401, "http.response.debug", id="template-401"),
    ],
)
def test_messages_before_start_pass_on_through_uvicorn(
    tmp_path: Path, wiring: str, path: str, status: int, extension: str
) -> None:
    offered = OfferExtensions(template_app(tmp_path, wiring))
    with UvicornThread(offered) as server:
        reply = fetch(server.port, path)
    assert offered.seen == [(extension, False)]  # passed on, before the start
    if status == 401:
        assert_problem(reply, status=401, reason="credentials_missing")
    else:
        assert reply.status == 200
        assert reply.body in (b"<p>Hello template</p>", b"pushed", b"hinted")


# --- 19: nothing blocks the event loop -------------------------------------------

_BLOCKBUSTER_PROBE = ROOT / "tests" / "hostile" / "asgi_blocking_probe.py"


def test_nothing_blocks_the_event_loop() -> None:
    """In a fresh process (prometheus-client not yet imported by anyone):
    apps built inside the running loop, served through httpx's ASGI
    transport and through uvicorn in the same loop, under blockbuster:
    successes, rewritten 401s, an escaped pyjwt error, preflights, with
    metrics on by default, required, and with cors=."""
    completed = subprocess.run(
        [sys.executable, str(_BLOCKBUSTER_PROBE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = json.loads(completed.stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    statuses = [row[-1] for row in out["out"]]
    # 3 option sets x 2 frameworks through the transport, then uvicorn.
    assert len(statuses) == (3 * 2 + 1) * 5
    assert statuses.count(200) >= 7
    assert statuses.count(401) == (3 * 2 + 1) * 3


# --- 20: a 5xx is not held -------------------------------------------------------


class Handshake:
    """One event per request path: set by the client once it has read what
    the app sent; what the app saw of it, per path."""

    def __init__(self) -> None:
        self.events: dict[str, threading.Event] = {}
        self.saw: dict[str, bool] = {}

    def event(self, key: str) -> threading.Event:
        return self.events.setdefault(key, threading.Event())


def five_xx_app(shake: Handshake, wiring: str) -> Any:
    async def stream(request: Request) -> Any:
        status = int(request.path_params["status"])
        key = request.url.path

        async def chunks() -> Any:
            yield b"first;"
            shake.saw[key] = await wait_for(shake.event(key))
            for index in range(3):
                yield f"chunk{index};".encode()

        return StreamingResponse(chunks(), status_code=status, media_type="text/plain")

    async def background(request: Request) -> Any:
        status = int(request.path_params["status"])
        key = request.url.path

        async def after() -> None:
            shake.saw[key] = await wait_for(shake.event(key))

        return Response(b"busy", status_code=status, background=BackgroundTask(after))

    async def raises_auth(request: Request) -> Any:
        raise AuthFailure(Reason.TOKEN_REVOKED)

    async def raises_bug(request: Request) -> Any:
        raise RuntimeError("a bug, not an auth failure")

    routes = [
        Route("/stream/{status}", stream),
        Route("/background/{status}", background),
        Route("/raises-auth", raises_auth),
        Route("/raises-bug", raises_bug),
    ]
    if wiring == "add_middleware":
        app = Starlette(routes=routes)
        app.add_middleware(AuthHygiene, **quiet())
        return app
    return AuthHygiene(Starlette(routes=routes), **quiet())


@pytest.fixture(scope="module", params=WIRINGS)
def five_xx(request: pytest.FixtureRequest) -> Any:
    shake = Handshake()
    with UvicornThread(five_xx_app(shake, request.param)) as server:
        yield server, shake


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_streamed_5xx_is_not_held(five_xx: Any, status: int) -> None:
    server, shake = five_xx
    path = f"/stream/{status}"
    reply = fetch_stream(server.port, path, after_first=shake.event(path).set)
    assert reply.status == status
    assert reply.body == b"first;chunk0;chunk1;chunk2;"
    # The first chunk reached the client while the app still produced.
    assert shake.saw[path] is True
    assert reply.chunks[0].startswith(b"first;")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_no_response_waits_on_a_background_task(five_xx: Any, status: int) -> None:
    server, shake = five_xx
    path = f"/background/{status}"
    started = time.monotonic()
    reply = fetch(server.port, path)
    elapsed = time.monotonic() - started
    shake.event(path).set()
    assert reply.status == status
    assert reply.body == b"busy"
    # Generous: a held answer would take the whole handshake bound.
    assert elapsed < HANDSHAKE_S / 2
    for _ in range(int(HANDSHAKE_S / _POLL_S)):
        if path in shake.saw:
            break
        time.sleep(_POLL_S)
    assert shake.saw[path] is True


def test_auth_failure_behind_the_server_error_500_is_still_answered(five_xx: Any) -> None:
    server, _ = five_xx
    assert_problem(fetch(server.port, "/raises-auth"), status=401, reason="token_revoked")
    bug = fetch(server.port, "/raises-bug")
    assert bug.status == 500
    assert bug.body == b"Internal Server Error"


# --- 22: CORS headers on a refusal for an escaped exception ------------------------

CORS_WIRINGS = [
    "around",  # AuthHygiene(app), the app's CORSMiddleware added with add_middleware
    "around-ctor",  # AuthHygiene(app), CORSMiddleware in FastAPI(middleware=[...])
    "add_middleware-outside-cors",  # add_middleware(AuthHygiene) after CORSMiddleware
    "add_middleware-inside-cors",  # add_middleware(AuthHygiene) before CORSMiddleware
    "add_middleware-ctor",  # add_middleware(AuthHygiene), CORSMiddleware in the constructor
]


def escaping_app(wiring: str) -> Any:
    cors = {"allow_origins": [ALLOWED], "allow_credentials": True}
    ctor = wiring.endswith("ctor")
    app = FastAPI(middleware=[Middleware(CORSMiddleware, **cors)] if ctor else None)

    def user(request: Request) -> str:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        # pyjwt's ExpiredSignatureError escapes: a 500 without the middleware.
        return str(jwt.decode(token, SECRET, algorithms=["HS256"])["sub"])

    @app.get("/items")
    def items(sub: str = Depends(user)) -> dict[str, str]:
        return {"user": sub}

    if wiring == "add_middleware-inside-cors":
        app.add_middleware(AuthHygiene, **quiet())
    if not ctor:
        app.add_middleware(CORSMiddleware, **cors)
    if wiring in ("add_middleware-outside-cors", "add_middleware-ctor"):
        app.add_middleware(AuthHygiene, **quiet())
    return AuthHygiene(app, **quiet()) if wiring.startswith("around") else app


@pytest.mark.parametrize("wiring", CORS_WIRINGS)
def test_escaped_exception_refusal_keeps_the_apps_cors(wiring: str) -> None:
    with UvicornThread(escaping_app(wiring)) as server:
        # Twice: the first request is the one the app builds its stack in.
        for _ in range(2):
            token = expired_jwt()
            reply = fetch(
                server.port,
                "/items",
                headers=(("Authorization", f"Bearer {token}"), ("Origin", ALLOWED)),
            )
            assert_problem(reply, status=401, reason="token_expired")
            assert reply.get_all("access-control-allow-origin") == [ALLOWED]
            assert reply.get_all("access-control-allow-credentials") == ["true"]
            exposed = ",".join(reply.get_all("access-control-expose-headers")).lower()
            assert "www-authenticate" in exposed
            other = fetch(
                server.port,
                "/items",
                headers=(("Authorization", f"Bearer {token}"), ("Origin", "https://evil.example")),
            )
            assert_problem(other, status=401, reason="token_expired")
            # (Starlette's own layer, outside us, says allow-credentials to
            # any origin; without allow-origin the browser reads nothing.)
            assert other.get("access-control-allow-origin") is None
