"""`profile="mcp"`: what the MCP authorization spec (2026-07-28) asks of a
resource server before any tool runs, decided on the request alone.

Both hold on the paths `protected_resource` protects (its `paths`), the
MCP server's; the rest of the app is left alone.

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

from urllib.parse import unquote_plus

from authhygiene.core.answer import Declared
from authhygiene.core.credentials import (
    MAX_QUERY_CHARS,
    MAX_QUERY_FIELDS,
    QUERY_TOKEN_PARAMS,
    RequestView,
)
from authhygiene.core.origin_check import origin_refused
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason
from authhygiene.core.request import is_preflight

__all__ = ["may_refuse", "profile_refusal", "profiled", "query_carries_token"]

_SOURCE = "profile:mcp"


def profile_refusal(policy: Policy, view: RequestView) -> Declared | None:
    """The profile's refusal of `view` before the app, or None. Only the
    protected resource's paths are the MCP server's: the rest of the app
    (a sign-up link with `?token=`, a same-origin form post) is not."""
    if not profiled(policy, view) or is_preflight(
        view.method, view.get("access-control-request-method")
    ):
        return None
    if origin_refused(policy.cors, view.get_all("origin")):
        return Declared(Reason.ORIGIN_NOT_ALLOWED, {}, None, _SOURCE)
    if query_carries_token(view.query):
        return Declared(Reason.TOKEN_IN_QUERY, {}, None, _SOURCE)
    return None


def _hinted(query: str) -> bool:
    """Whether a parameter of `query` may be named like a token, even
    percent-encoded: a plain substring test, linear, on any length."""
    return "token" in query or "api_key" in query or "%" in query


def query_carries_token(query: str) -> bool:
    """Whether the query string carries a non-empty value under a token
    parameter name (`access_token`, `token`, `api_key`), anywhere in it.
    It fails closed: a query too long or with too many fields to read
    within bounds that holds a token-like name at all is taken to carry
    one (an app may read the parameter past any bound of ours)."""
    if not query or not _hinted(query):
        return False
    if len(query) > MAX_QUERY_CHARS:
        return True
    fields = query.split("&")
    if len(fields) > MAX_QUERY_FIELDS:
        return True
    for field in fields:
        name, sep, value = field.partition("=")
        if sep and value and unquote_plus(name) in QUERY_TOKEN_PARAMS:
            return True
    return False


def may_refuse(policy: Policy, path: str, query: str, has_origin: bool) -> bool:
    """Whether `profile_refusal` could refuse a request, from its raw path,
    query and whether it has an Origin: so that the requests it never
    refuses (no Origin, nothing token-like in the query, or outside the
    protected paths) are not decoded at all."""
    resource = policy.protected_resource
    return (
        resource is not None
        and (has_origin or _hinted(query))
        and resource.prefix_of(path) is not None
    )


def profiled(policy: Policy, view: RequestView) -> bool:
    """Whether `view` is one the `mcp` profile applies to: under a path
    `protected_resource` protects."""
    resource = policy.protected_resource
    return (
        policy.profile == "mcp"
        and resource is not None
        and resource.prefix_of(view.path) is not None
    )
