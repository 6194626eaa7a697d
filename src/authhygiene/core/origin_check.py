"""Whether a request's `Origin` names a page the CORS policy does not serve.

CORS only stops a browser page from *reading* a cross-origin answer. Two
kinds of request act before anything is read, with the user's cookies or
the network position of their machine: a WebSocket handshake (the browser
sends no preflight; cross-site WebSocket hijacking) and a call to a local
MCP server (DNS rebinding; MCP authorization: "validate Origin ... respond
with HTTP 403"). For those the server itself must refuse a foreign origin,
before the app runs. The rule is the CORS policy's own allow-list, so one
list of front ends decides both.

A request without `Origin` is not refused: non-browser clients (curl, SDKs,
other servers) send none, and a browser always sends one on a WebSocket
handshake (RFC 6455 §4.1, item 8) and on every cross-origin request.
"""

from __future__ import annotations

from collections.abc import Sequence

from authhygiene.core.answer import AppAnswer, Declared
from authhygiene.core.cors import CORS
from authhygiene.core.origins import request_origin
from authhygiene.core.reasons import REASONS, Reason

__all__ = ["ORIGIN_REFUSAL", "ORIGIN_REFUSED_ANSWER", "origin_refused"]

# What the adapters hand `Runtime.decide` for a refused origin: a 403 the
# middleware declares itself (no RFC 6750 error code, so no challenge).
ORIGIN_REFUSAL = Declared(Reason.ORIGIN_NOT_ALLOWED, {}, None, source="origin")
ORIGIN_REFUSED_ANSWER = AppAnswer(REASONS[Reason.ORIGIN_NOT_ALLOWED].status)


def origin_refused(cors: CORS | None, origin_values: Sequence[str]) -> bool:
    """Whether a request with these `Origin` field values (every one it
    carried, in order) comes from a page `cors` does not allow; with no
    policy at all (`profile="mcp"` without `cors=`), from any page.

    No `Origin` at all: not refused. Anything a browser's page could send
    that is not one allowed serialisation is refused: several `Origin`
    fields, `null` (sandboxed frames, file: pages), a malformed or
    oversized value (bounded in `request_origin` before any matching).
    """
    if not origin_values:
        return False
    if cors is None:
        return True
    origin = request_origin(origin_values)
    return origin is None or not cors.allows(origin)
