"""Issue 18b attack on `assert_auth_hygiene`'s refused-options check: it
compares a process-wide counter (`_refused_options.passes_so_far`) before
and after its battery, so ANY middleware with refused options that sees a
request meanwhile -- another app, in another thread of the same process
(a live-server fixture, a thread-parallel test runner) -- fails the check
for a correct app, blaming the other app's typo ("so it is off in this
app: ...").

FAILS on the code as reviewed: evidence, not xfail."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from structlog.testing import CapturingLogger

from authhygiene import CORS, AuthHygiene
from authhygiene.testing import assert_auth_hygiene
from tests.audit.test_checks import ORIGIN, TOKEN, bearer_app

OTHER_APPS_OPTIONS = {
    "explaining_typo": {"realm": "api", "relam": "other app's typo"},
    "guarding_typo": {"realm": "api", "mode": "enforce", "log_levle": "x"},
}


def _other_app(options: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(AuthHygiene, **options)
    return app


def _poll(app: Any, stop: threading.Event, started: threading.Event) -> None:
    """Another app in the same process, answering requests (bounded)."""

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
            for _ in range(20_000):
                await client.get("/health")
                started.set()
                if stop.is_set():
                    return
                await asyncio.sleep(0.001)

    asyncio.run(go())


@pytest.mark.parametrize("other", sorted(OTHER_APPS_OPTIONS))
def test_a_correct_app_passes_while_another_app_is_misconfigured(other: str) -> None:
    correct = AuthHygiene(
        bearer_app(), realm="api", cors=CORS(allow_origins=[ORIGIN]), logger=CapturingLogger()
    )
    stop, started = threading.Event(), threading.Event()
    with structlog.testing.capture_logs():
        poller = threading.Thread(
            target=_poll, args=(_other_app(OTHER_APPS_OPTIONS[other]), stop, started), daemon=True
        )
        poller.start()
        try:
            assert started.wait(10), "the other app never answered"
            # FAILS now: "authhygiene refused its options, so it is off in this
            # app: ... unknown option ..." -- the other app's typo.
            assert_auth_hygiene(correct, "/me", token=TOKEN, origin=ORIGIN)
        finally:
            stop.set()
            poller.join(10)
    assert not poller.is_alive()
