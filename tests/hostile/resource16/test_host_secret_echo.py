"""The request's own token never comes back in `resource_metadata=`.

The metadata URL's host is the client's Host field, lower-cased: a token
sent as the Host (in capitals, or a 4-7 character one) must not be echoed.
Found by the issue-16 attack.
"""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene import AuthHygiene, ProtectedResource
from tests.e2e.servers import UvicornThread, raw_exchange
from tests.hostile.resource16.apps import AS, fastapi_app


def _app() -> Any:
    return AuthHygiene(
        fastapi_app(),
        realm="api",
        protected_resource=ProtectedResource(authorization_servers=[AS], paths=["/mcp"]),
    )


@pytest.mark.parametrize(
    ("token", "host"),
    [("QWERTYUIOPASDFGH", "QWERTYUIOPASDFGH"), ("hunter2", "hunter2.example")],
)
def test_the_token_never_comes_back_in_the_challenge(token: str, host: str) -> None:
    request = (
        f"GET /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with UvicornThread(_app()) as server:
        reply = raw_exchange(server.port, request)
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 401")
    challenge = [line for line in head.split("\r\n") if line.lower().startswith("www-authenticate")]
    assert challenge
    assert token.lower() not in challenge[0].lower(), challenge[0]
