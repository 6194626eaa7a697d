"""RFC 9728 protected-resource metadata: what `protected_resource=` serves
and what every Bearer challenge points to.

An OAuth client that meets a 401 has to find out which authorization
server issues tokens for this API, and which scopes to ask for. RFC 9728
puts that in a JSON document at a well-known URL built from the resource's
own URL (`https://h/.well-known/oauth-protected-resource/mcp` for
`https://h/mcp`: the well-known segment comes first), and lets the 401
point to it (`resource_metadata=`). The MCP authorization spec makes both
mandatory, and MCP clients compare the document's `resource` with the URL
they called, so the document must name the resource exactly as the client
reached it: scheme and host from the request, through a proxy only when
the proxy is trusted (`trusted_proxies`), or from the configuration.

Everything here is pure: a `RequestView` in, URLs and bytes out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, cast
from urllib.parse import urlsplit

from authhygiene.core.clients import TrustedProxies, forwarded_value, peer_trusted
from authhygiene.core.credentials import RequestView
from authhygiene.core.option_error import PolicyError, refuse_unknown
from authhygiene.core.paths import at_or_under
from authhygiene.core.requirements import Scopes

__all__ = [
    "WELL_KNOWN",
    "MetadataAnswer",
    "Place",
    "ProtectedResource",
    "metadata_answer",
    "place_of",
    "request_origin_url",
]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_MAX_PATHS = 64
_MAX_PATH_CHARS = 512
_MAX_URLS = 16
_MAX_URL_CHARS = 512
_MAX_HOST_CHARS = 255
# A path prefix: RFC 3986 pchars and "/", no "*", query or fragment.
_PATH_RE = re.compile(r"/[A-Za-z0-9\-._~!$&'()+,;=:@%/]*")
# RFC 3986 host [":" port]: a reg-name (letters, digits, "-", "."), an IPv4
# address or a bracketed IPv6 literal; a port of at most 5 digits. Anything
# else in a Host or X-Forwarded-Host field names no URL of ours.
_HOST_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_BEARER_METHODS = ("header", "body", "query")
# The optional RFC 9728 §2 members, as configured names in document order.
_URL_MEMBERS = ("jwks_uri", "resource_documentation", "resource_policy_uri", "resource_tos_uri")


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    """The API as an OAuth protected resource (RFC 9728), for
    ``protected_resource=``: the middleware serves its metadata document at
    the well-known URLs, outside the app's auth, and points every Bearer 401
    (and 403 `insufficient_scope`) to it with `resource_metadata`.

    `paths` are the protected path prefixes, each its own resource (an MCP
    server at `/mcp` is the resource `https://host/mcp`); as a mapping they
    also give the scopes a 401 on that path asks for (`scope=`). `resource`
    fixes scheme and host (and, with a path, the one protected prefix)
    instead of reading them from each request.
    """

    authorization_servers: Sequence[str]
    scopes_supported: Sequence[str] = ()
    resource: str | None = None
    paths: Sequence[str] | Mapping[str, Sequence[str]] | None = None
    bearer_methods_supported: Sequence[str] = ("header",)
    resource_name: str | None = None
    jwks_uri: str | None = None
    resource_documentation: str | None = None
    resource_policy_uri: str | None = None
    resource_tos_uri: str | None = None
    resource_signing_alg_values_supported: Sequence[str] = ()
    dpop_signing_alg_values_supported: Sequence[str] = ()
    dpop_bound_access_tokens_required: bool = False
    tls_client_certificate_bound_access_tokens: bool = False
    # Seconds a client or cache may keep the document (`Cache-Control`).
    max_age: int = 3600
    # Normalised at construction: prefix -> scopes, longest prefix first;
    # the configured origin (scheme://host[:port]) or None; the document's
    # members other than `resource`, in order.
    _prefixes: tuple[tuple[str, tuple[str, ...]], ...] = field(
        init=False, repr=False, compare=False, default=()
    )
    _origin: str | None = field(init=False, repr=False, compare=False, default=None)
    _members: tuple[tuple[str, object], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        servers = _urls("authorization_servers", self.authorization_servers, issuer=True)
        if not servers:
            raise PolicyError(
                "authhygiene: ProtectedResource needs authorization_servers, the issuer URL of"
                " each authorization server that issues tokens for this API, e.g."
                " authorization_servers=['https://auth.example.com'] (MCP clients require one)."
            )
        scopes = _scope_names("scopes_supported", self.scopes_supported)
        origin, resource_path = _resource(self.resource)
        prefixes = _paths(self.paths, resource_path, scopes)
        methods = _names("bearer_methods_supported", self.bearer_methods_supported)
        for method in methods:
            if method not in _BEARER_METHODS:
                raise PolicyError(
                    f"authhygiene: bearer_methods_supported lists {method!r}; RFC 6750 defines"
                    " 'header', 'body' and 'query' (send ['header'] unless the API reads others)."
                )
        if not isinstance(self.max_age, int) or isinstance(self.max_age, bool):
            raise PolicyError("authhygiene: ProtectedResource max_age must be whole seconds.")
        if not 0 <= self.max_age <= 7 * 86400:
            raise PolicyError(
                "authhygiene: ProtectedResource max_age must be from 0 to 604800 seconds."
            )
        members: list[tuple[str, object]] = [("authorization_servers", list(servers))]
        if scopes:
            members.append(("scopes_supported", list(scopes)))
        members.append(("bearer_methods_supported", list(methods)))
        members += self._optional_members()
        set_ = object.__setattr__
        # Immutable and hashable, as configuration is everywhere else.
        set_(self, "authorization_servers", servers)
        set_(self, "scopes_supported", scopes)
        set_(self, "bearer_methods_supported", methods)
        given = dict(prefixes)
        set_(
            self,
            "paths",
            tuple(
                (prefix, given[prefix]) if any(given.values()) else prefix
                for prefix in _in_order(self.paths, resource_path)
            ),
        )
        for name in ("resource_signing_alg_values_supported", "dpop_signing_alg_values_supported"):
            set_(self, name, tuple(getattr(self, name)))
        set_(self, "_prefixes", prefixes)
        set_(self, "_origin", origin)
        set_(self, "_members", tuple(members))

    def _optional_members(self) -> list[tuple[str, object]]:
        members: list[tuple[str, object]] = []
        if self.jwks_uri is not None:
            members.append(("jwks_uri", _url("jwks_uri", self.jwks_uri, issuer=False)))
        for name in ("resource_signing_alg_values_supported", "dpop_signing_alg_values_supported"):
            values = _names(name, getattr(self, name))
            if values:
                members.append((name, list(values)))
        if self.resource_name is not None:
            if not isinstance(self.resource_name, str) or not 0 < len(self.resource_name) <= 256:
                raise PolicyError(
                    "authhygiene: resource_name is a human-readable name of at most 256"
                    " characters, e.g. 'Example MCP server'."
                )
            members.append(("resource_name", self.resource_name))
        for name in _URL_MEMBERS[1:]:
            value = getattr(self, name)
            if value is not None:
                members.append((name, _url(name, value, issuer=False)))
        for name in (
            "tls_client_certificate_bound_access_tokens",
            "dpop_bound_access_tokens_required",
        ):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise PolicyError(f"authhygiene: {name} must be True or False.")
            if value:
                members.append((name, True))
        return members

    @classmethod
    def from_option(cls, value: object) -> ProtectedResource:
        """`protected_resource=`: a ProtectedResource, or a dict of its
        options (Django's settings)."""
        if isinstance(value, ProtectedResource):
            return value
        if not isinstance(value, Mapping):
            raise PolicyError(
                "authhygiene: protected_resource must be authhygiene.ProtectedResource(...) or a"
                " dict of its options, e.g. {'authorization_servers': ['https://auth.example.com']};"
                f" got {type(value).__name__}."
            )
        refuse_unknown(value, (f.name for f in fields(cls) if f.init), "ProtectedResource ")
        try:
            return cls(**cast(Mapping[str, Any], value))
        except TypeError as exc:  # authorization_servers missing
            raise PolicyError(f"authhygiene: protected_resource: {exc}.") from None

    @property
    def reads_query(self) -> bool:
        return "query" in self.bearer_methods_supported

    def prefix_of(self, path: str) -> tuple[str, tuple[str, ...]] | None:
        """The protected prefix `path` falls under (the longest), with its scopes."""
        for prefix, scopes in self._prefixes:
            if at_or_under(path, prefix):
                return prefix, scopes
        return None

    def document(self, resource_url: str) -> bytes:
        """The metadata document for the resource at `resource_url`."""
        members = {"resource": resource_url, **dict(self._members)}
        return json.dumps(members, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request falls: the resource it belongs to, the URL of that
    resource's metadata document, and the scopes configured for it."""

    resource: str
    metadata: str
    scopes: tuple[str, ...]


def _resource_url(origin: str, prefix: str) -> str:
    return origin if prefix == "/" else origin + prefix


def _metadata_url(origin: str, prefix: str) -> str:
    # RFC 9728 §3.1: the well-known segment between host and path; a
    # resource without a path has its document at the well-known URL itself.
    return origin + WELL_KNOWN + ("" if prefix == "/" else prefix)


def place_of(
    resource: ProtectedResource, trusted: TrustedProxies, view: RequestView
) -> Place | None:
    """The resource `view` addresses, or None: a path outside every
    protected prefix, or a request whose scheme and host name no URL."""
    found = resource.prefix_of(view.path)
    if found is None:
        return None
    origin = resource._origin or request_origin_url(trusted, view)
    if origin is None:
        return None
    prefix, scopes = found
    return Place(_resource_url(origin, prefix), _metadata_url(origin, prefix), scopes)


def request_origin_url(trusted: TrustedProxies, view: RequestView) -> str | None:
    """`scheme://host[:port]` as the client reached us: the request's own
    scheme and Host, or what a trusted proxy says it forwarded
    (`Forwarded: proto=;host=`, `X-Forwarded-Proto`, `X-Forwarded-Host`,
    the last element of each: the one our proxy wrote). None when the host
    is no host (a hostile or missing Host field)."""
    scheme = view.scheme or "http"
    host = view.get("host") or view.server
    if view.authority is not None:
        host = view.authority  # the framework's own, proxies already weighed
    elif trusted and peer_trusted(trusted, view):
        proto, forwarded_host = _forwarded(view)
        if proto:
            scheme = proto.lower()
        if forwarded_host:
            host = forwarded_host
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    if scheme not in ("http", "https") or not host or len(host) > _MAX_HOST_CHARS:
        return None
    if _HOST_RE.fullmatch(host) is None:
        return None
    port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else ""
    if port and int(port) > 65535:
        return None
    host = host.lower()
    # The default port is no part of the URL a client compares.
    if (scheme == "http" and host.endswith(":80")) or (scheme == "https" and host.endswith(":443")):
        host = host.rsplit(":", 1)[0]
    return f"{scheme}://{host}"


def _forwarded(view: RequestView) -> tuple[str | None, str | None]:
    """(proto, host) a trusted proxy forwarded. When `Forwarded` and
    `X-Forwarded-*` both name one and disagree, neither is believed: a
    proxy writes one of them and passes the other on as the client wrote
    it, and which is which is not ours to know (as `client_address` reads
    the client). The request's own scheme and Host stand then."""
    values = view.get_all("forwarded")
    last = _last_element(values) if values else None
    pairs = {
        name: (
            _unquoted(forwarded_value(last, name)) if last else None,
            _unquoted(_last(view.get_all(f"x-forwarded-{name}"))),
        )
        for name in ("proto", "host")
    }
    if any(one and other and one.lower() != other.lower() for one, other in pairs.values()):
        return None, None
    proto, host = (one or other for one, other in pairs.values())
    return proto, host


def _unquoted(value: str | None) -> str | None:
    return value.strip().strip('"').strip() or None if value is not None else None


def _last(values: list[str]) -> str | None:
    """The last comma-separated element of a list field, bounded."""
    if not values:
        return None
    text = values[-1][-_MAX_URL_CHARS:]
    return text.rsplit(",", 1)[-1].strip() or None


def _last_element(values: list[str]) -> str | None:
    text = values[-1][-_MAX_URL_CHARS:]
    return text.rsplit(",", 1)[-1] or None


@dataclass(frozen=True, slots=True)
class MetadataAnswer:
    """A well-known request's answer: status, header fields, body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


_ALLOWED_METHODS = "GET, HEAD, OPTIONS"
_VARY_FORWARDED = "Forwarded, X-Forwarded-Host, X-Forwarded-Proto"
_OPEN_CORS = (("access-control-allow-origin", "*"),)


def _problem_body(status: int, title: str, detail: str) -> bytes:
    """An RFC 9457 body of the plain HTTP kind (`about:blank`): these are
    no auth failures, and carry nothing of the request."""
    members = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return json.dumps(members, separators=(",", ":")).encode()


_NOT_FOUND = _problem_body(404, "Not Found", "No protected resource is described at this URL.")
_BAD_HOST = _problem_body(
    400, "Bad Request", "The request's Host names no URL this API can describe."
)
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")
# Fields whose values are credentials (bounded in total by the server).
_CREDENTIAL_FIELDS = ("authorization", "proxy-authorization", "cookie")
_MAX_REQUESTED_HEADERS = 1024


def metadata_answer(
    resource: ProtectedResource, trusted: TrustedProxies, view: RequestView
) -> MetadataAnswer | None:
    """The answer to a request for a metadata document, or None when the
    request is not one (its path is not under the well-known path).

    Served to anyone: no credentials are read, no throttle counts it, and it
    is readable from any origin without credentials (a browser-based MCP
    client discovers from another origin). A preflight is answered here too,
    so it can never reach the app's auth."""
    path = view.path
    if not at_or_under(path, WELL_KNOWN):
        return None
    method = view.method
    if method == "OPTIONS":
        return _preflight(view)
    if method not in ("GET", "HEAD"):
        return MetadataAnswer(
            405,
            (("allow", _ALLOWED_METHODS), ("cache-control", "no-store"), *_OPEN_CORS),
            b"",
        )
    suffix = path[len(WELL_KNOWN) :]
    # A resource URL written with a trailing slash (Django's `path("mcp/")`)
    # is looked for with it: the same resource. ("//" names nothing.)
    prefix = suffix
    if not suffix.endswith("//"):
        prefix = suffix.rstrip("/") or "/"
    scopes = dict(resource._prefixes)
    if prefix == "/" and len(scopes) == 1:
        # The root URL is the last one an MCP client tries (after the
        # challenge's and the path's): with one resource, it describes that
        # one, whose `resource` the client accepts as its server URL or a
        # parent of it. With several, the root names none of them.
        (prefix,) = scopes
    if prefix not in scopes:
        return _problem(404, _NOT_FOUND, method)
    origin = resource._origin or request_origin_url(trusted, view)
    if origin is None:
        return _problem(400, _BAD_HOST, method)
    body = resource.document(_resource_url(origin, prefix))
    headers: tuple[tuple[str, str], ...] = (
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("cache-control", f"public, max-age={resource.max_age}"),
        *_OPEN_CORS,
    )
    if resource._origin is None:
        # A shared cache keys on the URL, whose host is the Host field; what
        # a proxy forwarded decides the document too: through our trusted
        # proxies, or through the server's own (gunicorn's default
        # secure_scheme_headers and uvicorn's --proxy-headers rewrite the
        # scheme from 127.0.0.1 before any middleware runs).
        headers += (("vary", _VARY_FORWARDED),)
    return MetadataAnswer(200, headers, b"" if method == "HEAD" else body)


def _problem(status: int, body: bytes, method: str) -> MetadataAnswer:
    headers = (
        ("content-type", "application/problem+json"),
        ("content-length", str(len(body))),
        ("cache-control", "no-store"),
        *_OPEN_CORS,
    )
    return MetadataAnswer(status, headers, b"" if method == "HEAD" else body)


def _preflight(view: RequestView) -> MetadataAnswer:
    """Any origin may fetch the document, with any header it asks to send
    (no credentials: `*` is allowed then, but the requested names are echoed
    for clients older than Fetch's wildcard)."""
    requested = (view.get("access-control-request-headers") or "")[:_MAX_REQUESTED_HEADERS]
    names = [name.strip() for name in requested.split(",") if name.strip()]
    # A JWT is a token by RFC 9110's grammar: a "name" that is a piece of
    # a credential the request carried is never echoed (scrub at the sink).
    carried = " ".join(value for name in _CREDENTIAL_FIELDS for value in view.get_all(name)).lower()
    allowed = (
        ", ".join(
            name
            for name in names
            if _TOKEN_RE.fullmatch(name) and (len(name) < 8 or name.lower() not in carried)
        )
        or "*"
    )
    headers = (
        *_OPEN_CORS,
        ("access-control-allow-methods", _ALLOWED_METHODS),
        ("access-control-allow-headers", allowed),
        ("access-control-max-age", "86400"),
        ("content-length", "0"),
    )
    return MetadataAnswer(204, headers, b"")


# --- option checks ---------------------------------------------------------


def _names(option: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise PolicyError(f"authhygiene: {option} must be a list of names, e.g. ['header'].")
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or _TOKEN_RE.fullmatch(name) is None:
            raise PolicyError(f"authhygiene: {option} contains {name!r}, which is not a token.")
    return names


def _scope_names(option: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise PolicyError(
            f"authhygiene: {option} must be a list of scope names, e.g. ['mcp:tools']."
        )
    try:
        return Scopes(*cast(Sequence[str], value)).names
    except ValueError as exc:
        raise PolicyError(f"{exc} ({option})") from None


def _url(option: str, value: object, *, issuer: bool) -> str:
    """An absolute https URL (http only on a loopback host, for local
    development); an issuer identifier has no query or fragment either
    (RFC 8414 §2)."""
    if not isinstance(value, str) or not value or len(value) > _MAX_URL_CHARS:
        raise PolicyError(f"authhygiene: {option} must be an absolute URL string.")
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    ok = (
        value.isascii()
        and value.isprintable()
        and " " not in value
        and parts.netloc
        and not parts.fragment
        and (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK))
        and not (issuer and parts.query)
    )
    if not ok:
        raise PolicyError(
            f"authhygiene: {option}={value!r} must be an absolute https:// URL"
            f"{' without query or fragment' if issuer else ' without fragment'}"
            " (http:// only for localhost), e.g. 'https://auth.example.com'."
        )
    return value


def _urls(option: str, value: object, *, issuer: bool) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise PolicyError(
            f"authhygiene: {option} must be a list of URLs, e.g. ['https://auth.example.com']."
        )
    if len(value) > _MAX_URLS:
        raise PolicyError(f"authhygiene: {option} lists at most {_MAX_URLS} URLs.")
    return tuple(dict.fromkeys(_url(option, item, issuer=issuer) for item in value))


def _resource(value: object) -> tuple[str | None, str | None]:
    """The configured resource as (origin, path or None)."""
    if value is None:
        return None, None
    url = _url("resource", value, issuer=True)
    parts = urlsplit(url)
    netloc = parts.netloc.lower()
    if (parts.scheme, parts.port) in (("https", 443), ("http", 80)):
        netloc = netloc.rsplit(":", 1)[0]  # as clients write it: no default port
    origin = f"{parts.scheme}://{netloc}"
    path = parts.path.rstrip("/")
    return origin, (_path("resource", path) if path else None)


def _path(option: str, value: object) -> str:
    if (
        not isinstance(value, str)
        or len(value) > _MAX_PATH_CHARS
        or _PATH_RE.fullmatch(value) is None
        or "//" in value
        or any(segment in (".", "..") for segment in value.split("/"))
    ):
        raise PolicyError(
            f"authhygiene: {option} {value!r} is not a path prefix; write one such as '/mcp'"
            " (no '*', query, '..' or '//')."
        )
    return value.rstrip("/") or "/"


def _in_order(value: object, resource_path: str | None) -> list[str]:
    """The configured prefixes (already checked), normalised, in the order given."""
    if value is None:
        return [resource_path or "/"]
    raw = list(value) if isinstance(value, Mapping | Sequence) else []
    return [
        _path("paths entry", item[0] if isinstance(item, tuple) else item)
        for item in cast(list[object], raw)
    ]


def _paths(
    value: object, resource_path: str | None, supported: tuple[str, ...]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`paths` as (prefix, scopes) pairs, longest prefix first."""
    if value is None:
        value = [resource_path or "/"]
    if isinstance(value, str):
        raise PolicyError(
            f"authhygiene: paths is a list of path prefixes, e.g. paths=[{value!r}], or a dict"
            " of prefix -> scopes."
        )
    items: list[tuple[object, object]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence):
        # Prefixes, or (prefix, scopes) pairs (a normalised `paths` again).
        items = [
            (item[0], item[1]) if isinstance(item, tuple) and len(item) == 2 else (item, ())
            for item in value
        ]
    else:
        raise PolicyError("authhygiene: paths is a list of path prefixes or a dict of them.")
    if not items or len(items) > _MAX_PATHS:
        raise PolicyError(f"authhygiene: paths names from 1 to {_MAX_PATHS} path prefixes.")
    prefixes: dict[str, tuple[str, ...]] = {}
    for raw, scopes in items:
        prefix = _path("paths entry", raw)
        if prefix in prefixes:
            raise PolicyError(f"authhygiene: paths lists {prefix!r} twice.")
        names = _scope_names(f"paths[{prefix!r}]", scopes)
        unknown = [name for name in names if supported and name not in supported]
        if unknown:
            raise PolicyError(
                f"authhygiene: paths[{prefix!r}] asks for {unknown[0]!r}, which scopes_supported"
                " does not list; add it there (clients read scopes_supported) or fix the name."
            )
        prefixes[prefix] = names
    if resource_path is not None and resource_path not in prefixes:
        raise PolicyError(
            f"authhygiene: resource names the path {resource_path!r}, which paths does not"
            " list; give resource without a path (scheme and host only) or add it to paths."
        )
    return tuple(sorted(prefixes.items(), key=lambda item: len(item[0]), reverse=True))
