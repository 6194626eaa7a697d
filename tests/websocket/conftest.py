"""What the handshake tests share: a log capture, the tokens, and the raw
ASGI harness for a server that offers no `websocket.http.response`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from tests import leaks
from tests.stacks.tokens import minted, secrets_of

TOKENS = minted(None)
SECRETS = secrets_of(TOKENS)
# The tokens live ten minutes; the whole suite runs longer than that before
# it gets here. Minted again when this old (`fresh_tokens`).
_REMINT_AFTER_S = 120.0
_minted_at = [time.monotonic()]
# Generous: a handshake test takes milliseconds.
HARNESS_TIMEOUT_S = 10.0


def bearer(name: str | None) -> list[tuple[str, str]]:
    """The Authorization header for one of `TOKENS` (None: no header)."""
    return [("Authorization", f"Bearer {TOKENS[name]}")] if name else []


@pytest.fixture(autouse=True)
def fresh_tokens() -> None:
    """`TOKENS` valid for the test about to run: minted again, in place, when
    they are old; `SECRETS` keeps the old ones too (never echoed either)."""
    if time.monotonic() - _minted_at[0] > _REMINT_AFTER_S:
        TOKENS.update(minted(None))
        SECRETS.extend(secret for secret in secrets_of(TOKENS) if secret not in SECRETS)
        _minted_at[0] = time.monotonic()


@pytest.fixture(scope="session")
def logs() -> LogCapture:
    return LogCapture()


@pytest.fixture(autouse=True)
def fresh_logs(logs: LogCapture) -> Iterator[None]:
    logs.entries.clear()
    yield
    logs.entries.clear()


@pytest.fixture(scope="session")
def logger(logs: LogCapture) -> Any:
    return structlog.wrap_logger(None, processors=[logs])


def events(logs: LogCapture, name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs.entries if entry.get("event") == name]


@dataclass
class Exchange:
    """What an app sent through a raw ASGI server, and how often it read."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    received: int = 0


def drive(
    app: Any,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    extension: bool = False,
    inbox: Sequence[dict[str, Any]] = (),
) -> Exchange:
    """Run `app` for one handshake as a server would: `websocket.connect`
    first, then `inbox`, then a disconnect; the scope offers the
    `websocket.http.response` extension only when `extension` is True."""
    for name, value in headers:
        leaks.remember_header(name, value)
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "subprotocols": [],
        "state": {},
    }
    if extension:
        scope["extensions"] = {"websocket.http.response": {}}
    exchange = Exchange()
    queue = [{"type": "websocket.connect"}, *inbox]

    async def receive() -> dict[str, Any]:
        exchange.received += 1
        if queue:
            return queue.pop(0)
        return {"type": "websocket.disconnect", "code": 1006}

    async def send(message: dict[str, Any]) -> None:
        exchange.sent.append(dict(message))

    asyncio.run(asyncio.wait_for(app(scope, receive, send), HARNESS_TIMEOUT_S))
    return exchange
