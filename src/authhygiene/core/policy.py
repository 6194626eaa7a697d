"""One frozen, validated object built from the middleware's keyword options.

Every adapter (ASGI, WSGI, Django settings) builds its Policy here, once, at
start-up, so a bad option fails when the app starts, with a message that
says what to change, never at the first request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

from authhygiene.core.clients import TrustedProxies, trusted_proxies
from authhygiene.core.cors import CORS
from authhygiene.core.credentials import (
    DEFAULT_API_KEY_HEADERS,
    DEFAULT_SESSION_COOKIES,
    TCHAR_RE,
    canonical_scheme,
)
from authhygiene.core.flood import LogLimit, log_limit
from authhygiene.core.option_error import PolicyError, refuse_unknown
from authhygiene.core.requirements import Requirements, compile_requirements
from authhygiene.core.resource import ProtectedResource
from authhygiene.core.verdict import Verifier

if TYPE_CHECKING:
    from authhygiene.throttle.config import Throttle

__all__ = [
    "DEFAULT_PROBLEM_TYPE_BASE",
    "LOG_FIELDS_OMITTABLE",
    "Explain",
    "Policy",
    "PolicyError",
]

Explain = Literal["full", "safe", "minimal"]
DEFAULT_PROBLEM_TYPE_BASE = "tag:authhygiene,2026:problem:"
_EXPLAIN_LEVELS = ("full", "safe", "minimal")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Fields of `auth.failure` an operator may leave out (personal data such as
# the client address, or noise); `reason`, `status` and `request_id` stay.
LOG_FIELDS_OMITTABLE = frozenset(
    {
        "app_status",
        "owasp_event",
        "scheme",
        "credential_source",
        "method",
        "path",
        "query",
        "client",
        "user_agent",
        "origin",
        "credential_fingerprint",
        "diagnosis",
        "alg",
        "kid",
        "iss",
        "aud",
    }
)
# Claims already logged under their own names, and the event's own keys: a
# `log_claims` entry must not shadow them.
_RESERVED_CLAIMS = (
    frozenset(
        {"alg", "kid", "iss", "aud", "exp", "nbf", "iat", "reason", "status", "event", "level"}
    )
    | LOG_FIELDS_OMITTABLE
)
_CLAIM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}")
_URI_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# RFC 6750 §3: error_uri characters; we hold every URI we put in a header to it.
_HEADER_URI_RE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@dataclass(frozen=True, slots=True)
class Policy:
    """The middleware's configuration. Build it with `Policy.from_options`."""

    realm: str
    schemes: tuple[str, ...] = ("Bearer",)
    explain: Explain = "safe"
    problem_type_base: str = DEFAULT_PROBLEM_TYPE_BASE
    report_only: bool = False
    compat_403: bool = False
    resource_metadata: str | None = None
    # RFC 9728 metadata served by the middleware (`core.resource`).
    protected_resource: ProtectedResource | None = None
    # A set of options in one word: "mcp" for MCP servers (`_profile`).
    profile: Literal["mcp"] | None = None
    request_id_header: str | None = "x-request-id"
    api_key_headers: tuple[str, ...] = DEFAULT_API_KEY_HEADERS
    session_cookies: tuple[str, ...] = DEFAULT_SESSION_COOKIES
    algorithms: tuple[str, ...] | None = None
    token_format: str | None = None
    # Verifiers with the app's keys (`authhygiene.verify.JWT`, `APIKey`,
    # `Basic`), one or a list: they say why a credential the app refused
    # fails, where the app's words only suggest (`verifiers`, normalised).
    verify: Verifier | tuple[Verifier, ...] | None = None
    # "explain": the app decides who gets in; "enforce": we refuse first.
    mode: Literal["explain", "enforce"] = "explain"
    # What each route requires (`core.requirements`).
    require: Requirements = field(default_factory=Requirements)
    # Failed-authentication throttling (`authhygiene.throttle.Throttle`).
    throttle: Throttle | None = None
    clock_skew_window: int = 120
    max_body_bytes: int = 64 * 1024
    log_level: str = "warning"
    cors: CORS | None = None
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    log_claims: tuple[str, ...] = ()
    log_omit: frozenset[str] = frozenset()
    log_limit: LogLimit | None = field(default_factory=LogLimit)
    # None: count failures in Prometheus when prometheus-client is installed.
    metrics: bool | None = None
    fingerprint_key: bytes = field(default_factory=lambda: _default_key(), repr=False)
    # Whether `schemes` was configured (True) or is the default: an app's own
    # challenges then say what it accepts.
    schemes_given: bool = field(default=False, init=False)
    # Whether `api_key_headers` was configured: only then is an API key in
    # another header "in the wrong header".
    api_key_headers_given: bool = field(default=False, init=False)
    # `verify` as a tuple, each verifier once.
    verifiers: tuple[Verifier, ...] = field(default=(), init=False)
    # Read off the verifiers once: the headers `APIKey`s read, the schemes
    # they read (enforce mode's challenges), whether any may wait on I/O.
    verifier_headers: tuple[str, ...] = field(default=(), init=False)
    verifier_schemes: tuple[str, ...] = field(default=(), init=False)
    verifiers_may_block: bool = field(default=False, init=False)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Policy:
        """Validate keyword options (or a Django settings dict) into a Policy."""
        refuse_unknown(sorted(options), (f.name for f in fields(cls) if f.init))
        if "realm" not in options:
            raise PolicyError(
                "authhygiene: the 'realm' option is required, e.g. realm=\"api\"; it names"
                " the protection space in every WWW-Authenticate challenge (RFC 9110 §11.5)."
            )
        values = dict(options)
        for name, check in _CHECKS.items():
            if name in values:
                values[name] = check(values[name])
        policy = cls(**values)
        object.__setattr__(policy, "schemes_given", "schemes" in options)
        object.__setattr__(policy, "api_key_headers_given", "api_key_headers" in options)
        _verifiers(policy)
        _resource_options(policy)
        _profile(policy)
        return policy

    @property
    def misconfig(self) -> tuple[str, ...]:
        """What is valid but ill-advised in these options, for one
        `auth.misconfig` event at start-up (`authhygiene.core.misconfig`)."""
        # RFC 9110 §5.6.4 allows quoted-pairs in realm, but urllib's and
        # several npm WWW-Authenticate parsers read `realm="a\\"b"` wrongly.
        return ("realm_quoted_pair",) if '"' in self.realm or "\\" in self.realm else ()

    def problem_type(self, reason: str) -> str:
        """The RFC 9457 `type` URI for `reason`."""
        return self.problem_type_base + reason.replace("_", "-")


def _resource_options(policy: Policy) -> None:
    """RFC 9728: one way to point at the metadata, in a challenge that can carry it."""
    if policy.resource_metadata and policy.protected_resource:
        raise PolicyError(
            "authhygiene: resource_metadata points at a metadata document served elsewhere;"
            " protected_resource serves one (and points at it). Configure one of them."
        )
    if (policy.resource_metadata or policy.protected_resource) and not {
        "Bearer",
        "DPoP",
    } & set(policy.schemes):
        name = "resource_metadata" if policy.resource_metadata else "protected_resource"
        raise PolicyError(
            f"authhygiene: {name} (RFC 9728) is pointed to from Bearer or DPoP challenges,"
            f" but schemes has neither; add 'Bearer' to schemes or drop {name}."
        )


# What `profile="mcp"` adds to a CORS policy: the MCP streamable HTTP
# transport's headers (a browser client sends the first two and reads them
# back; Last-Event-ID resumes a stream) and its methods (DELETE ends a session).
MCP_HEADERS = ("Mcp-Session-Id", "MCP-Protocol-Version")
_MCP_ALLOWED_HEADERS = (*MCP_HEADERS, "Last-Event-ID", "Content-Type", "Accept")
_MCP_METHODS = ("GET", "POST", "DELETE", "OPTIONS")


def _profile(policy: Policy) -> None:
    """`profile="mcp"`: the MCP authorization spec's rules for a resource
    server, as options. Tokens in the query string are refused (400) and a
    request's Origin must be one `cors=` allows (403): both before the app.
    The CORS policy allows and exposes the MCP transport's headers."""
    if policy.profile is None:
        return
    resource = policy.protected_resource
    if resource is None:
        raise PolicyError(
            "authhygiene: profile='mcp' needs protected_resource: MCP clients discover the"
            " authorization server from its metadata, e.g. protected_resource="
            "authhygiene.ProtectedResource(authorization_servers=['https://auth.example.com'],"
            " paths=['/mcp'])."
        )
    if resource.reads_query:
        raise PolicyError(
            "authhygiene: profile='mcp' refuses tokens in the query string (MCP authorization),"
            " but protected_resource's bearer_methods_supported lists 'query'; remove it."
        )
    for verifier in policy.verifiers:
        if hasattr(verifier, "audience") and not getattr(verifier, "audience", None):
            # MCP authorization: a server MUST accept only tokens issued for
            # it; without an audience any token of the issuer's would do.
            raise PolicyError(
                "authhygiene: profile='mcp' accepts only tokens issued for this server, but a"
                " verifier has no audience; give it the resource's URL, e.g."
                " JWT(..., audience='https://mcp.example.com/mcp')."
            )
    cors = policy.cors
    if cors is not None:
        headers = tuple(cors.allow_headers)
        if "*" not in headers:
            headers = tuple(dict.fromkeys((*headers, *_MCP_ALLOWED_HEADERS)))
        methods = tuple(cors.allow_methods)
        if "*" not in methods:
            methods = tuple(dict.fromkeys((*methods, *_MCP_METHODS)))
        exposed = tuple(dict.fromkeys((*cors.expose_headers, *MCP_HEADERS)))
        object.__setattr__(
            policy,
            "cors",
            replace(cors, allow_headers=headers, allow_methods=methods, expose_headers=exposed),
        )


def _profile_name(value: object) -> object:
    if value not in (None, "mcp"):
        raise PolicyError(
            f"authhygiene: profile={value!r} is not a profile; the one profile is 'mcp' (MCP"
            " servers: protected-resource metadata, no tokens in the query, Origin checked)."
        )
    return value


def _explain(value: object) -> object:
    if value not in _EXPLAIN_LEVELS:
        raise PolicyError(
            f"authhygiene: explain={value!r} is not one of {', '.join(map(repr, _EXPLAIN_LEVELS))}."
        )
    return value


def _flag(name: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if not isinstance(value, bool):
            raise PolicyError(f"authhygiene: {name} must be True or False.")
        return value

    return check


def _unless_none(check: Callable[[Any], object]) -> Callable[[object], object]:
    """`check`, for an option whose None means "not set"."""
    return lambda value: None if value is None else check(value)


def _verify(value: object) -> object:
    given = list(value) if isinstance(value, list | tuple) else [value]
    if not given or len(given) > 8:
        raise PolicyError("authhygiene: verify= takes one verifier or a list of up to 8.")
    for item in given:
        if (
            isinstance(item, type)
            or not callable(getattr(item, "verify", None))
            or not callable(getattr(item, "credential", None))
        ):
            raise PolicyError(
                "authhygiene: verify= takes a verifier with the app's keys, e.g."
                " verify=authhygiene.verify.JWT(algorithms=['RS256'], keys=PUBLIC_KEY_PEM,"
                f" issuer=..., audience=...), or a list of them; got {type(item).__name__}."
            )
    return tuple(given) if isinstance(value, list | tuple) else value


def _throttle(value: object) -> object:
    # Imported here: the throttle is optional, and the core stays free of it.
    from authhygiene.throttle.config import throttle_option

    return throttle_option(value)


def _mode(value: object) -> object:
    if value not in ("explain", "enforce"):
        raise PolicyError(
            "authhygiene: mode is 'explain' (the app decides who gets in; we say why it"
            " refused) or 'enforce' (we refuse before the app, with verify=)."
        )
    return value


def _require(value: object) -> object:
    try:
        return compile_requirements(value)
    except ValueError as exc:
        raise PolicyError(str(exc)) from None


def _verifiers(policy: Policy) -> None:
    """`verify` as a tuple; the API-key headers the verifiers read are read
    by the policy too; enforce mode and route requirements need a verifier."""
    verify = policy.verify
    verifiers = verify if isinstance(verify, tuple) else (() if verify is None else (verify,))
    object.__setattr__(policy, "verifiers", verifiers)
    if not verifiers and (policy.mode == "enforce" or policy.require.given):
        what = "mode='enforce'" if policy.mode == "enforce" else "require="
        raise PolicyError(
            f"authhygiene: {what} needs verify=, the verifier that checks credentials, e.g."
            " verify=authhygiene.verify.JWT(algorithms=['RS256'], jwks_url=...)."
        )
    headers = list(policy.api_key_headers)
    for verifier in verifiers:
        name = getattr(verifier, "header_name", None)
        if isinstance(name, str) and name.lower() not in headers:
            headers.append(name.lower())
    object.__setattr__(policy, "api_key_headers", tuple(headers))
    read = [name for v in verifiers if isinstance(name := getattr(v, "header", None), str)]
    schemes = [s for v in verifiers if isinstance(s := getattr(v, "scheme", None), str)]
    object.__setattr__(policy, "verifier_headers", tuple(read))
    object.__setattr__(policy, "verifier_schemes", tuple(dict.fromkeys(schemes)))
    object.__setattr__(
        policy, "verifiers_may_block", any(getattr(v, "may_block", False) for v in verifiers)
    )


def _token_format(value: object) -> object:
    if value not in (None, "jwt", "opaque"):
        raise PolicyError(f"authhygiene: token_format={value!r} is not 'jwt', 'opaque' or None.")
    return value


def _int_in(name: str, low: int, high: int, text: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise PolicyError(f"authhygiene: {name} must be {text}.")
        return value

    return check


def _log_level(value: object) -> str:
    level = str(value).lower()
    if level not in _LOG_LEVELS:
        raise PolicyError(
            f"authhygiene: log_level={value!r} is not one of {', '.join(_LOG_LEVELS)}."
        )
    return level


def _metrics(value: object) -> object:
    if value not in (None, True, False):
        raise PolicyError(
            "authhygiene: metrics must be True (require prometheus-client), False (off) or"
            " None (on when prometheus-client is installed)."
        )
    return value


def _realm(value: object) -> str:
    # RFC 9110 §11.5: realm is a quoted-string; we additionally keep it to
    # printable ASCII so it is the same on every client.
    if not isinstance(value, str) or not value or len(value) > 128:
        raise PolicyError(
            "authhygiene: realm must be a non-empty string of at most 128 characters."
        )
    if any(not " " <= ch <= "~" for ch in value):
        raise PolicyError(
            f"authhygiene: realm={value!r} contains control or non-ASCII characters;"
            " use printable ASCII only (it is sent in the WWW-Authenticate header)."
        )
    return value


def _schemes(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Iterable):
        raise PolicyError("authhygiene: schemes must be a sequence such as ('Bearer',).")
    schemes: list[str] = []
    for item in value:
        if not isinstance(item, str) or TCHAR_RE.fullmatch(item) is None:
            raise PolicyError(
                f"authhygiene: scheme {item!r} is not an HTTP auth-scheme token"
                " (RFC 9110 §11.1), e.g. 'Bearer' or 'Basic'."
            )
        scheme = canonical_scheme(item)
        if scheme in schemes:
            raise PolicyError(f"authhygiene: scheme {scheme!r} is listed twice in schemes.")
        schemes.append(scheme)
    if not schemes:
        raise PolicyError(
            "authhygiene: schemes is empty; every 401 needs a challenge (RFC 9110 §15.5.2),"
            " so name at least one scheme, e.g. schemes=('Bearer',)."
        )
    return tuple(schemes)


def _problem_type_base(value: object) -> str:
    if value == "about:blank":
        raise PolicyError(
            "authhygiene: problem_type_base='about:blank' would require each title to be the"
            " HTTP status phrase (RFC 9457 §4.2.1); give a base URI such as"
            " 'https://docs.example.com/errors/' instead."
        )
    return _header_uri("problem_type_base", value, web=False)


def _header_uri(option: str, value: object, *, web: bool) -> str:
    if not isinstance(value, str) or not value or len(value) > 512:
        raise PolicyError(f"authhygiene: {option} must be a non-empty URI string.")
    scheme = value.split(":", 1)[0] if ":" in value else ""
    if _URI_SCHEME_RE.fullmatch(scheme) is None or _HEADER_URI_RE.fullmatch(value) is None:
        raise PolicyError(
            f"authhygiene: {option}={value!r} is not an absolute URI without spaces,"
            " quotes or backslashes."
        )
    if web:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise PolicyError(
                f"authhygiene: {option}={value!r} must be an absolute https:// URL (RFC 9728 §3)."
            )
    return value


def _algorithms(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise PolicyError("authhygiene: algorithms must be a sequence such as ('RS256',).")
    names = tuple(str(item) for item in cast(Iterable[object], value))
    if not names:
        raise PolicyError("authhygiene: algorithms is empty; name the JWS algorithms you verify.")
    if any(name.lower() == "none" for name in names):
        raise PolicyError(
            "authhygiene: algorithms lists 'none'; unsigned tokens must never be accepted"
            " (RFC 8725 §3.1). Remove it."
        )
    return names


def _header_name(option: str, value: object) -> str:
    if not isinstance(value, str) or TCHAR_RE.fullmatch(value) is None:
        raise PolicyError(f"authhygiene: {option}={value!r} is not a valid header name.")
    return value.lower()


def _names(option: str, value: object, *, lower: bool) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise PolicyError(f"authhygiene: {option} must be a sequence of names, e.g. ('name',).")
    names = []
    for item in cast(Iterable[object], value):
        if not isinstance(item, str) or TCHAR_RE.fullmatch(item) is None:
            raise PolicyError(f"authhygiene: {option} contains {item!r}, which is not a token.")
        names.append(item.lower() if lower else item)
    return tuple(names)


def _log_claims(value: object) -> tuple[str, ...]:
    names = _names("log_claims", value, lower=False)
    for name in names:
        if name in _RESERVED_CLAIMS or _CLAIM_NAME_RE.fullmatch(name) is None:
            raise PolicyError(
                f"authhygiene: log_claims cannot name {name!r}: it is already logged or is not"
                " a claim name. Name extra JWT claims such as 'sub', 'jti' or 'client_id'."
            )
    return names


def _log_omit(value: object) -> frozenset[str]:
    names = _names("log_omit", value, lower=False)
    for name in names:
        if name not in LOG_FIELDS_OMITTABLE:
            raise PolicyError(
                f"authhygiene: log_omit cannot leave out {name!r}; fields that can be left out:"
                f" {', '.join(sorted(LOG_FIELDS_OMITTABLE))}."
            )
    return frozenset(names)


FINGERPRINT_KEY_ENV = "AUTHHYGIENE_FINGERPRINT_KEY"


def _default_key() -> bytes:
    """The environment's key, so that every worker of a deployment gives one
    token one fingerprint; else a random key, good for this process only."""
    configured = os.environ.get(FINGERPRINT_KEY_ENV)
    if configured:
        try:
            return _key(configured)
        except PolicyError:
            raise PolicyError(
                f"authhygiene: {FINGERPRINT_KEY_ENV} must hold at least 16 bytes of secret,"
                ' e.g. the output of `python -c "import secrets; print(secrets.token_hex(32))"`.'
            ) from None
    return os.urandom(32)


def _key(value: object) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes) or len(value) < 16:
        raise PolicyError(
            "authhygiene: fingerprint_key must be at least 16 bytes of secret; share it across"
            " workers so one token gets one fingerprint (e.g. from an environment variable)."
        )
    return value


# Each option's check, in the order errors are reported: it raises a
# PolicyError that says what to change, or returns the value normalised.
_CHECKS: dict[str, Callable[[Any], object]] = {
    "realm": _realm,
    "schemes": _schemes,
    "explain": _explain,
    "problem_type_base": _problem_type_base,
    "report_only": _flag("report_only"),
    "compat_403": _flag("compat_403"),
    "resource_metadata": _unless_none(lambda v: _header_uri("resource_metadata", v, web=True)),
    "protected_resource": _unless_none(ProtectedResource.from_option),
    "profile": _profile_name,
    "request_id_header": _unless_none(lambda v: _header_name("request_id_header", v)),
    "api_key_headers": lambda v: _names("api_key_headers", v, lower=True),
    "session_cookies": lambda v: _names("session_cookies", v, lower=False),
    "algorithms": _unless_none(_algorithms),
    "token_format": _token_format,
    "verify": _unless_none(_verify),
    "mode": _mode,
    "require": _require,
    "throttle": _unless_none(lambda v: _throttle(v)),
    "clock_skew_window": _int_in(
        "clock_skew_window", 0, 3600, "a number of seconds from 0 to 3600"
    ),
    "max_body_bytes": _int_in("max_body_bytes", 1024, 1 << 20, "an int from 1024 to 1048576"),
    "log_level": _log_level,
    "cors": _unless_none(CORS.from_mapping),
    "trusted_proxies": trusted_proxies,
    "log_claims": _log_claims,
    "log_omit": _log_omit,
    "log_limit": log_limit,
    "metrics": _metrics,
    "fingerprint_key": _key,
}
