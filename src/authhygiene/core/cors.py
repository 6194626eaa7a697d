"""CORS for auth failures: answer preflights, make failures readable by page code.

Why this lives beside the auth core: the most common way a correct 401 still
breaks a browser app is CORS. A preflight (which never carries credentials)
sent through the app's auth is answered 401 and the real request never
leaves the browser; a 401 or 500 without `Access-Control-Allow-Origin` reaches
the page as an opaque "CORS error"; a challenge the page cannot read because
`WWW-Authenticate` was not exposed (it is not CORS-safelisted, Fetch §3.2.3).

Two modes, both decided here and applied by the adapters:

- `CORS(...)` passed as ``cors=``: authhygiene is the app's CORS layer. It
  answers preflights itself, before the app and its auth run (R20), and puts
  the exact origin, credentials and `Vary: Origin` on every response to an
  allowed origin (R19), failures and 5xx included, exposing
  `WWW-Authenticate` on failures (R21).
- no ``cors=``: the app's own CORS layer (Starlette's CORSMiddleware,
  django-cors-headers, flask-cors) decides; on failure responses we only add
  our headers to the exposed list, never replace the app's.

Request input is untrusted: an origin is reflected only when it is one
well-formed, lowercase, bounded serialisation (`origins.request_origin`)
that the policy allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, cast

from authhygiene.core.option_error import PolicyError, refuse_unknown
from authhygiene.core.origin_patterns import check_pattern
from authhygiene.core.origins import MAX_ORIGIN, normalise_origin, request_origin
from authhygiene.core.paths import at_or_under
from authhygiene.core.redact import remember

__all__ = [
    "CORS",
    "FAILURE_EXPOSED",
    "TOUCHED",
    "CorsLayer",
    "apply_cors",
    "expose_on_failure",
    "headers_from_layer",
    "preflight_answer",
    "request_origin",
]


DEFAULT_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# Headers of a failure that page code needs and that are not CORS-safelisted.
FAILURE_EXPOSED = ("WWW-Authenticate", "Retry-After")
_MAX_REQUESTED_HEADERS = 2048
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _strings(option: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise PolicyError(
            f"authhygiene: CORS {option} must be a list of strings, e.g. {option}=[...];"
            f" got {value!r}."
        )
    items = tuple(cast(Iterable[object], value))
    for item in items:
        if not isinstance(item, str):
            raise PolicyError(
                f"authhygiene: CORS {option} contains {item!r}; give every entry as a string,"
                f" e.g. {option}=['...']."
            )
    return cast(tuple[str, ...], items)


def _tokens(option: str, values: tuple[str, ...]) -> tuple[str, ...]:
    for item in values:
        if item != "*" and _TOKEN_RE.fullmatch(item) is None:
            raise PolicyError(
                f"authhygiene: CORS {option} contains {item!r}, which is not an HTTP token;"
                " give bare names such as 'X-Request-Id' or 'PATCH', one per entry, without"
                " commas or spaces."
            )
    return values


def _merge_names(*groups: Iterable[str]) -> list[str]:
    """Comma-list items in first-seen order, deduplicated case-insensitively."""
    seen: dict[str, str] = {}
    for group in groups:
        for value in group:
            for item in value.split(","):
                item = item.strip()
                if item and item.lower() not in seen:
                    seen[item.lower()] = item
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class CORS:
    """authhygiene as the app's CORS layer: ``cors=CORS(allow_origins=[...])``.

    Validated and normalised here, at construction, so a policy that would let
    any site read credentialed responses never starts.
    """

    allow_origins: Sequence[str] = ()
    allow_origin_regex: str | None = None
    allow_credentials: bool = True
    allow_methods: Sequence[str] = DEFAULT_METHODS
    # "*" answers a preflight with the headers it asked for (a literal `*`
    # is not a wildcard for credentialed requests, Fetch §3.2.3).
    allow_headers: Sequence[str] = ("*",)
    expose_headers: Sequence[str] = ()
    max_age: int = 600
    _origins: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)
    _any: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        if not isinstance(self.allow_credentials, bool):
            raise PolicyError("authhygiene: CORS allow_credentials must be True or False.")
        origins = tuple(normalise_origin(o) for o in _strings("allow_origins", self.allow_origins))
        any_origin = "*" in origins
        if any_origin and self.allow_credentials:
            raise PolicyError(
                "authhygiene: CORS allow_origins=['*'] with allow_credentials=True would let any"
                " website read your users' authenticated responses, and browsers refuse `*` with"
                " credentials anyway (Fetch). List the exact origins of your front ends, e.g."
                " allow_origins=['https://app.example.com'], or set allow_credentials=False."
            )
        regex = None
        if self.allow_origin_regex is not None:
            if not isinstance(self.allow_origin_regex, str) or not self.allow_origin_regex:
                raise PolicyError(
                    "authhygiene: CORS allow_origin_regex must be a non-empty string."
                )
            try:
                regex = re.compile(self.allow_origin_regex)
            except (re.error, OverflowError, RecursionError) as exc:
                raise PolicyError(
                    f"authhygiene: CORS allow_origin_regex={self.allow_origin_regex!r} does not"
                    f" compile: {exc}."
                ) from exc
            check_pattern(self.allow_origin_regex, regex, credentials=self.allow_credentials)
        if not origins and regex is None:
            raise PolicyError(
                "authhygiene: CORS needs allow_origins (exact origins such as"
                " 'https://app.example.com') or allow_origin_regex."
            )
        methods = _tokens("allow_methods", _strings("allow_methods", self.allow_methods))
        if not methods:
            raise PolicyError("authhygiene: CORS allow_methods is empty; name at least 'GET'.")
        headers = _tokens("allow_headers", _strings("allow_headers", self.allow_headers))
        if "*" not in headers:
            # Fetch: `*` never covers Authorization, and this is what we are for.
            headers = tuple(_merge_names(("Authorization",), headers))
        exposed = _tokens("expose_headers", _strings("expose_headers", self.expose_headers))
        if "*" in exposed and self.allow_credentials:
            raise PolicyError(
                "authhygiene: CORS expose_headers=['*'] exposes nothing to credentialed requests"
                " (Fetch: `*` is a header name there). List the headers, e.g."
                " expose_headers=['X-Request-Id']; WWW-Authenticate and Retry-After are exposed"
                " on failures already."
            )
        max_age = self.max_age
        if not isinstance(max_age, int) or isinstance(max_age, bool) or not 0 <= max_age <= 86400:
            raise PolicyError(
                "authhygiene: CORS max_age must be seconds from 0 to 86400 (Chromium caps it at"
                " 7200)."
            )
        set_ = object.__setattr__
        set_(self, "allow_origins", origins)
        set_(self, "allow_methods", tuple(m.upper() if m != "*" else m for m in methods))
        set_(self, "allow_headers", headers)
        set_(self, "expose_headers", exposed)
        set_(self, "_origins", frozenset(o for o in origins if o != "*"))
        set_(self, "_regex", regex)
        set_(self, "_any", any_origin)

    @classmethod
    def from_mapping(cls, options: Any) -> CORS:
        """A CORS from a Django settings dict (``AUTHHYGIENE["cors"]``)."""
        if isinstance(options, CORS):
            return options
        if not isinstance(options, dict):
            raise PolicyError(
                "authhygiene: cors must be authhygiene.CORS(...) or a dict of its options,"
                f" e.g. {{'allow_origins': ['https://app.example.com']}}; got {options!r}."
            )
        refuse_unknown(options, (f.name for f in fields(cls) if f.init), "CORS ")
        return cls(**options)

    def allows(self, origin: str) -> bool:
        """Whether `origin` (already a valid serialisation) may read responses."""
        if self._any or origin in self._origins:
            return True
        return self._regex is not None and self._regex.fullmatch(origin) is not None

    def allow_origin_value(self, origin: str) -> str:
        """`*` only when any origin is allowed without credentials (R19)."""
        return "*" if self._any and not self.allow_credentials else origin


_VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def _requested_headers(value: str | None) -> list[str]:
    if not value or len(value) > _MAX_REQUESTED_HEADERS:
        return []
    names = [item.strip() for item in value.split(",") if item.strip()]
    if any(_TOKEN_RE.fullmatch(name) is None for name in names):
        return []
    return _merge_names(names)


def preflight_answer(
    cors: CORS,
    origin_values: Sequence[str],
    request_method: str,
    request_headers: str | None,
    *,
    problem_type_base: str,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The whole answer to a preflight: status, headers, body.

    An allowed origin gets 204 with what the policy allows, even when the
    requested method or headers are not among them: the browser then names
    the missing method or header in its console, which is what the page's
    developer needs to read. A disallowed origin gets a 403 without any CORS
    header, so the browser refuses, and a curl user reads why."""
    origin = request_origin(origin_values)
    if origin is None or not cors.allows(origin):
        body = json.dumps(
            {
                "type": problem_type_base + "origin-not-allowed",
                "title": "Cross-origin request not allowed",
                "status": 403,
                "detail": "This API does not accept browser requests from this origin.",
                "reason": "origin_not_allowed",
                "hint": "Call the API from an origin its CORS policy allows, or ask its"
                " operators to add yours.",
            },
            separators=(",", ":"),
        ).encode()
        return (
            403,
            [
                ("content-type", "application/problem+json"),
                ("content-length", str(len(body))),
                ("cache-control", "no-store"),
                ("vary", _VARY_PREFLIGHT),
            ],
            body,
        )
    headers = [("access-control-allow-origin", cors.allow_origin_value(origin))]
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    if "*" in cors.allow_methods:
        method = request_method.strip()
        methods = [method] if _TOKEN_RE.fullmatch(method) else []
    else:
        methods = list(cors.allow_methods)
    if methods:
        headers.append(("access-control-allow-methods", ", ".join(methods)))
    if "*" in cors.allow_headers:
        allowed = _merge_names(("Authorization",), _requested_headers(request_headers))
    else:
        allowed = list(cors.allow_headers)
    headers.append(("access-control-allow-headers", ", ".join(allowed)))
    headers.append(("access-control-max-age", str(cors.max_age)))
    headers.append(("vary", _VARY_PREFLIGHT))
    return 204, headers, b""


_CORS_SET = frozenset({"access-control-allow-origin", "access-control-allow-credentials"})


def apply_cors(
    cors: CORS,
    origin: str | None,
    headers: Sequence[tuple[str, str]],
    *,
    failure: bool,
    also_exposed: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """The response's headers with our CORS headers set; the app's other
    headers keep their names, ours are lowercase. Idempotent, so applying it
    twice changes nothing.

    `Vary: Origin` goes on every response, with or without an Origin, so a
    cache never hands one origin's answer to another (Fetch §3.2.5 example).
    The app's Expose-Headers list is kept and extended, never replaced."""
    allowed = origin is not None and cors.allows(origin)
    out: list[tuple[str, str]] = []
    vary: list[str] = []
    exposed: list[str] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "vary":
            vary.append(value)
        elif lowered == "access-control-expose-headers":
            exposed.append(value)
        elif lowered not in _CORS_SET:
            out.append((name, value))
    merged_vary = _merge_names(vary, ("Origin",))
    out.append(("vary", "*" if "*" in merged_vary else ", ".join(merged_vary)))
    if not allowed:
        if exposed:
            out.append(("access-control-expose-headers", ", ".join(_merge_names(exposed))))
        return out
    assert origin is not None
    out.append(("access-control-allow-origin", cors.allow_origin_value(origin)))
    if cors.allow_credentials:
        out.append(("access-control-allow-credentials", "true"))
    names = _merge_names(
        exposed, cors.expose_headers, FAILURE_EXPOSED if failure else (), also_exposed
    )
    if names:
        out.append(("access-control-expose-headers", ", ".join(names)))
    return out


def expose_on_failure(
    headers: Sequence[tuple[str, str]], also_exposed: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """Without ``cors=``: the app's CORS layer decides who may read; we only
    add our failure headers to the list it exposes, never replacing it."""
    out = [(name, value) for name, value in headers if name != "access-control-expose-headers"]
    exposed = [value for name, value in headers if name == "access-control-expose-headers"]
    out.append(
        (
            "access-control-expose-headers",
            ", ".join(_merge_names(exposed, FAILURE_EXPOSED, also_exposed)),
        )
    )
    return out


def headers_from_layer(origin: str, answer: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """What of the app's own CORS layer's headers may go on a failure we
    answered ourselves: its allow-origin only when it names this exact origin
    (or `*`), its credentials flag, and its exposed header names (tokens
    only). Nothing at all when it did not allow this origin."""
    allow = [value.strip() for name, value in answer if name == "access-control-allow-origin"]
    if len(allow) != 1 or allow[0] not in (origin, "*"):
        return []
    out = [("access-control-allow-origin", allow[0])]
    credentials = [v.strip() for n, v in answer if n == "access-control-allow-credentials"]
    if credentials == ["true"]:
        out.append(("access-control-allow-credentials", "true"))
    exposed = [
        name
        for name in _merge_names(v for n, v in answer if n == "access-control-expose-headers")
        if _TOKEN_RE.fullmatch(name)
    ]
    if exposed:
        out.append(("access-control-expose-headers", ", ".join(exposed)))
    return out


_ENCODED_MAX = 1024
# Response headers the CORS step merges with or replaces.
TOUCHED = frozenset(
    {
        "vary",
        "access-control-expose-headers",
        "access-control-allow-origin",
        "access-control-allow-credentials",
    }
)


@dataclass(frozen=True, slots=True)
class CorsLayer:
    """What the adapters need from a configured CORS policy, built once.

    `headers` runs on every response, so the common case (the app sent no
    Vary or CORS header of its own) appends precomputed values; anything
    else goes through the general `apply_cors`, which gives the same result.
    """

    cors: CORS
    problem_type_base: str
    also_exposed: tuple[str, ...] = ()
    # Path prefixes the layer leaves alone (`leaves`): what answers with its
    # own CORS (the RFC 9728 metadata document, open to any origin without
    # credentials).
    passes: tuple[str, ...] = ()
    _tails: dict[bool, tuple[tuple[str, str], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _encoded: dict[tuple[str | None, bool], tuple[tuple[bytes, bytes], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _preflights: dict[
        tuple[tuple[str, ...], str, str | None],
        tuple[int, tuple[tuple[str, str], ...], bytes, tuple[tuple[bytes, bytes], ...]],
    ] = field(init=False, repr=False, compare=False, default_factory=dict)
    _origins: dict[str, str | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _merged_tails: dict[
        tuple[str | None, bool, tuple[tuple[str, str], ...]], tuple[tuple[str, str], ...]
    ] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        for failure in (False, True):
            tail: list[tuple[str, str]] = []
            if self.cors.allow_credentials:
                tail.append(("access-control-allow-credentials", "true"))
            names = _merge_names(
                self.cors.expose_headers, FAILURE_EXPOSED if failure else (), self.also_exposed
            )
            if names:
                tail.append(("access-control-expose-headers", ", ".join(names)))
            self._tails[failure] = tuple(tail)

    def preflight(
        self, origin_values: Sequence[str], request_method: str, request_headers: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        status, headers, body, _ = self._preflight(origin_values, request_method, request_headers)
        return status, list(headers), body

    def preflight_encoded(
        self, origin_values: Sequence[str], request_method: str, request_headers: str | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """`preflight`, its headers latin-1 encoded for a byte-level protocol."""
        status, _, body, encoded = self._preflight(origin_values, request_method, request_headers)
        return status, list(encoded), body

    def _preflight(
        self, origin_values: Sequence[str], request_method: str, request_headers: str | None
    ) -> tuple[int, tuple[tuple[str, str], ...], bytes, tuple[tuple[bytes, bytes], ...]]:
        """`preflight_answer`, cached: a page sends the same preflight for
        every call to one endpoint (bounded, and only for short requests)."""
        key = (tuple(origin_values), request_method, request_headers)
        known = self._preflights.get(key)
        if known is not None:
            return known
        status, headers, body = preflight_answer(
            self.cors,
            origin_values,
            request_method,
            request_headers,
            problem_type_base=self.problem_type_base,
        )
        answer = (
            status,
            tuple(headers),
            body,
            tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers),
        )
        remember(
            self._preflights,
            key,
            answer,
            len(repr(key)),
            max_chars=_ENCODED_MAX,
            entries=_ENCODED_MAX,
        )
        return answer

    def leaves(self, path: str) -> bool:
        """Whether `path` is at or under one of the prefixes left alone."""
        # One C-level test first: most paths start with no such prefix.
        return path.startswith(self.passes) and any(
            at_or_under(path, prefix) for prefix in self.passes
        )

    def origin(self, values: Sequence[str]) -> str | None:
        """`request_origin(values)`, cached for a single value: a page sends
        its one Origin on every call (bounded)."""
        if len(values) != 1:
            return request_origin(values)
        text = values[0]
        origins = self._origins
        if text in origins:
            return origins[text]
        origin = request_origin(values)
        # A longer text is no origin, found so without any work: not kept.
        remember(origins, text, origin, len(text), max_chars=MAX_ORIGIN, entries=_ENCODED_MAX)
        return origin

    def headers(
        self, origin: str | None, headers: Sequence[tuple[str, str]], status: int
    ) -> list[tuple[str, str]]:
        """The response's headers with ours set; names keep the app's case."""
        for name, _ in headers:
            if name.lower() in TOUCHED:
                return self._merged(origin, headers, status >= 400)
        return [*headers, *self.added(origin, status)]

    def _merged(
        self, origin: str | None, headers: Sequence[tuple[str, str]], failure: bool
    ) -> list[tuple[str, str]]:
        """`apply_cors` for a response with Vary or CORS headers of its own
        (every failure response has a Vary): the untouched headers as they
        are, then the merged tail, which follows from the touched headers'
        values alone and is cached by them."""
        out: list[tuple[str, str]] = []
        touched: list[tuple[str, str]] = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == "vary" or lowered == "access-control-expose-headers":
                touched.append((lowered, value))
            elif lowered not in _CORS_SET:
                out.append((name, value))
        key = (origin, failure, tuple(touched))
        tail = self._merged_tails.get(key)
        if tail is None:
            tail = tuple(
                apply_cors(
                    self.cors, origin, touched, failure=failure, also_exposed=self.also_exposed
                )
            )
            # The app's own Vary values are in the key: bounded in bytes too.
            size = len(origin or "") + sum(len(value) for _, value in touched)
            remember(
                self._merged_tails, key, tail, size, max_chars=_ENCODED_MAX, entries=_ENCODED_MAX
            )
        out += tail
        return out

    def added_encoded(self, origin: str | None, status: int) -> tuple[tuple[bytes, bytes], ...]:
        """`added`, latin-1 encoded for a byte-level protocol (ASGI), cached:
        a few allowed origins in practice, bounded all the same since an
        allow_origin_regex admits any number."""
        key = (origin, status >= 400)
        encoded = self._encoded.get(key)
        if encoded is None:
            encoded = tuple(
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in self.added(origin, status)
            )
            if len(self._encoded) >= _ENCODED_MAX:
                self._encoded.clear()
            self._encoded[key] = encoded
        return encoded

    def added(self, origin: str | None, status: int) -> list[tuple[str, str]]:
        """What to append to a response that has none of the `TOUCHED`
        headers: the whole cost of the step on most responses."""
        if origin is None or not self.cors.allows(origin):
            return [("vary", "Origin")]
        return [
            ("vary", "Origin"),
            ("access-control-allow-origin", self.cors.allow_origin_value(origin)),
            *self._tails[status >= 400],
        ]
