"""A WebSocket endpoint of an MCP-style API: the handshake refusals carry
what an OAuth client needs to recover, as an HTTP 401/403 would.

FastAPI route with ``Depends(require_scopes(...))``, enforce mode with a
JWT verifier, ``protected_resource=`` and ``profile="mcp"``, on uvicorn
and hypercorn, driven by the `websockets` client:

- no token: 401 whose Bearer challenge names the metadata URL of the
  resource (`resource_metadata`) and the scope to ask for (`scope`);
- a token without the route's scope: 403 `insufficient_scope` naming it
  (the scope names used to be lost in a bare close 1008);
- a page on a foreign origin: 403 `origin_not_allowed`, the app never runs;
- the right token: accepted, frames echoed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi import Depends, FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from authhygiene import AuthHygiene, ProtectedResource, Scopes, require_scopes
from authhygiene.core.answer import AppAnswer
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import decide
from authhygiene.core.policy import Policy
from authhygiene.verify import JWT
from tests.stacks.tokens import AUDIENCE, ISSUER, SIGNING_KEY

from ..e2e.servers import assert_problem, challenges
from .servers import SERVERS, accepted, refused, served

PATH = "/ws/items"
METADATA_PATH = "/.well-known/oauth-protected-resource/ws"
_MAX_FRAMES = 100


def token(scope: str) -> str:
    now = int(time.time())
    claims = {"sub": "ada", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600}
    return jwt.encode({**claims, "scope": scope}, SIGNING_KEY, algorithm="HS256")


def app(calls: list[str]) -> Any:
    api = FastAPI()

    @api.websocket(PATH)
    async def items(
        websocket: WebSocket,
        user: Any = Depends(require_scopes("items:write")),  # noqa: B008
    ) -> None:
        calls.append("ran")
        await websocket.accept()
        try:
            for _ in range(_MAX_FRAMES):
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            return

    return AuthHygiene(
        api,
        realm="api",
        profile="mcp",
        mode="enforce",
        verify=JWT(algorithms=["HS256"], keys=SIGNING_KEY, issuer=ISSUER, audience=AUDIENCE),
        require=[("*", "/ws/*", Scopes())],
        protected_resource=ProtectedResource(
            authorization_servers=["https://auth.example"],
            scopes_supported=["items:read", "items:write"],
            paths={"/ws": ["items:read"]},
        ),
    )


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, list[str]]]:
    calls: list[str] = []
    with served(request.param, app(calls)) as port:
        yield port, calls


@pytest.mark.parametrize(
    ("scope", "status", "reason", "error", "asked"),
    [
        (None, 401, "credentials_missing", None, "items:read"),
        ("items:read", 403, "insufficient_scope", "insufficient_scope", "items:write"),
    ],
)
def test_a_refused_handshake_says_where_and_what_to_ask_for(
    server: tuple[int, list[str]],
    scope: str | None,
    status: int,
    reason: str,
    error: str | None,
    asked: str,
) -> None:
    port, _ = server
    headers = [("Authorization", f"Bearer {token(scope)}")] if scope else []
    reply = refused(port, PATH, headers=headers)
    assert_problem(reply, status=status, reason=reason)
    (challenge,) = challenges(reply)
    assert challenge.parameters.get("error") == error
    assert challenge.parameters["scope"] == asked
    assert challenge.parameters["resource_metadata"] == f"http://127.0.0.1:{port}{METADATA_PATH}"


def test_a_foreign_page_is_refused_before_the_app(server: tuple[int, list[str]]) -> None:
    port, calls = server
    before = len(calls)
    headers = [("Authorization", f"Bearer {token('items:write')}")]
    reply = refused(port, PATH, headers=headers, origin="http://evil.example")
    assert_problem(reply, status=403, reason="origin_not_allowed")
    assert len(calls) == before


def test_the_right_token_is_accepted_and_echoed(server: tuple[int, list[str]]) -> None:
    port, _ = server
    with accepted(port, PATH, headers=[("Authorization", f"Bearer {token('items:write')}")]) as ws:
        ws.send("ping \u00e9")
        assert ws.recv(timeout=5) == "ping \u00e9"


def test_a_close_before_accept_is_no_misconfiguration_of_the_app() -> None:
    """A close carries no header: "401 without a challenge" would blame the
    app for what the protocol cannot say."""
    policy = Policy.from_options({"realm": "api"})
    view = RequestView("GET", PATH, "", (("host", "api.example"),))
    closed = decide(policy, view, AppAnswer(401, closed=True))
    plain = decide(policy, view, AppAnswer(401))
    assert closed is not None
    assert plain is not None
    assert closed.misconfig == ()
    assert plain.misconfig == ("401_without_challenge",)
