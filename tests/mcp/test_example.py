"""`examples/mcp_server.py` under uvicorn, configured by its environment
for the local authorization server, driven by the real SDK client."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import authhygiene

from .harness import AuthorizationServer, Recorder, reserve, run_flow, serving

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mcp_server.py"

pytestmark = pytest.mark.skipif(
    getattr(authhygiene, "ProtectedResource", None) is None,
    reason="authhygiene.ProtectedResource has not landed yet",
)


def load_example(monkeypatch: pytest.MonkeyPatch, **environ: str) -> ModuleType:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("mcp_server_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_serves_the_sdk_client(
    auth_server: AuthorizationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = reserve()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    example = load_example(monkeypatch, MCP_ISSUER=auth_server.issuer, MCP_RESOURCE=url)

    with serving(lambda _: Recorder(example.app), name="mcp-e2e-example", sock=sock) as server:
        flow = run_flow(url, calls=[("echo", {"text": "from the example"})])
        metadata = httpx.get(
            server.url("/.well-known/oauth-protected-resource/mcp"), timeout=10
        ).json()
        answered = server.app.answered()

    assert flow.results[1].content[0].text == "from the example"
    assert answered[0].status == 401
    assert metadata["resource"] == url
    assert metadata["authorization_servers"] == [auth_server.issuer]
    assert flow.browser.scopes_asked() == ["mcp:tools"]
