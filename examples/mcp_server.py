"""An MCP server whose OAuth is authhygiene's: the SDK's `MCPServer` over
streamable HTTP, and one line in front of it.

The middleware is the MCP server's resource-server half (MCP authorization
spec, RFC 9728): it serves the protected-resource metadata at
`/.well-known/oauth-protected-resource/mcp`, verifies every bearer token
against the authorization server's keys (issuer and audience included)
before the MCP app runs, and answers every refusal so that MCP clients
(the SDK's `OAuthClientProvider`, Inspector, IDEs) can discover where to
get a token and which scope to ask for: 401 with `resource_metadata` and
`scope`, 403 `insufficient_scope` listing every required scope, 400 for a
token in the URL, 403 for a foreign `Origin`.

Configure it with the environment:
    MCP_ISSUER      the authorization server's issuer URL
    MCP_JWKS_URL    its JWK Set (default: MCP_ISSUER + "/jwks")
    MCP_RESOURCE    this server's MCP endpoint as clients reach it (the
                    tokens' audience; default http://127.0.0.1:8000/mcp)

Run it (from the repository root)::

    MCP_ISSUER=https://auth.example.com .venv/bin/uvicorn mcp_server:app \\
        --app-dir examples --host 127.0.0.1 --port 8000

Probe it::

    curl -i -X POST http://127.0.0.1:8000/mcp
    curl -i http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp
"""

import os

from mcp.server.mcpserver import MCPServer

from authhygiene import AuthHygiene, ProtectedResource, Scopes
from authhygiene.verify import JWT

ISSUER = os.environ.get("MCP_ISSUER", "http://127.0.0.1:9000")
JWKS_URL = os.environ.get("MCP_JWKS_URL", f"{ISSUER}/jwks")
RESOURCE = os.environ.get("MCP_RESOURCE", "http://127.0.0.1:8000/mcp")

mcp = MCPServer("authhygiene-example")


@mcp.tool()
def echo(text: str) -> str:
    """Say `text` back."""
    return text


app = AuthHygiene(
    mcp.streamable_http_app(),
    realm="mcp",
    profile="mcp",
    protected_resource=ProtectedResource(
        authorization_servers=[ISSUER],
        scopes_supported=["mcp:tools"],
        paths={"/mcp": ["mcp:tools"]},
    ),
    mode="enforce",
    verify=JWT(algorithms=["RS256"], jwks_url=JWKS_URL, issuer=ISSUER, audience=RESOURCE),
    require=[("*", "/mcp*", Scopes("mcp:tools"))],
)
