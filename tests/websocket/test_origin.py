"""Cross-site WebSocket hijacking: with ``cors=`` a handshake from an origin
the policy does not allow is refused 403 before the app runs.

A browser sends no preflight for a handshake and sends the user's cookies
along, so any page could open the socket as the user; only the `Origin`
tells. No Origin (a non-browser client) and an allowed one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import LogCapture

from authhygiene import CORS, AuthHygiene

from ..e2e.servers import assert_absent, assert_problem
from .apps import echo_app
from .conftest import SECRETS, bearer, drive, events
from .servers import SERVERS, accepted, refused, served

ALLOWED = "https://app.example"
POLICY = CORS(allow_origins=[ALLOWED])


class Counting:
    """The echo app, counting the handshakes that reached it."""

    def __init__(self) -> None:
        self.app = echo_app()
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest, logger: Any) -> Iterator[tuple[int, Counting]]:
    app = Counting()
    with served(request.param, AuthHygiene(app, realm="api", logger=logger, cors=POLICY)) as port:
        yield port, app


@pytest.mark.parametrize(
    ("origin", "credential"),
    [
        ("https://evil.example", None),
        ("https://evil.example", "valid"),  # the user's credential, a foreign page
        ("https://app.example:8443", "valid"),
        ("null", "valid"),  # a sandboxed frame
    ],
    ids=["foreign", "foreign-with-token", "other-port", "null"],
)
def test_a_foreign_origin_is_refused_403_before_the_app(
    server: tuple[int, Counting], logs: LogCapture, origin: str, credential: str | None
) -> None:
    port, app = server
    before = app.calls

    reply = refused(port, "/echo/ws", headers=bearer(credential), origin=origin)

    assert_problem(reply, status=403, reason="origin_not_allowed")
    assert reply.get_all("www-authenticate") == []  # no RFC 6750 error: no challenge
    assert app.calls == before  # the app never ran
    assert [event["reason"] for event in events(logs, "auth.failure")] == ["origin_not_allowed"]
    assert_absent(SECRETS, reply.wire_text, json.dumps(logs.entries, default=str))


@pytest.mark.parametrize("origin", [ALLOWED, None], ids=["allowed", "no-origin"])
def test_an_allowed_origin_and_no_origin_pass(
    server: tuple[int, Counting], logs: LogCapture, origin: str | None
) -> None:
    port, app = server
    before = app.calls

    with accepted(port, "/echo/ws", origin=origin) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=10) == "hello"

    assert app.calls == before + 1
    assert events(logs, "auth.failure") == []


def test_without_the_extension_a_foreign_origin_is_closed_1008(
    logger: Any, logs: LogCapture
) -> None:
    app = Counting()
    wrapped = AuthHygiene(app, realm="api", logger=logger, cors=POLICY)

    exchange = drive(wrapped, "/echo/ws", [("Origin", "https://evil.example")])

    assert exchange.sent == [
        {"type": "websocket.close", "code": 1008, "reason": "origin_not_allowed"}
    ]
    assert exchange.received == 1
    assert app.calls == 0


def test_report_only_logs_a_foreign_origin_and_lets_it_in(logger: Any, logs: LogCapture) -> None:
    app = Counting()
    wrapped = AuthHygiene(app, realm="api", logger=logger, cors=POLICY, report_only=True)

    exchange = drive(
        wrapped,
        "/echo/ws",
        [("Origin", "https://evil.example")],
        inbox=[{"type": "websocket.receive", "text": "hi"}],
    )

    assert exchange.sent[0] == {"type": "websocket.accept", "subprotocol": None, "headers": []}
    assert app.calls == 1
    assert [event["reason"] for event in events(logs, "auth.report_only")] == ["origin_not_allowed"]


def test_without_cors_the_origin_is_not_judged(logger: Any, logs: LogCapture) -> None:
    app = Counting()

    exchange = drive(
        AuthHygiene(app, realm="api", logger=logger),
        "/echo/ws",
        [("Origin", "https://evil.example")],
    )

    assert exchange.sent[0]["type"] == "websocket.accept"
    assert app.calls == 1
