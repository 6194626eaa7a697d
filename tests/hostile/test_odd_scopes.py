"""A server (or a layer above) that puts odd types in the scope or environ:
the refusal is still the full diagnosis, never a 500 and never the generic
fallback that a failing glance at the request would give."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from authhygiene import AuthHygiene, AuthHygieneWSGI

BODY = b'{"detail":"Token has expired"}'
TOKEN = "Zq7mK2pX9vfiL4nR8sT1wYabc"


def _logger(stream: io.StringIO) -> Any:
    return structlog.wrap_logger(
        structlog.PrintLogger(stream), processors=[structlog.processors.JSONRenderer()]
    )


async def _asgi_app(scope: Any, receive: Any, send: Callable[..., Any]) -> None:
    status = 400 if scope["path"] == "/form" else 401
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def _asgi(scope: dict[str, Any]) -> tuple[int, list[Any], str]:
    log = io.StringIO()
    middleware = AuthHygiene(_asgi_app, realm="api", logger=_logger(log), log_limit=None)
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(middleware({"type": "http", "method": "GET", **scope}, receive, send))
    return sent[0]["status"], sent, log.getvalue()


AUTH = (b"authorization", f"Bearer {TOKEN}".encode())


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({"path": "/a", "headers": iter([AUTH])}, id="headers-an-iterator"),
        pytest.param({"path": "/a", "headers": [AUTH], "query_string": "q=1"}, id="str-query"),
        pytest.param(
            {"path": "/form", "headers": [AUTH], "query_string": "q=1"}, id="str-query-400"
        ),
        pytest.param(
            {"path": "/a", "headers": [(bytearray(b"authorization"), AUTH[1])]}, id="bytearray-name"
        ),
    ],
)
def test_odd_asgi_scopes_get_the_full_diagnosis(scope: dict[str, Any]) -> None:
    status, _, log = _asgi(scope)
    assert status in (400, 401)
    assert "internal_error" not in log
    assert TOKEN not in log


def _wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("401 Unauthorized", [("Content-Type", "application/json")])
    return [BODY]


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param({"PATH_INFO": ["/a"]}, id="list-path"),
        pytest.param({"QUERY_STRING": ["q"]}, id="list-query"),
        pytest.param({"REMOTE_ADDR": ["10.0.0.1"]}, id="list-client"),
    ],
)
def test_odd_environs_get_the_full_diagnosis(odd: dict[str, Any]) -> None:
    log = io.StringIO()
    middleware = AuthHygieneWSGI(_wsgi_app, realm="api", logger=_logger(log), log_limit=None)
    for _ in range(3):  # the rule, the memo being built, a memo hit
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/a",
            "QUERY_STRING": "",
            "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
            **odd,
        }
        started: list[Any] = []

        def start(
            status: str, headers: Any, exc_info: Any = None, seen: list[Any] = started
        ) -> None:
            seen.append(status)

        body = b"".join(middleware(environ, start))
        assert started[0].startswith("401")
        assert json.loads(body)["reason"] != "internal_error"
    assert "internal_error" not in log.getvalue()
