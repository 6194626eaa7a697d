"""profile="mcp" on the success path decodes nothing: a request with no
Origin and nothing token-like in its query (or outside the protected
paths) is let through on its raw path, query and header names. (Found by
the second attack on issue 16: every request was decoded in full, ~8-12 µs
a request.) A deterministic proxy for the cost: the number of full decodes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import authhygiene.request_views as request_views
from authhygiene import AuthHygiene, AuthHygieneWSGI, ProtectedResource

PR = ProtectedResource(authorization_servers=["https://auth.example"], paths=["/mcp"])
HEADERS = [(b"host", b"api.example.com"), (b"authorization", b"Bearer abc.def.ghi")] + [
    (b"x-h%d" % i, b"v" * 50) for i in range(20)
]


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b"ok"]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    scope_view, environ_view = request_views.view_from_scope, request_views.view_from_environ

    def counting_scope(scope: Any) -> Any:
        seen.append("scope")
        return scope_view(scope)

    def counting_environ(environ: Any) -> Any:
        seen.append("environ")
        return environ_view(environ)

    monkeypatch.setattr(request_views, "view_from_scope", counting_scope)
    monkeypatch.setattr(request_views, "view_from_environ", counting_environ)
    return seen


@pytest.mark.parametrize("path", ["/mcp", "/static/app.js"])
def test_asgi_success_path_decodes_nothing(decodes: list[str], path: str) -> None:
    app = AuthHygiene(asgi_app, realm="api", protected_resource=PR, profile="mcp")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": HEADERS,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert decodes == [], "the success path decoded the whole request"


@pytest.mark.parametrize("path", ["/mcp", "/static/app.js"])
def test_wsgi_success_path_decodes_nothing(decodes: list[str], path: str) -> None:
    app = AuthHygieneWSGI(wsgi_app, realm="api", protected_resource=PR, profile="mcp")
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "api.example.com",
        "HTTP_AUTHORIZATION": "Bearer abc.def.ghi",
        **{f"HTTP_X_H{i}": "v" * 50 for i in range(20)},
    }
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc=None: statuses.append(status)))
    assert (statuses, body) == (["200 OK"], b"ok")
    assert decodes == [], "the success path decoded the whole request"
