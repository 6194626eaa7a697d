"""The refused request as each adapter hands it to the core: lazily.

One `core.request.Request` per protocol, written once here and used by
every adapter: `ScopeRequest` over an ASGI scope (`AuthHygiene`),
`EnvironRequest` over a WSGI environ (`AuthHygieneWSGI`) and over Django's
`request.META` (the Django middleware). Each decodes only what the core
reads: `glance` reads the few fields a refusal's shape follows from (for a
header set seen before, by position, through a `Plans` cache); `decoded`
builds the whole `RequestView`, once, when the shape is new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authhygiene._asgi_types import Scope
from authhygiene.core.credentials import RequestView, material_plan, query_material
from authhygiene.core.exchange import carries_credentials
from authhygiene.core.policy import Policy
from authhygiene.core.redact import remember
from authhygiene.core.request import Glance, is_preflight

__all__ = [
    "EnvironRequest",
    "Plans",
    "ScopeRequest",
    "full_path",
    "header_name",
    "scope_carries_credentials",
    "view_from_environ",
    "view_from_scope",
]

# A plan is kept for a header set whose names add up to at most this many
# characters (a few dozen real header names), so a cache stays under about
# entries x 4 KiB however long the names clients make up.
_PLAN_NAMES_MAX_CHARS = 4096
_PLANS_MAX = 256


class Plans:
    """Per middleware (one policy): for each header set seen, which fields
    carry what `parse_credentials` reads, by position, and where the
    request id, User-Agent, Origin and Access-Control-Request-Method are;
    None for a set whose fields cannot be told apart by position. Bounded
    in entries and in bytes."""

    __slots__ = ("_plans", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._plans: dict[object, _Plan | None] = {}

    def get(self, key: object) -> _Plan | _Unplanned | None:
        return self._plans.get(key, UNPLANNED)

    def plan(
        self, key: object, size: int, lowered: list[str], raw: tuple[Any, ...], usable: bool
    ) -> _Plan | None:
        """Plan the header set `key` (`size` characters): `lowered` its
        header names in order, `raw` the protocol's keys for them; `usable`
        False when the set must take the decoded path whatever it holds."""
        picked = material_plan(lowered, self.policy.api_key_headers) if usable else None
        plan = None
        if picked is not None:
            at = dict(zip(lowered, raw, strict=True))
            header = self.policy.request_id_header
            plan = _Plan(
                tuple(lowered[index] for index in picked),
                tuple(raw[index] for index in picked),
                at.get(header) if header else None,
                at.get("user-agent"),
                at.get("origin"),
                at.get("access-control-request-method"),
            )
        remember(self._plans, key, plan, size, max_chars=_PLAN_NAMES_MAX_CHARS, entries=_PLANS_MAX)
        return plan


class _Unplanned:
    """The state "this header set was never planned"."""

    __slots__ = ()


UNPLANNED = _Unplanned()


class _Plan:
    """Where a header set keeps what a glance reads: the names and raw keys
    of the credential fields, and the raw keys of the request id,
    User-Agent, Origin and Access-Control-Request-Method fields."""

    __slots__ = ("keys", "names", "origin", "preflight_method", "request_id", "user_agent")

    def __init__(
        self,
        names: tuple[str, ...],
        keys: tuple[Any, ...],
        request_id: Any,
        user_agent: Any,
        origin: Any,
        preflight_method: Any,
    ) -> None:
        self.names = names
        self.keys = keys
        self.request_id = request_id
        self.user_agent = user_agent
        self.origin = origin
        self.preflight_method = preflight_method


def full_path(scope: Scope) -> str:
    # Servers differ on whether `path` already includes `root_path`.
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path if not root or path.startswith(root) else root + path


def view_from_scope(scope: Scope) -> RequestView:
    """The whole request of an ASGI scope, decoded."""
    client = scope.get("client")
    query = scope.get("query_string", b"")
    host = client[0] if client else None
    return RequestView(
        method=scope.get("method", "GET"),
        path=full_path(scope),
        # The spec says bytes; a server that gives text is read as it is.
        query=query.decode("latin-1") if isinstance(query, bytes) else str(query),
        headers=tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        ),
        client=host if isinstance(host, str) else None,
        route=_route_of_scope(scope),
        scheme=_text_or_none(scope.get("scheme")),
        server=_server(scope.get("server")),
    )


def scope_carries_credentials(scope: Scope) -> bool:
    """`core.exchange.carries_credentials` for an ASGI request or websocket
    handshake, asked only when the app answered 400/422."""
    authorization = any(name == b"authorization" for name, _ in scope.get("headers", ()))
    query = scope.get("query_string", b"")
    text = query.decode("latin-1") if isinstance(query, bytes) else str(query)
    return carries_credentials(authorization, text)


def _route_of_scope(scope: Scope) -> str | None:
    """The path as Starlette routes it (`get_route_path`): without the
    `root_path` the app is mounted at. None where that is the full path."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if not isinstance(path, str) or not isinstance(root, str) or not root:
        return None
    if path == root:
        return ""
    if path.startswith(root) and path[len(root)] == "/":
        return path[len(root) :]
    return None


class ScopeRequest:
    """An ASGI request (`core.request.Request`)."""

    __slots__ = ("_plans", "_view", "scope")

    def __init__(self, scope: Scope, plans: Plans) -> None:
        self.scope = scope
        self._plans = plans
        self._view: RequestView | None = None

    def decoded(self) -> RequestView:
        if self._view is None:
            self._view = view_from_scope(self.scope)
        return self._view

    def glance(self, policy: Policy) -> Glance | None:
        scope = self.scope
        raw_headers = scope.get("headers", ())
        fields = dict(raw_headers)
        if len(fields) != len(raw_headers):
            return None  # a repeated name: only the decoded request tells
        names = tuple(fields)
        plan = self._plans.get(names)
        if isinstance(plan, _Unplanned):
            lowered = [name.decode("latin-1").lower() for name in names]
            # ASGI servers send lower-case names; where one did not, the CORS
            # step (exact names) and the decoded view (lower-cased) could disagree.
            usable = all(name == name.lower() for name in names)
            plan = self._plans.plan(names, sum(map(len, names)), lowered, names, usable)
        if plan is None:
            return None
        method = scope.get("method", "GET")
        query = scope.get("query_string", b"")
        client = scope.get("client")
        origin = fields.get(plan.origin) if plan.origin else None
        incoming = fields.get(plan.request_id) if plan.request_id else None
        return Glance(
            "a"
            + repr(
                (
                    plan.names,
                    [fields[name] for name in plan.keys],
                    query_material(query.decode("latin-1")),
                )
            ),
            method,
            is_preflight(method, plan.preflight_method),
            incoming.decode("latin-1") if incoming is not None else None,
            (
                scope.get("path", ""),
                scope.get("root_path", ""),
                query,
                client[0] if client else None,
                fields.get(plan.user_agent) if plan.user_agent else None,
                origin,
            ),
            origin.decode("latin-1") if origin is not None else None,
        )


# Environ keys already turned into header names ("" for keys that are not
# headers): servers use the same few dozen keys on every request. Bounded in
# entries, and in bytes: a key longer than any real header name is turned
# into its name each time, never kept (a client picks the header names).
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_MAX = 1024
_HEADER_NAME_KEPT_MAX = 64


def header_name(key: str) -> str:
    """The header name an environ key stands for ("" for other keys)."""
    name = _HEADER_NAMES.get(key)
    if name is not None:
        return name
    if key.startswith("HTTP_"):
        name = key[5:].replace("_", "-").lower()
    elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        name = key.replace("_", "-").lower()
    else:
        name = ""
    remember(
        _HEADER_NAMES,
        key,
        name,
        len(key),
        max_chars=_HEADER_NAME_KEPT_MAX,
        entries=_HEADER_NAMES_MAX,
    )
    return name


def view_from_environ(environ: Mapping[str, Any]) -> RequestView:
    """The whole request of a WSGI environ (or Django's request.META), decoded."""
    headers = []
    for key, value in environ.items():
        name = header_name(key) if isinstance(key, str) else ""
        if name and isinstance(value, str):
            headers.append((name, value))
    script, path_info = str(environ.get("SCRIPT_NAME", "")), str(environ.get("PATH_INFO", ""))
    path = script + path_info
    return RequestView(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=path,
        query=str(environ.get("QUERY_STRING", "")),
        headers=tuple(headers),
        client=_text_or_none(environ.get("REMOTE_ADDR")),
        route=_routed(path_info) if script or not path_info.isascii() else None,
        scheme=_text_or_none(environ.get("wsgi.url_scheme")),
        server=_server((environ.get("SERVER_NAME"), environ.get("SERVER_PORT"))),
    )


def _routed(path_info: str) -> str:
    """PEP 3333's PATH_INFO as the app routes it: without SCRIPT_NAME (which
    a server may take from a proxy's header: never what a rule matches), its
    ISO-8859-1 characters read as the UTF-8 bytes they are, invalid ones
    replaced (werkzeug's reading, so a rule never matches a path the app
    does not route). Django's adapter gives its own `path_info` instead."""
    if path_info.isascii():
        return path_info
    try:
        return path_info.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # not PEP 3333 text: read as given
        return path_info


def _server(value: object) -> str | None:
    """`host:port` from ASGI's `server` or WSGI's SERVER_NAME and SERVER_PORT
    (a Unix socket's path, or anything odd, is no host)."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        return None
    host, port = value
    if not isinstance(host, str) or not host or not isinstance(port, int | str):
        return None
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{host}:{port}"


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class EnvironRequest:
    """A WSGI request, or a Django one by its `request.META` (`core.request.Request`)."""

    __slots__ = ("_authority", "_plans", "_route", "_scheme", "_view", "environ")

    def __init__(
        self,
        environ: Mapping[str, Any],
        plans: Plans,
        *,
        route: str | None = None,
        scheme: str | None = None,
        authority: str | None = None,
    ) -> None:
        self.environ = environ
        self._plans = plans
        self._view: RequestView | None = None
        # The path the app routes, where the adapter knows it (Django's
        # `request.path_info`, decoded by Django already).
        self._route = route
        # The URL scheme, where the adapter knows it better than the environ
        # (Django's `request.scheme`: an ASGI request's META has none).
        self._scheme = scheme
        self._authority = authority

    def decoded(self) -> RequestView:
        if self._view is None:
            view = view_from_environ(self.environ)
            if self._route is not None or self._scheme is not None or self._authority is not None:
                view = replace(
                    view,
                    route=self._route if self._route is not None else view.route,
                    scheme=self._scheme or view.scheme,
                    authority=self._authority,
                )
            self._view = view
        return self._view

    def glance(self, policy: Policy) -> Glance | None:
        environ = self.environ
        plan = self._plan()
        if plan is None:
            return None
        query = environ.get("QUERY_STRING", "")
        method = environ.get("REQUEST_METHOD", "GET")
        origin = environ.get("HTTP_ORIGIN")
        incoming = environ.get(plan.request_id) if plan.request_id else None
        return Glance(
            "w"
            + repr(
                (
                    plan.names,
                    [environ[key] for key in plan.keys],
                    query_material(query) if isinstance(query, str) else query,
                )
            ),
            method,
            is_preflight(method, environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")),
            incoming if isinstance(incoming, str) else None,
            (
                environ.get("SCRIPT_NAME", ""),
                environ.get("PATH_INFO", ""),
                query,
                environ.get("REMOTE_ADDR"),
                environ.get("HTTP_USER_AGENT"),
                origin,
            ),
            origin if isinstance(origin, str) else None,
        )

    def _plan(self) -> _Plan | None:
        environ = self.environ
        key = frozenset(environ)
        plan = self._plans.get(key)
        if not isinstance(plan, _Unplanned):
            return plan
        keys = tuple(key for key in environ if isinstance(key, str) and header_name(key))
        usable = all(isinstance(environ[key], str) for key in keys)
        size = sum(len(key) if isinstance(key, str) else 64 for key in environ)
        return self._plans.plan(key, size, [header_name(key) for key in keys], keys, usable)
