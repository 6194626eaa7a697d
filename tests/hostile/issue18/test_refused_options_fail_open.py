"""Issue 18 attack: a refused option built during an ASGI call must not turn
protection off silently (fail-open), and a construction the code cannot
tell from a framework's lazy build must not swallow the error.

Tests here FAIL on the code as reviewed (evidence for the fix)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from authhygiene import AuthHygiene, PolicyError
from authhygiene.verify import APIKey

KEY = "k" * 40


def _enforcing_app_with_a_typo() -> FastAPI:
    """mode='enforce' makes the middleware the only gate; one typo elsewhere."""
    app = FastAPI()

    @app.get("/admin")
    def admin() -> dict[str, str]:
        return {"secret": "only for API-key holders"}

    app.add_middleware(
        AuthHygiene,
        realm="api",
        mode="enforce",
        verify=APIKey(keys={"svc": KEY}),
        log_levle="info",  # the typo
    )
    return app


def _httpx_transport(app: Any) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/admin")).status_code

    return asyncio.run(go())


def _test_client_without_with(app: Any) -> int:
    return TestClient(app).get("/admin").status_code


def _mounted_under_a_parent(app: Any) -> int:
    parent = FastAPI()
    parent.mount("/api", app)
    # The parent's lifespan runs (and succeeds); Starlette sends none to mounts.
    with TestClient(parent) as client:
        return client.get("/api/admin").status_code


@pytest.mark.parametrize(
    "send",
    [_httpx_transport, _test_client_without_with, _mounted_under_a_parent],
    ids=lambda f: f.__name__.strip("_"),
)
def test_enforce_mode_with_a_typo_never_serves_the_protected_route(
    send: Callable[[Any], int],
) -> None:
    """FAILS now: 200 with the protected body, no credential sent (fail-open)."""
    with structlog.testing.capture_logs():
        status = send(_enforcing_app_with_a_typo())
    assert status != 200, "a typo turned enforce mode off: the route answered 200 without a key"


def test_a_mounted_sub_apps_typo_is_said_and_lets_the_app_answer() -> None:
    """Starlette sends no lifespan to a mount, so nothing can stop the start.
    Options that only explain refusals leave the app's own answers (the issue
    asks for that rather than a 500 per request: never worse than the bare
    app), and the log says at once that authhygiene is off and why; options
    that guard refuse 503 (the enforce-mode cases above)."""
    sub = FastAPI()

    @sub.get("/anything")
    def anything() -> dict[str, str]:
        return {"ok": "yes"}

    sub.add_middleware(AuthHygiene, relam="api")
    parent = FastAPI()
    parent.mount("/api", sub)

    with structlog.testing.capture_logs() as logs, TestClient(parent) as client:
        status = client.get("/api/anything").status_code
    assert status == 200
    notices = [log for log in logs if log.get("effect")]
    assert len(notices) == 1
    assert "unknown option 'relam'" in notices[0]["error"]
    assert "authhygiene is off" in notices[0]["effect"]


async def _inner(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("unprotected")(scope, receive, send)


def _built_in_a_lifespan_handler() -> None:
    guard: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        # Built by hand at start-up: a raise here fails the start-up properly.
        guard["mw"] = AuthHygiene(_inner, realm="api", mode="enforce")  # no verify=
        yield

    async def route(scope: Any, receive: Any, send: Any) -> None:
        await guard["mw"](scope, receive, send)

    with TestClient(Starlette(lifespan=lifespan, routes=[Mount("/p", app=route)])) as client:
        client.get("/p/")


def _imported_lazily_during_a_call(tmp_path: Path) -> None:
    (tmp_path / "lazy_issue18_mod.py").write_text(
        textwrap.dedent(
            """
            from authhygiene import AuthHygiene
            async def _app(scope, receive, send):
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"unprotected"})
            app = AuthHygiene(_app, realm="api", explian="full")  # module level, by hand
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:

        class Lazy:
            def __init__(self) -> None:
                self.app: Any = None

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                if self.app is None:
                    self.app = importlib.import_module("lazy_issue18_mod").app
                await self.app(scope, receive, send)

        TestClient(Lazy()).get("/")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("lazy_issue18_mod", None)


@pytest.mark.parametrize(
    "case",
    ["built_in_a_lifespan_handler", "imported_lazily_during_a_call"],
)
def test_a_construction_by_hand_inside_some_coroutine_still_raises(
    case: str, tmp_path: Path
) -> None:
    """FAILS now: the frame walk takes these for Starlette's lazy build and
    swallows the PolicyError; requests then pass through unprotected."""

    def build() -> None:
        if case == "built_in_a_lifespan_handler":
            _built_in_a_lifespan_handler()
        else:
            _imported_lazily_during_a_call(tmp_path)

    with structlog.testing.capture_logs(), pytest.raises(PolicyError):
        build()
