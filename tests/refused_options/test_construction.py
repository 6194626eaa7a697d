"""Where a refused option raises, and what the middleware does where it
cannot (`authhygiene._refused_options`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import structlog

from authhygiene import AuthHygiene, PolicyError
from authhygiene._refused_options import RefusedOptions

Message = dict[str, Any]

BAD = {"realm": "api", "relam": "typo"}


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b"no"})
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})


class LazyFramework:
    """Builds its middleware inside its ASGI call, as Starlette does."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.stack: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.stack is None:
            self.stack = self.build()
        await self.stack(scope, receive, send)

    def build(self) -> Any:
        return AuthHygiene(_inner, **self.options)


def _run(
    app: Any, scope: dict[str, Any], incoming: list[Message], sent: list[Message] | None = None
) -> list[Message]:
    sent = [] if sent is None else sent

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_built_by_hand_a_bad_option_raises() -> None:
    with pytest.raises(PolicyError, match="Did you mean 'realm'"):
        AuthHygiene(_inner, **BAD)


def test_built_in_a_coroutine_that_is_no_asgi_call_it_still_raises() -> None:
    async def main() -> None:
        AuthHygiene(_inner, **BAD)

    with pytest.raises(PolicyError):
        asyncio.run(main())


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        ([{"type": "lifespan.startup"}], "lifespan.startup.failed"),
        ([{"type": "lifespan.shutdown"}], "lifespan.shutdown.complete"),
    ],
)
def test_built_during_a_call_the_lifespan_fails_the_start_up(
    incoming: list[Message], expected: str
) -> None:
    framework = LazyFramework(**BAD)
    sent: list[Message] = []
    if expected == "lifespan.startup.failed":
        # Raised after the message, as Starlette's own failed start-up does.
        with pytest.raises(PolicyError):
            _run(framework, {"type": "lifespan"}, incoming, sent)
    else:
        _run(framework, {"type": "lifespan"}, incoming, sent)
    assert [message["type"] for message in sent] == [expected]
    if expected == "lifespan.startup.failed":
        assert "unknown option 'relam'" in sent[0]["message"]
        assert "add_middleware(AuthHygiene, ...)" in sent[0]["message"]
        assert ".. Fix" not in sent[0]["message"]


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"type": "http", "method": "GET", "path": "/", "headers": []}, "http.response.start"),
        ({"type": "websocket", "path": "/ws", "headers": []}, "websocket.close"),
    ],
)
def test_built_during_a_call_requests_pass_through_unchanged(
    scope: dict[str, Any], expected: str
) -> None:
    framework = LazyFramework(**BAD)
    with structlog.testing.capture_logs() as logs:
        sent = _run(framework, scope, [])
        _run(framework, scope, [])
    assert sent[0]["type"] == expected
    if expected == "http.response.start":
        assert sent == [
            {"type": "http.response.start", "status": 401, "headers": []},
            {"type": "http.response.body", "body": b"no"},
        ]
    notices = [log for log in logs if log.get("effect")]
    assert len(notices) == 1
    assert notices[0]["kind"] == "invalid_options"
    assert notices[0]["requests_seen"] == 1
    assert isinstance(framework.stack, AuthHygiene)


def test_the_notice_repeats_at_most_once_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("authhygiene._refused_options.time.monotonic", lambda: now[0])
    notice = RefusedOptions(PolicyError("bad"), {})
    with structlog.testing.capture_logs() as logs:
        for step in (0.0, 1.0, 59.0, 61.0, 62.0, 125.0):
            now[0] = 1000.0 + step
            notice.seen()
    assert [log["requests_seen"] for log in logs] == [1, 4, 6]


def test_the_notice_goes_to_the_apps_logger() -> None:
    seen: list[dict[str, Any]] = []

    class Logger:
        def error(self, event: str, **fields: Any) -> None:
            seen.append({"event": event, **fields})

    RefusedOptions(PolicyError("bad"), {"logger": Logger()}).seen()
    assert seen[0]["event"] == "auth.misconfig"
    assert seen[0]["error"] == "bad"


def test_starlettes_test_client_raises_the_error_at_start_up() -> None:
    """A test suite learns of the typo where it enters the client."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()
    app.add_middleware(AuthHygiene, **BAD)
    with pytest.raises(PolicyError, match="relam"), TestClient(app):
        pass


def test_a_logger_that_rejects_the_fields_never_fails_the_request() -> None:
    class Strict:
        def error(self, event: str) -> None:  # a stdlib-like signature
            raise AssertionError("not reached")

    with structlog.testing.capture_logs() as logs:
        RefusedOptions(PolicyError("bad"), {"logger": Strict()}).seen()
    assert logs[0]["error"] == "bad"


# Options written to refuse requests: with them refused, nothing is let in.
GUARDING = [
    {"realm": "api", "mode": "enforce", "log_levle": "info"},
    {"realm": "api", "mdoe": "enforce"},
    {"realm": "api", "modus": "enforce"},
    {"realm": "api", "require": [("GET", "/x", None)], "relam": 1},
    {"realm": "api", "throttle": object(), "relam": 1},
    {"realm": "api", "trottle": "5/minute"},
    {"realm": "api", "profile": "mcp", "relam": 1},
    {"realm": "api", "cors": {"allow_origins": ["https://a.example"]}, "relam": 1},
]
# Options that only explain refusals: with them refused, the app answers.
EXPLAINING = [
    {"realm": "api", "relam": "typo"},
    {"realm": "api", "explian": "full"},
    {"realm": "api", "log_limit": "lots"},
    {"realm": "api", "schemes": "Bearer", "log_levle": "info"},
]


@pytest.mark.parametrize("options", GUARDING)
def test_refused_options_that_guarded_refuse_every_request(options: dict[str, Any]) -> None:
    framework = LazyFramework(**options)
    http = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with structlog.testing.capture_logs() as logs:
        sent = _run(framework, http, [])
        closed = _run(framework, {"type": "websocket", "path": "/ws", "headers": []}, [])
    assert sent[0]["status"] == 503
    assert (b"cache-control", b"no-store") in sent[0]["headers"]
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["status"] == 503
    assert closed == [{"type": "websocket.close", "code": 1013}]
    assert "refused 503" in next(log for log in logs if "effect" in log)["effect"]


@pytest.mark.parametrize("options", EXPLAINING)
def test_refused_options_that_only_explained_let_the_app_answer(options: dict[str, Any]) -> None:
    framework = LazyFramework(**options)
    with structlog.testing.capture_logs() as logs:
        sent = _run(framework, {"type": "http", "method": "GET", "path": "/", "headers": []}, [])
    assert sent[0]["status"] == 401
    assert "pass through unchanged" in next(log for log in logs if "effect" in log)["effect"]
