"""`profile="mcp"`: what the MCP authorization spec (2026-07-28) asks of a
resource server before any tool runs, decided on the request alone.

- A token in the query string is refused, 400 `invalid_request` (reason
  `token_in_query`): URLs end up in access logs, proxies' logs and browser
  history, and MCP forbids the query method outright.
- A request whose `Origin` the CORS policy does not allow is refused 403
  (`origin_not_allowed`): an MCP server on localhost is otherwise open to
  any web page through DNS rebinding. Without `cors=`, every Origin is
  foreign. A request without Origin (every non-browser client) passes.

A CORS preflight is neither: it carries no credentials and is answered by
the CORS step (R20).
"""

from __future__ import annotations

from collections.abc import Sequence

from authhygiene.core.answer import Declared
from authhygiene.core.cors import CORS
from authhygiene.core.credentials import RequestView, query_token
from authhygiene.core.origins import request_origin
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason
from authhygiene.core.request import is_preflight

__all__ = ["origin_refused", "profile_refusal"]

_SOURCE = "profile:mcp"


def origin_refused(cors: CORS | None, values: Sequence[str]) -> bool:
    """Whether a request's Origin fields name a page the policy does not
    serve: any Origin at all without `cors=`; else one the policy does not
    allow, `null`, several, or a malformed one. No Origin: not refused."""
    if not values:
        return False
    if cors is None:
        return True
    origin = request_origin(values)
    return origin is None or not cors.allows(origin)


def profile_refusal(policy: Policy, view: RequestView) -> Declared | None:
    """The profile's refusal of `view` before the app, or None."""
    if policy.profile != "mcp" or is_preflight(
        view.method, view.get("access-control-request-method")
    ):
        return None
    if origin_refused(policy.cors, view.get_all("origin")):
        return Declared(Reason.ORIGIN_NOT_ALLOWED, {}, None, _SOURCE)
    if query_token(view.query) is not None:
        return Declared(Reason.TOKEN_IN_QUERY, {}, None, _SOURCE)
    return None
