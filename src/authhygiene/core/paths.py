"""Where a request path falls: at a prefix or under it, by whole segments
(``/mcp`` covers ``/mcp`` and ``/mcp/x``, never ``/mcpx``)."""

from __future__ import annotations

__all__ = ["at_or_under"]


def at_or_under(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")
