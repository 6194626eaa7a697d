from tests.mcp.conftest import auth_server  # noqa: F401  (the local authorization server)
