"""The MCP SDK's own auth deciding (`mode="explain"`), wrapped by
AuthHygiene with `protected_resource=` and `profile="mcp"`, served by
hypercorn; the SDK's client runs the whole flow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.server.auth.settings import AuthSettings

from authhygiene import AuthHygiene, ProtectedResource
from tests.mcp.harness import (
    ADMIN,
    MODES,
    TOOLS,
    AuthorizationServer,
    Recorder,
    ScopeGate,
    mcp_server,
    run_flow,
    scopes_in_token,
)
from tests.mcp.test_sdk_baseline import JwksVerifier, sdk_insufficient_scope
from tests.websocket.servers import HypercornThread


def wrapped(auth_server: AuthorizationServer, port: int) -> Any:
    resource = f"http://127.0.0.1:{port}/mcp"
    server = mcp_server(
        token_verifier=JwksVerifier(auth_server, resource),
        auth=AuthSettings(
            issuer_url=auth_server.issuer,  # type: ignore[arg-type]
            resource_server_url=resource,  # type: ignore[arg-type]
            required_scopes=[TOOLS],
            validate_token_resource=True,
        ),
    )
    app = ScopeGate(
        server.streamable_http_app(host="127.0.0.1"),
        scopes_of=scopes_in_token,
        refuse=sdk_insufficient_scope,
    )
    return Recorder(
        AuthHygiene(
            app,
            realm="mcp",
            profile="mcp",
            protected_resource=ProtectedResource(
                authorization_servers=[auth_server.issuer],
                scopes_supported=[TOOLS, ADMIN],
                paths={"/mcp": [TOOLS]},
            ),
        )
    )


@pytest.mark.parametrize("mode", MODES)
def test_the_flow_finishes_through_hypercorn(auth_server: AuthorizationServer, mode: str) -> None:
    server = HypercornThread(None)
    server.app = wrapped(auth_server, server.port)
    with server:
        url = f"http://127.0.0.1:{server.port}/mcp"
        prm = httpx.get(f"http://127.0.0.1:{server.port}/.well-known/oauth-protected-resource/mcp")
        assert prm.status_code == 200
        assert prm.json()["resource"] == url
        assert prm.headers["cache-control"].startswith("public")  # ours, not the SDK's
        flow = run_flow(url, calls=(("echo", {"text": "hi"}), ("admin_reset", {})), mode=mode)
    tools, echoed, admin = flow.results
    assert tools == ["admin_reset", "echo"]
    assert echoed.content[0].text == "hi"
    assert not getattr(admin, "is_error", True), admin
    assert flow.browser.scopes_asked()[-1].split() == sorted({TOOLS, ADMIN}) or set(
        flow.browser.scopes_asked()[-1].split()
    ) >= {TOOLS, ADMIN}
