"""profile="mcp" holds on the MCP server's paths only.

An app that mounts its MCP server at /mcp next to its ordinary routes (the
FastAPI pattern) keeps its sign-up mail's `?token=` link and its own
same-origin form posts: the profile's refusals (token_in_query,
origin_not_allowed) apply under `protected_resource`'s `paths`. Found by
the issue-16 attack: both were refused before the app.
"""

from __future__ import annotations

from typing import Any

from authhygiene import AuthHygiene, ProtectedResource
from tests.e2e.servers import UvicornThread, fetch
from tests.hostile.resource16.apps import AS, fastapi_app


def _app() -> Any:
    return AuthHygiene(
        fastapi_app(),
        realm="api",
        profile="mcp",
        protected_resource=ProtectedResource(authorization_servers=[AS], paths=["/mcp"]),
    )


def test_a_token_link_outside_the_mcp_path_reaches_the_app() -> None:
    with UvicornThread(fastapi_app()) as bare, UvicornThread(_app()) as wrapped:
        assert fetch(bare.port, "/verify-email?token=mail-link-123").status == 200
        reply = fetch(wrapped.port, "/verify-email?token=mail-link-123")
        assert reply.status == 200, (reply.status, reply.body[:200])


def test_the_apps_own_same_origin_post_outside_the_mcp_path_reaches_the_app() -> None:
    with UvicornThread(fastapi_app()) as bare, UvicornThread(_app()) as wrapped:
        for port in (bare.port, wrapped.port):
            origin = f"http://127.0.0.1:{port}"  # a browser sends it on a same-origin POST
            reply = fetch(port, "/login", method="POST", headers=[("Origin", origin)])
            assert reply.status == 200, (port, reply.status, reply.body[:200])
