"""What the request presented, read without trusting any of it.

The adapters hand us the raw request headers and query string only when the
app has already refused the request, so nothing here runs on the success
path. Every input is size-bounded before it is looked at; the token itself
is kept only to fingerprint it and to peek at JWT claims, and is excluded
from `repr` so it cannot reach a log or an exception message by accident.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl

__all__ = [
    "Credentials",
    "Misuse",
    "RequestView",
    "canonical_scheme",
    "credential_material",
    "fingerprint",
    "material_plan",
    "parse_credentials",
    "query_material",
]

# Bounds on untrusted input. A header longer than this is still "presented"
# but is not examined further.
MAX_HEADER_CHARS = 16 * 1024
MAX_QUERY_CHARS = 8 * 1024
MAX_QUERY_FIELDS = 256

# RFC 9110 §5.6.2: token = 1*tchar.
TCHAR_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

# RFC 9110 §11.2: schemes are case-insensitive; we emit the canonical case (R4).
_CANONICAL_SCHEMES = {
    "bearer": "Bearer",
    "basic": "Basic",
    "dpop": "DPoP",
    "digest": "Digest",
    "negotiate": "Negotiate",
    "token": "Token",
    "jwt": "JWT",
    "apikey": "ApiKey",
    "hoba": "HOBA",
    "mutual": "Mutual",
}
# Schemes whose credential is a single b64token (RFC 6750 §2.1, RFC 9449 §7.1).
TOKEN_SCHEMES = frozenset({"Bearer", "DPoP"})

# RFC 6750 §2.3 names `access_token`; the others are what clients commonly use.
QUERY_TOKEN_PARAMS = ("access_token", "token", "api_key")
DEFAULT_API_KEY_HEADERS = ("x-api-key", "api-key", "x-auth-token")
# Django, Flask and Starlette sessions; Flask-JWT-Extended's default JWT cookie.
DEFAULT_SESSION_COOKIES = ("sessionid", "session", "access_token_cookie")

# Header names clients put API keys and tokens in, right or wrong.
_KEYISH_HEADER_RE = re.compile(
    r"(x-)?(api[-_]?key|apikey|api[-_]?token|auth[-_]?token|access[-_]?token|token|key)"
)
_JOINED_HEADERS_RE = re.compile(r",\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]+\S")


# Header names already judged by `_KEYISH_HEADER_RE`: a client sends the same
# few dozen names on every request. Bounded (cleared when full).
_KEYISH: dict[str, bool] = {}
_KEYISH_ENTRIES = 1024


def _keyish(name: str) -> bool:
    known = _KEYISH.get(name)
    if known is None:
        known = _KEYISH_HEADER_RE.fullmatch(name) is not None
        if len(_KEYISH) >= _KEYISH_ENTRIES:
            _KEYISH.clear()
        _KEYISH[name] = known
    return known


class Misuse(StrEnum):
    """A way the credentials are malformed (RFC 6750 §3.1 `invalid_request`)."""

    EMPTY_TOKEN = "empty_token"
    MULTIPLE_AUTHORIZATION_HEADERS = "multiple_authorization_headers"
    TOKEN_IN_HEADER_AND_QUERY = "token_in_header_and_query"
    DOUBLED_SCHEME = "doubled_scheme"
    QUOTED_TOKEN = "quoted_token"
    WHITESPACE_IN_TOKEN = "whitespace_in_token"
    INVALID_CHARACTERS = "invalid_characters"
    OVERSIZED = "oversized"
    BASIC_NOT_BASE64 = "basic_not_base64"


@dataclass(frozen=True, slots=True)
class RequestView:
    """The few request facts the core needs, decoded once by an adapter.

    Header names are lower-case; values are latin-1 decoded as received
    (RFC 9110 §5.5: field values are octets, we never interpret them as text
    beyond ASCII).
    """

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    client: str | None = None
    # Each name's first value, built on the first `get`: a refusal asks for
    # half a dozen headers, each a scan of the tuple otherwise.
    _first: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def get(self, name: str) -> str | None:
        first = self._first
        if first is None:
            # Reversed, so that the first field of a repeated name is the one kept.
            first = dict(reversed(self.headers))
            object.__setattr__(self, "_first", first)
        return first.get(name)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the request carried. `token` is secret: never log, echo or store it."""

    scheme: str | None = None
    token: str | None = field(default=None, repr=False)
    source: str | None = None
    misuse: tuple[Misuse, ...] = ()
    api_key_header: str | None = None
    session_cookie: str | None = None
    # A header that looks like it carries an API key but is not one the
    # policy reads (e.g. "Api-Token" where the API reads "X-API-Key").
    stray_key_header: str | None = None
    # Every secret-bearing value the request carried (token, decoded Basic
    # password, API key, cookie values): scrubbed from anything we echo.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def secret(self) -> str | None:
        """The one credential the request is identified by, for fingerprints."""
        return self.token or (self.secrets[0] if self.secrets else None)

    @property
    def presented(self) -> bool:
        """True when the request carried anything that could be a credential."""
        return (
            self.scheme is not None
            or self.source is not None
            or self.api_key_header is not None
            or self.session_cookie is not None
        )


def canonical_scheme(word: str) -> str:
    """RFC 9110 §11.1: compare schemes case-insensitively, emit one spelling."""
    return _CANONICAL_SCHEMES.get(word.lower(), word)


def _scheme_word(value: str) -> str:
    """The scheme word as sent, or '?' when it is not an RFC 9110 token."""
    word = value.split(None, 1)[0] if value.strip() else ""
    if not word or len(word) > 40 or TCHAR_RE.fullmatch(word) is None:
        return "?"
    return canonical_scheme(word)


def _token_misuse(scheme: str, rest: str) -> tuple[str | None, tuple[Misuse, ...]]:
    """Split a token scheme's credential and say what is wrong with it."""
    rest = rest.strip(" \t")
    if not rest:
        return None, (Misuse.EMPTY_TOKEN,)
    first, _, remainder = rest.partition(" ")
    if first.lower() == scheme.lower() and remainder.strip():
        return remainder.strip(), (Misuse.DOUBLED_SCHEME,)
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":
        return rest[1:-1], (Misuse.QUOTED_TOKEN,)
    if any(ch in rest for ch in " \t\r\n"):
        return rest, (Misuse.WHITESPACE_IN_TOKEN,)
    if B64TOKEN_RE.fullmatch(rest) is None:
        return rest, (Misuse.INVALID_CHARACTERS,)
    return rest, ()


def _query_token(query: str) -> str | None:
    if not query or len(query) > MAX_QUERY_CHARS:
        return None
    if "token" not in query and "api_key" not in query and "%" not in query:
        return None  # no parameter is named so, even percent-decoded
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return None
    for key, value in pairs:
        if key in QUERY_TOKEN_PARAMS:
            return value
    return None


def _cookies(headers: Iterable[str]) -> Iterable[tuple[str, str]]:
    for header in headers:
        for part in header[:MAX_HEADER_CHARS].split(";"):
            name, sep, value = part.partition("=")
            if sep:
                yield name.strip(), value.strip()


def _basic_password(token: str | None) -> str | None:
    """RFC 7617 §2: base64(user-id ":" password). The password (a secret),
    "" when it is empty, None when the credentials are not of that form."""
    if not token or len(token) > 4096:
        return None
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon else None


def credential_material(view: RequestView, api_key_headers: tuple[str, ...]) -> list[str]:
    """Everything `parse_credentials` reads of a request, in order: the
    Authorization, Cookie, API-key and key-like header fields, and the query
    string when a parameter there may carry a token. Requests with equal
    material have equal `Credentials` (for one policy)."""
    material: list[str] = []
    keyish = _KEYISH
    for name, value in view.headers:
        known = keyish.get(name)
        if known is None:
            known = _keyish(name)
        if known or name in api_key_headers or name == "authorization" or name == "cookie":
            material += (name, value)
    query = view.query
    material.append(
        query if query and ("token" in query or "api_key" in query or "%" in query) else ""
    )
    return material


def material_plan(names: Sequence[str], api_key_headers: tuple[str, ...]) -> tuple[int, ...] | None:
    """Which of a request's header fields (`names`, lower-case, in order)
    `parse_credentials` reads, by position: an adapter reads just those to
    tell one request's credentials from another's. None when the fields'
    order could change what it reads (a repeated name, or two key-like
    names, of which the first with a value counts)."""
    if len(set(names)) != len(names):
        return None
    picked: list[int] = []
    keyish = 0
    for index, name in enumerate(names):
        if name == "authorization" or name == "cookie" or name in api_key_headers:
            picked.append(index)
        elif _keyish(name):
            keyish += 1
            picked.append(index)
    return None if keyish > 1 else tuple(picked)


def query_material(query: str) -> str:
    """The query string when `parse_credentials` may find a token in it."""
    return query if query and ("token" in query or "api_key" in query or "%" in query) else ""


def parse_credentials(
    view: RequestView,
    *,
    api_key_headers: tuple[str, ...] = DEFAULT_API_KEY_HEADERS,
    session_cookies: tuple[str, ...] = DEFAULT_SESSION_COOKIES,
) -> Credentials:
    """Read the Authorization header(s), the query token, API-key headers and
    session cookies into one `Credentials` view."""
    # One pass over the headers: every lookup below would be another.
    values: list[str] = []
    cookie_headers: list[str] = []
    key_headers: dict[str, str] = {}
    stray: tuple[str, str] | None = None
    for name, value in view.headers:
        if name == "authorization":
            values.append(value)
        elif name == "cookie":
            cookie_headers.append(value)
        elif name in api_key_headers:
            key_headers.setdefault(name, value)  # the first field of that name
        elif stray is None and value and _keyish(name):
            stray = (name, value)
    query_token = _query_token(view.query)
    api_key = next(
        ((name, key_headers[name]) for name in api_key_headers if key_headers.get(name)), None
    )
    cookies = list(_cookies(cookie_headers))
    session = next(((name, value) for name, value in cookies if name in session_cookies), None)
    extra: list[str] = []
    if api_key is not None:
        extra.append(str(api_key[1]))
    if session is not None:
        extra.append(session[1])
    # Any cookie may be a secret; one- to three-letter values ("en") are not.
    extra.extend(value for _, value in cookies if len(value) >= 4)
    api_key_header = api_key[0] if api_key else None
    session_cookie = session[0] if session else None
    if stray is not None:
        extra.append(stray[1])

    def credentials(
        scheme: str | None, token: str | None, source: str | None, misuse: tuple[Misuse, ...]
    ) -> Credentials:
        secrets = [token] if token else []
        if scheme == "Basic":
            password = _basic_password(token)
            if password:
                secrets.append(password)
        if query_token and query_token != token:
            secrets.append(query_token)
        secrets.extend(extra)
        if source is None and api_key_header is not None:
            source = "api_key_header"
        elif source is None and session_cookie is not None:
            source = "cookie"
        return Credentials(
            scheme,
            token,
            source,
            misuse,
            api_key_header,
            session_cookie,
            stray[0] if stray else None,
            tuple(secrets),
        )

    if not values:
        if query_token is not None:
            # No scheme: a query parameter names none (the app may read it as
            # a bearer token or an API key, or not at all).
            return credentials(
                None, query_token, "query", (Misuse.EMPTY_TOKEN,) if not query_token else ()
            )
        return credentials(None, None, None, ())

    value = values[0]
    misuse: list[Misuse] = []
    # RFC 9110 §5.3: Authorization is a singleton field; some WSGI servers
    # join repeated lines with ", ", which we detect the same way.
    if len(values) > 1 or _JOINED_HEADERS_RE.search(value[:MAX_HEADER_CHARS]):
        misuse.append(Misuse.MULTIPLE_AUTHORIZATION_HEADERS)
    if len(value) > MAX_HEADER_CHARS:
        misuse.append(Misuse.OVERSIZED)
        return credentials(_scheme_word(value[:64]), None, "header", tuple(misuse))
    scheme = _scheme_word(value)
    rest = value.strip(" \t").partition(" ")[2]
    token: str | None
    if scheme in TOKEN_SCHEMES:
        token, token_misuse = _token_misuse(scheme, rest)
        misuse.extend(token_misuse)
    else:
        token = rest.strip(" \t") or None
        if token is None and scheme == "Basic":
            misuse.append(Misuse.EMPTY_TOKEN)
        elif scheme == "Basic" and _basic_password(token) is None:
            misuse.append(Misuse.BASIC_NOT_BASE64)  # RFC 7617 §2
    if query_token is not None and scheme in TOKEN_SCHEMES:
        # RFC 6750 §3.1: a token sent by more than one method is invalid_request.
        misuse.append(Misuse.TOKEN_IN_HEADER_AND_QUERY)
    return credentials(scheme, token, "header", tuple(misuse))


def fingerprint(key: bytes, secret: str) -> str:
    """A keyed, truncated hash: the same token gives the same value within a
    deployment, and the value cannot be reversed or brute-forced from logs
    without the key."""
    return hmac.digest(key, secret.encode("utf-8", "surrogateescape"), "sha256").hex()[:16]
