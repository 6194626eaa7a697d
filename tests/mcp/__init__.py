"""End-to-end tests with the real MCP python SDK: its OAuth client against
a local authorization server and an MCP server behind AuthHygiene."""
