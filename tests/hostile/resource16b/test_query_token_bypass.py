"""profile="mcp" refuses a token in the query (400 token_in_query) before
the app, whatever the query's shape: an empty token parameter first, a
query past 8 KiB, a query past 256 fields, and on a WebSocket handshake.
The check fails closed. (Found by the second attack on issue 16: each of
these reached the app.)"""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene import AuthHygiene, ProtectedResource
from tests.e2e.servers import UvicornThread, fetch
from tests.hostile.resource16b.apps import AS, GOOD, query_reading_app
from tests.websocket.servers import SERVERS, refused, served


def _wrapped(calls: list[str]) -> Any:
    return AuthHygiene(
        query_reading_app(calls),
        realm="mcp",
        profile="mcp",
        protected_resource=ProtectedResource(authorization_servers=[AS], paths=["/mcp"]),
    )


QUERIES = {
    "plain": f"access_token={GOOD}",  # the control: refused today
    "empty-first": f"token=&access_token={GOOD}",
    "over-8KiB": f"access_token={GOOD}&pad=" + "x" * 9000,
    "over-256-fields": "&".join(["a=1"] * 300) + f"&access_token={GOOD}",
}


@pytest.mark.parametrize("shape", list(QUERIES))
def test_a_query_token_never_reaches_the_mcp_app(shape: str) -> None:
    calls: list[str] = []
    with UvicornThread(_wrapped(calls)) as server:
        reply = fetch(server.port, f"/mcp?{QUERIES[shape]}", method="POST")
    assert reply.status == 400, (shape, reply.status, reply.body[:200])
    assert reply.json()["reason"] == "token_in_query"
    assert calls == []


@pytest.mark.parametrize("server", SERVERS[:1] + SERVERS[2:])
def test_a_query_token_on_a_websocket_handshake_is_refused(server: str) -> None:
    """README 'profile="mcp"': both refusals hold 'on HTTP and on WebSocket
    handshakes'. Only the Origin one does."""
    calls: list[str] = []
    with served(server, _wrapped(calls)) as port:
        try:
            reply = refused(port, f"/mcp/ws?access_token={GOOD}")
        except AssertionError:
            reply = None
    assert reply is not None, "the handshake carrying ?access_token= was accepted"
    assert reply.status == 400
    assert calls == []
