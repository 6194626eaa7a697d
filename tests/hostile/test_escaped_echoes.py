"""An app that echoes the request's credential escaped, through uvicorn:
no escaped form of it leaves in a header (name or value), the body or the
log, on the first request and when the refusal memo answers."""

from __future__ import annotations

import base64
import io
import socket
from typing import Any

import pytest
import structlog

from authhygiene import AuthHygiene
from tests.e2e.servers import UvicornThread
from tests.hostile.escaped_echo_apps import app, chunks, every_octet

TOKEN = "Zq7mK2pX9vfiL4nR8sT1wYab"
PASSWORD = "pässw0rd:Zq7mK2pX9vfiL4nR8sT1wYab"
BASIC = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


def _forms(secret: str) -> list[str]:
    return [
        secret.lower(),
        every_octet(secret),
        "".join(f"\\u{ord(c):04x}" for c in secret).lower(),
        "".join("\\" + c for c in secret).lower(),
        secret[:19].lower(),
        chunks(secret).split(" ")[0].lower(),
    ]


def _get(port: int, path: str, authorization: str) -> str:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: {authorization}\r\n\r\n"
    ).encode()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        for _ in range(10_000):
            data = sock.recv(65536)
            if not data:
                break
            received += data
    return received.decode("latin-1")


@pytest.fixture(scope="module")
def served() -> Any:
    log = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(log), processors=[structlog.processors.JSONRenderer()]
    )
    with UvicornThread(AuthHygiene(app, realm="api", logger=logger)) as server:
        yield server.port, log


@pytest.mark.parametrize(
    ("path", "authorization", "secret"),
    [
        pytest.param("/percent", f"Bearer {TOKEN}", TOKEN, id="every-octet-percent-encoded"),
        pytest.param("/escaped-headers", f"Bearer {TOKEN}", TOKEN, id="escaped-in-headers"),
        pytest.param("/header-name", f"Bearer {TOKEN}", TOKEN, id="in-a-header-name"),
        pytest.param("/scheme", f"Bearer {TOKEN}", TOKEN, id="as-the-challenge-scheme"),
        pytest.param("/chunks", BASIC, PASSWORD, id="non-ascii-password-in-chunks"),
    ],
)
def test_an_escaped_echo_never_leaves(
    served: tuple[int, io.StringIO], path: str, authorization: str, secret: str
) -> None:
    port, log = served
    for _ in range(3):  # the rule, the memo being built, a memo hit
        answer = _get(port, path, authorization)
        assert answer.startswith("HTTP/1.1 40")
        leaked = [form for form in _forms(secret) if form in answer.lower()]
        assert leaked == []
    assert [form for form in _forms(secret) if form in log.getvalue().lower()] == []
