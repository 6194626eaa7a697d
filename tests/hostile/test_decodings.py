"""A secret the app decodes otherwise than the server handed it to us.

Servers give header bytes as ISO-8859-1 text. An app may decode a Basic
password that is not UTF-8 as ISO-8859-1 (werkzeug, DRF), a token as UTF-8
(DRF's TokenAuthentication: `auth[1].decode()`), and a Basic user-id may be
the credential itself (`curl -u KEY:`). Whichever way the app echoes it, it
must not come back. Real servers, raw sockets, the app bare and wrapped.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from flask import Flask, g, jsonify
from flask_httpauth import HTTPBasicAuth
from structlog.testing import LogCapture

from authhygiene import AuthHygiene, AuthHygieneWSGI
from authhygiene.testing import assert_no_secrets
from tests.e2e.servers import UvicornThread, WerkzeugThread, raw_exchange

CAPTURE = LogCapture()
OPTIONS = {"realm": "api", "logger": structlog.wrap_logger(None, processors=[CAPTURE])}


def _basic_echo_app() -> Flask:
    """Flask-HTTPAuth's Basic auth with an error handler that says too much."""
    app = Flask(__name__)
    auth = HTTPBasicAuth()

    @auth.verify_password
    def verify(username: str, password: str) -> None:
        g.tried = (username, password)

    @auth.error_handler
    def refused(status: int) -> Any:
        user, password = g.get("tried", ("", ""))
        return jsonify(error=f"unknown key {user} or wrong password {password}"), status

    @app.get("/items")
    @auth.login_required
    def items() -> dict[str, bool]:
        return {"ok": True}

    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **OPTIONS)  # type: ignore[method-assign]
    return app


async def _utf8_echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the Authorization bytes as UTF-8, the way DRF does, and echoes them."""
    if scope["type"] != "http":
        return
    raw = dict(scope["headers"]).get(b"authorization", b"")
    said = raw.decode("utf-8", "replace")
    body = json.dumps({"detail": f"Invalid token {said.partition(' ')[2]}"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Token")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    with (
        WerkzeugThread(_basic_echo_app()) as basic,
        UvicornThread(AuthHygiene(_utf8_echo_app, **OPTIONS)) as utf8,
    ):
        yield {"basic": basic.port, "utf8": utf8.port}


def _get(port: int, headers: list[tuple[str, bytes]]) -> bytes:
    lines = [b"GET /items HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers]
    return raw_exchange(port, b"\r\n".join(lines) + b"\r\n\r\n")


def _suffix() -> str:
    return secrets.token_hex(6)


def test_an_email_user_name_is_no_secret(ports: dict[str, int]) -> None:
    """A user-id that is a name (an email address, however long) is the
    app's to repeat: only keys sent as user-ids are masked."""
    user = "jane.doe@example-company.com"
    credential = base64.b64encode(f"{user}:wrong-pass".encode())
    reply = _get(ports["basic"], [("Authorization", b"Basic " + credential)])
    assert reply.startswith(b"HTTP/1.1 401")
    assert user.encode() in reply
    assert b"wrong-pass" not in reply


@pytest.mark.parametrize(
    "case",
    ["latin-1-password", "utf-8-password", "key-as-user"],
)
def test_basic_secrets_in_every_decoding(ports: dict[str, int], case: str) -> None:
    CAPTURE.entries.clear()
    if case == "key-as-user":
        key = secrets.token_hex(16)
        raw, forms = f"{key}:".encode(), [key]
        extra = [("X-Request-ID", key.encode())]
    else:
        password = "p\xe4ssw\xf6rd-tr\xe8s-" + _suffix()
        encoding = "latin-1" if case.startswith("latin") else "utf-8"
        raw, forms, extra = b"alice:" + password.encode(encoding), [password], []
    credential = base64.b64encode(raw)
    reply = _get(ports["basic"], [("Authorization", b"Basic " + credential), *extra])
    assert reply.startswith(b"HTTP/1.1 401")
    text = reply.decode("latin-1")
    decoded = reply.decode("utf-8", "replace")
    assert_no_secrets([text, decoded], forms, shapes=False)
    for form in forms:
        # JSON escapes non-ASCII: look for the escaped form too.
        assert json.dumps(form)[1:-1] not in text
    assert_no_secrets(CAPTURE.entries, forms, shapes=False)


def test_a_token_read_as_utf8_is_not_echoed(ports: dict[str, int]) -> None:
    CAPTURE.entries.clear()
    token = "p\xe4ssw\xf6rd-secret-cl\xe9-\xfcber-" + _suffix()
    reply = _get(ports["utf8"], [("Authorization", b"Token " + token.encode("utf-8"))])
    assert reply.startswith(b"HTTP/1.1 401")
    text = reply.decode("latin-1")
    assert json.dumps(token)[1:-1] not in text
    assert token not in reply.decode("utf-8", "replace")
    assert_no_secrets(CAPTURE.entries, [token], shapes=False)
