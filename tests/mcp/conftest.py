"""Fixtures the MCP end-to-end tests share: the authorization server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import AuthorizationServer, Running, serving


@pytest.fixture
def auth_server() -> Iterator[AuthorizationServer]:
    running: Running
    with serving(AuthorizationServer, name="mcp-e2e-as") as running:
        yield running.app
