"""What an adapter hands the core about a refused request.

An adapter never decodes the whole request on the refusal path unless the
core asks: it hands a `Request`, which reads the protocol's own structure
(an ASGI scope, a WSGI environ, Django's `request.META`) lazily.

- `glance(policy)`: the few fields a refusal's shape follows from, read
  without decoding the request (a `Glance`), or None when the request's
  fields cannot be told apart that cheaply (a repeated credential field);
- `decoded()`: the whole request as a `RequestView`, decoded once.

`RequestView` itself is a `Request` too (a decoded request glances at
itself): the core and the tests hand it in the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from authhygiene.core.credentials import RequestView
    from authhygiene.core.policy import Policy

__all__ = ["Glance", "Request", "is_preflight"]


def is_preflight(method: object, request_method: object) -> bool:
    """A CORS preflight (Fetch standard): OPTIONS with an
    Access-Control-Request-Method field (`request_method`, None when absent).
    It carries no credentials and must never be refused by the auth layer."""
    return method == "OPTIONS" and request_method is not None


class Glance(NamedTuple):
    """A refused request as the refusal memo reads it.

    `material` names everything `parse_credentials` would read (equal
    material, equal credentials); `fields_key` holds the raw texts the log
    fields follow from (path, query, client, user agent, origin) in the
    protocol's own form; `origin` is the Origin field when there is exactly
    one; `incoming_id` the request-id header's value. A named tuple: one is
    built per refused request, and a frozen dataclass costs several times
    as much to build."""

    material: str
    method: str
    preflight: bool
    incoming_id: str | None
    fields_key: tuple[object, ...]
    origin: str | None


class Request(Protocol):
    """A refused request, read lazily (see the module docstring)."""

    def glance(self, policy: Policy) -> Glance | None: ...

    def decoded(self) -> RequestView: ...
