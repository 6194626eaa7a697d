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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from authhygiene.core.reasons import Problem
from authhygiene.core.redact import high_entropy, remember, secret_name, secret_param
from authhygiene.core.request import Glance, is_preflight

if TYPE_CHECKING:
    from authhygiene.core.policy import Policy

__all__ = [
    "Credentials",
    "Misuse",
    "RequestView",
    "canonical_scheme",
    "credential_material",
    "fingerprint",
    "key_like_user",
    "material_plan",
    "parse_credentials",
    "query_material",
    "query_token",
    "registered_scheme",
]

# Bounds on untrusted input. A header longer than this is still "presented"
# but is not examined further (its whole value is still kept as a secret:
# keeping a reference costs nothing, and a scrubber needs all of it).
MAX_HEADER_CHARS = 16 * 1024
MAX_QUERY_CHARS = 8 * 1024
MAX_QUERY_FIELDS = 256
# Authorization fields examined one by one (more are kept whole as secrets).
MAX_AUTHORIZATION_FIELDS = 16
# Cookie text split into cookies, all Cookie fields together; the rest of a
# longer Cookie is kept whole as one secret.
MAX_COOKIE_CHARS = 64 * 1024
# Secrets kept per request, longest first: each costs every sink a search.
MAX_SECRETS = 1024

# RFC 9110 §5.6.2: token = 1*tchar.
TCHAR_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

# The scheme names we know: the IANA HTTP Authentication Scheme Registry
# (RFC 9110 §16.4) and the custom ones common enough to name. With the
# policy's configured `schemes`, these are the only words an Authorization
# value may start with to be read as a scheme: any other word is a
# credential sent without one (or a scheme nobody told us of), and so a
# secret that is never echoed or logged.
# RFC 9110 §11.1: schemes are case-insensitive; we emit the canonical case (R4).
_CANONICAL_SCHEMES = {
    # IANA registry.
    "basic": "Basic",
    "bearer": "Bearer",
    "concealed": "Concealed",
    "digest": "Digest",
    "dpop": "DPoP",
    "gnap": "GNAP",
    "hoba": "HOBA",
    "mutual": "Mutual",
    "negotiate": "Negotiate",
    "oauth": "OAuth",
    "privatetoken": "PrivateToken",
    "scram-sha-1": "SCRAM-SHA-1",
    "scram-sha-256": "SCRAM-SHA-256",
    "vapid": "vapid",
    # Common outside it: DRF, Flask-JWT-Extended, API gateways, Windows,
    # AWS SigV4, Hawk, MAC tokens, Okta, Discord.
    "token": "Token",
    "jwt": "JWT",
    "apikey": "ApiKey",
    "api-key": "Api-Key",
    "ntlm": "NTLM",
    "aws4-hmac-sha256": "AWS4-HMAC-SHA256",
    "hawk": "Hawk",
    "mac": "MAC",
    "ssws": "SSWS",
    "bot": "Bot",
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
# Where a value repeated fields were joined into splits into them.
_JOINED_SPLIT_RE = re.compile(r",[ \t]*(?=[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]+\S)")


# Header names already judged by `_KEYISH_HEADER_RE`: a client sends the same
# few dozen names on every request. Bounded in entries and, as no key-like
# name is long, in bytes: a longer name is judged every time.
_KEYISH: dict[str, int] = {}
_KEYISH_ENTRIES = 1024
_KEYISH_NAME_CHARS = 64


# What a header name says of its value: a key-like header (a credential a
# client may have put in the wrong header: diagnosed), a header that only
# carries a secret (Proxy-Authorization, Ocp-Apim-Subscription-Key,
# X-Client-Secret: every value is scrubbed from what we send and log, the
# same names the log redaction masks), or neither.
_KEY_LIKE = 1
_SECRET_ONLY = 2
_KEY_VALUE_CHARS = 16
_KEY_SUFFIX_RE = re.compile(r"(?:^|[-_])(?:key|secret|signature)$|(?:csrf|xsrf)token$")


def _header_kind(name: str) -> int:
    known = _KEYISH.get(name)
    if known is None:
        if _KEYISH_HEADER_RE.fullmatch(name) is not None:
            known = _KEY_LIKE
        elif (
            name not in ("authorization", "cookie")
            # RFC 6455 §4.1: a websocket handshake's nonce, no secret.
            and not name.startswith("sec-websocket-")
            and (secret_name(name) or _KEY_SUFFIX_RE.search(name) is not None)
        ):
            known = _SECRET_ONLY
        else:
            known = 0
        remember(
            _KEYISH, name, known, len(name), max_chars=_KEYISH_NAME_CHARS, entries=_KEYISH_ENTRIES
        )
    return known


# A way the credentials are malformed (RFC 6750 §3.1 `invalid_request`):
# the `Problem` kinds about the credentials' own shape, one enum for both.
Misuse = Problem


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
    # The path as the app routes it, where that differs from `path`: a WSGI
    # PATH_INFO is its bytes as ISO-8859-1 text, which Flask and Django read
    # as UTF-8 (`require=` rules match what the app routes).
    route: str | None = None
    # The URL scheme the server received the request with ("http",
    # "https", "ws", "wss"), where the adapter knows it.
    scheme: str | None = None
    # The host[:port] the server says it serves, for a request without a
    # Host field (PEP 3333's SERVER_NAME and SERVER_PORT, ASGI's `server`).
    server: str | None = None
    # The host[:port] as the framework established it (Django's
    # `get_host()`: its ALLOWED_HOSTS and USE_X_FORWARDED_HOST), which then
    # decides instead of the Host and forwarding fields; "" for a host the
    # framework refuses.
    authority: str | None = None
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

    def decoded(self) -> RequestView:
        return self

    def glance(self, policy: Policy) -> Glance:
        """Itself as the refusal memo reads a request (`core.request`)."""
        origins = self.get_all("origin")
        incoming = self.get(policy.request_id_header) if policy.request_id_header else None
        return Glance(
            "v" + repr(credential_material(self, policy.api_key_headers)),
            self.method,
            is_preflight(self.method, self.get("access-control-request-method")),
            incoming,
            (
                self.path,
                self.query,
                self.client or "",
                self.get("user-agent") or "",
                tuple(origins),
            ),
            origins[0] if len(origins) == 1 else None,
        )


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
    # Every secret-bearing value the request carried (every Authorization
    # field's value and token, decoded Basic passwords, every API-key and
    # key-like header's value, cookie values, query tokens), longest first:
    # scrubbed from anything we echo.
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # The Authorization value starts with a word that is no scheme we can
    # name, followed by a credential: "another scheme", never named.
    unnamed_scheme: bool = False
    # What a request without `token` is identified by (an API key, a session).
    primary: str | None = field(default=None, repr=False, compare=False)
    # The value of the API-key header named by `api_key_header` (secret).
    api_key: str | None = field(default=None, repr=False, compare=False)

    def with_secrets(self, *extra: str) -> Credentials:
        """These credentials with more secrets to scrub (in the same order:
        longest first). What the request is identified by stays the same:
        a secret found elsewhere (a request id holding the token) is no new
        identity for the fingerprint."""
        return replace(self, secrets=_ordered([*self.secrets, *extra]), primary=self.secret)

    @property
    def secret(self) -> str | None:
        """The one credential the request is identified by, for fingerprints."""
        return self.token or self.primary or (self.secrets[0] if self.secrets else None)

    @property
    def presented(self) -> bool:
        """True when the request carried anything that could be a credential."""
        return (
            self.scheme is not None
            or self.unnamed_scheme
            or self.source is not None
            or self.api_key_header is not None
            or self.session_cookie is not None
        )


def registered_scheme(word: str) -> bool:
    """Whether `word` is a scheme we know by name (any case): never an echo
    of a credential, whatever else the request carried."""
    return word.lower() in _CANONICAL_SCHEMES


def canonical_scheme(word: str) -> str:
    """RFC 9110 §11.1: compare schemes case-insensitively, emit one spelling."""
    return _CANONICAL_SCHEMES.get(word.lower(), word)


def _split(value: str) -> tuple[str, str]:
    """An Authorization value's first word and what follows it (RFC 9110
    §11.4: `auth-scheme [ 1*SP ( token68 / #auth-param ) ]`)."""
    word, _, rest = value.strip(" \t").partition(" ")
    return word, rest.strip(" \t")


def _known_scheme(word: str, schemes: tuple[str, ...]) -> str | None:
    """The scheme `word` names, in its canonical spelling, when it is one we
    know or the policy configured; None for any other word (a credential)."""
    if not word or len(word) > 40 or TCHAR_RE.fullmatch(word) is None:
        return None
    folded = word.lower()
    known = _CANONICAL_SCHEMES.get(folded)
    if known is not None:
        return known
    for scheme in schemes:
        if scheme.lower() == folded:
            return scheme
    return None


def _field_secrets(value: str, schemes: tuple[str, ...]) -> list[str]:
    """Every secret one Authorization field carries: its credential (the
    text after the scheme; after both scheme words when doubled; inside the
    quotes when quoted), the Basic password, and the whole value when it
    does not start with a scheme we know. A value that repeated fields were
    joined into ("Bearer a, Bearer b") is read piece by piece."""
    stripped = value.strip(" \t")
    if len(value) > MAX_HEADER_CHARS:
        # Not examined: kept whole, and the part after the first word.
        return [stripped, _split(stripped)[1]]
    found: list[str] = []
    first, rest = _split(stripped)
    if _known_scheme(first, schemes) is None:
        # Its first word names no scheme: the whole value may be the
        # credential, however the pieces below split it.
        found += (stripped, first, rest)
    pieces = _JOINED_SPLIT_RE.split(stripped) if "," in stripped else [stripped]
    for piece in pieces:
        word, rest = _split(piece)
        scheme = _known_scheme(word, schemes)
        if scheme == "Digest":
            # RFC 7616 §3.4: auth-params, of which only `response` (and the
            # client's nonce) proves anything; the realm, the user name, the
            # server's nonce and the algorithm are the app's own to repeat.
            found += _digest_secrets(rest)
            continue
        if scheme is None:
            # The word as sent, and without the separators a client may have
            # glued to it ("tok," "tok;"): either may come back as an id.
            found += (piece.strip(" \t"), word, word.strip(",;"))
        found.append(rest)
        if scheme in TOKEN_SCHEMES:
            token, _ = _token_misuse(scheme, rest)
            if token:
                found.append(token)
        if scheme == "Basic" or scheme is None:
            # A bare base64 'user:password' too: its password is a secret.
            found += _basic_secrets(rest or word)
    return found


_DIGEST_SECRET_RE = re.compile(r'(?:^|,)\s*(?:response|cnonce)\s*=\s*"?([^",]*)', re.I)


def _digest_secrets(params: str) -> list[str]:
    return [match.group(1) for match in _DIGEST_SECRET_RE.finditer(params) if match.group(1)]


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


def query_token(query: str) -> str | None:
    """The token a query string carries under a token parameter name
    (`access_token`, `token`, `api_key`), or None."""
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


def _cookies(headers: Iterable[str], beyond: list[str]) -> Iterable[tuple[str, str]]:
    """Every cookie of the Cookie fields' first `MAX_COOKIE_CHARS` characters;
    the text past them goes to `beyond`, unsplit."""
    budget = MAX_COOKIE_CHARS
    for header in headers:
        if budget <= 0:
            beyond.append(header)
            continue
        if len(header) > budget:
            beyond.append(header[budget:])
            header = header[:budget]
        budget -= len(header)
        for part in header.split(";"):
            name, sep, value = part.partition("=")
            if sep:
                yield name.strip(), value.strip()


_NOT_SECRET_COOKIE_RE = re.compile(r"(?:[a-z]+://|/).*|[A-Za-z]{1,10}|[a-z]{2,3}[-_][A-Za-z]{2,4}")


def _cookie_may_be_secret(value: str) -> bool:
    """Whether a cookie value other than a session's may be a credential:
    at least 8 characters, and no plain word, locale, URL or path (a value
    that only starts like a path, `/Zq8xR2mT9vLp4WnK...`, is random: kept)."""
    if len(value) < 8:
        return False
    if _NOT_SECRET_COOKIE_RE.fullmatch(value) is None:
        return True
    return high_entropy(value)


# A user-id shaped like a person's or a service's name: letters, then
# letters, dots, dashes and underscores, with at most a few digits at the
# end (`jane.doe`, `svc_backup`, `bob42`); an email address is a name too.
_NAME_LIKE_RE = re.compile(r"[A-Za-z][A-Za-z._\-]*[0-9]{0,4}|[^@\s]+@[^@\s]+")
_KEY_USER_CHARS = 16


def key_like_user(user: str) -> bool:
    """Whether a Basic user-id is a key sent as one (`curl -u KEY:`,
    `-u KEY:X`): at least 16 characters and shaped like no name."""
    return len(user) >= _KEY_USER_CHARS and _NAME_LIKE_RE.fullmatch(user) is None


def _basic_secrets(token: str | None) -> list[str]:
    """The secrets of Basic credentials (RFC 7617 §2): the password as the
    app may decode it (UTF-8, or ISO-8859-1 as werkzeug and DRF do for bytes
    that are not UTF-8), and the user-id where it is the credential."""
    if not token or len(token) > 4096:
        return []
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return []
    user, colon, password = raw.partition(b":")
    if not colon:
        return []
    found = [password.decode("utf-8", "replace"), password.decode("latin-1")]
    name = user.decode("utf-8", "replace")
    # The user-id is the credential with no password to speak of (`-u KEY:`,
    # `-u KEY:X` as Freshdesk and Chargify document it), or when it is a key.
    if len(password) <= 1 or key_like_user(name):
        found += (name, user.decode("latin-1"))
    return found


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
    kinds = _KEYISH
    for name, value in view.headers:
        known = kinds.get(name)
        if known is None:
            known = _header_kind(name)
        if known or name in api_key_headers or name == "authorization" or name == "cookie":
            material += (name, value)
    material.append(query_material(view.query))
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
        else:
            kind = _header_kind(name)
            if kind == _KEY_LIKE:
                keyish += 1
            if kind:
                picked.append(index)
    return None if keyish > 1 else tuple(picked)


# A query parameter name that may carry a secret holds one of these (the
# words of `redact.secret_param`), or is percent-encoded.
QUERY_SECRET_HINT_RE = re.compile(
    r"token|secret|pass|pwd|pw|key|auth|session|cookie|sig|code|jwt|credential|bearer|otp|pin"
    r"|cvv|cvc|verifier|ticket|assertion|hmac|sessid|pat|sid|%",
    re.I,
)


def query_material(query: str) -> str:
    """The query string when `parse_credentials` may find a secret in it."""
    return query if query and QUERY_SECRET_HINT_RE.search(query) is not None else ""


def _query_secrets(query: str) -> list[str]:
    """Every value under a secret-named query parameter (`?apikey=`,
    `?key=`, `?client_secret=`): scrubbed wherever it would leave."""
    if not query or len(query) > MAX_QUERY_CHARS or QUERY_SECRET_HINT_RE.search(query) is None:
        return []
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return []
    return [
        value
        for key, value in pairs
        if (len(value) >= 4 and secret_param(key))
        # `deploy_key=...` may be a key, `sort_key=name` is not: only a value
        # as long as a key counts under a name that merely ends in "key".
        or (len(value) >= _KEY_VALUE_CHARS and _KEY_SUFFIX_RE.search(key.lower()))
    ]


@dataclass(slots=True)
class _Fields:
    """The request's credential-bearing header fields, read in one pass."""

    authorization: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    # The first field of each API-key header the policy names.
    api_keys: dict[str, str] = field(default_factory=dict)
    # Every API-key and key-like header's value: all secrets.
    keys: list[str] = field(default_factory=list)
    # The values of other secret-carrying headers (Proxy-Authorization, ...).
    carried: list[str] = field(default_factory=list)
    # The first key-like header the policy does not name, and its value.
    stray: tuple[str, str] | None = None


def _read_fields(view: RequestView, api_key_headers: tuple[str, ...]) -> _Fields:
    # One pass over the headers: every lookup after it would be another.
    fields = _Fields()
    for name, value in view.headers:
        if name == "authorization":
            fields.authorization.append(value)
        elif name == "cookie":
            fields.cookies.append(value)
        elif name in api_key_headers:
            # A repeated field reads as WSGI servers join it (RFC 9110 §5.3),
            # so every adapter judges the same value: never one of the two.
            known = fields.api_keys.get(name)
            fields.api_keys[name] = value if known is None else f"{known}, {value}"
            fields.keys.append(value)
        elif value:
            kind = _header_kind(name)
            if kind == _KEY_LIKE:
                fields.keys.append(value)
                if fields.stray is None:
                    fields.stray = (name, value)
            elif kind == _SECRET_ONLY:
                fields.carried.append(value)
    return fields


def _carried_secrets(
    fields: _Fields,
    cookies: list[tuple[str, str]],
    beyond: list[str],
    query: str,
    session_cookies: tuple[str, ...],
    schemes: tuple[str, ...],
) -> list[str]:
    """Every secret the request carried besides the credential it is read
    by: keys, cookies, secret-carrying headers, secret query parameters and
    every Authorization field."""
    found = [value.strip(" \t") for value in fields.keys] + fields.keys
    # A session cookie is a secret whatever it holds; any other cookie when
    # it looks like one: not a preference ("true", "en-US", "dark") nor a
    # URL or path (`return_to=https://...`), which the app may well repeat
    # in its own headers (`Access-Control-Allow-Credentials: true`).
    for name, value in cookies:
        # RFC 6265 §4.1.1: a cookie-value may be in double quotes; an app
        # echoes what it read, without them.
        bare = value.strip('"')
        if name in session_cookies or _cookie_may_be_secret(bare):
            found += (value, bare)
    found += beyond
    for value in fields.carried:
        # Proxy-Authorization and the like: the value, and its credential.
        found += _field_secrets(value, schemes) if len(value) <= MAX_HEADER_CHARS else [value]
    found += _query_secrets(query)
    for index, value in enumerate(fields.authorization):
        found += _field_secrets(value, schemes) if index < MAX_AUTHORIZATION_FIELDS else [value]
    return found


@dataclass(frozen=True, slots=True)
class _Presented:
    """What the Authorization header (or, without one, the query) presents."""

    scheme: str | None
    token: str | None
    source: str | None
    misuse: tuple[Misuse, ...] = ()
    unnamed: bool = False


def _from_authorization(
    values: list[str], schemes: tuple[str, ...], query_token: str | None
) -> _Presented:
    """The first Authorization field read as RFC 9110 §11.4 says, and what
    is wrong with it (RFC 6750 §3.1 `invalid_request`)."""
    value = values[0]
    misuse: list[Misuse] = []
    # RFC 9110 §5.3: Authorization is a singleton field; some WSGI servers
    # join repeated lines with ", ", which we detect the same way.
    if len(values) > 1 or _JOINED_HEADERS_RE.search(value[:MAX_HEADER_CHARS]):
        misuse.append(Misuse.MULTIPLE_AUTHORIZATION_HEADERS)
    if len(value) > MAX_HEADER_CHARS:
        misuse.append(Misuse.OVERSIZED)
        scheme = _known_scheme(_split(value[:64])[0], schemes)
        return _Presented(scheme, None, "header", tuple(misuse), unnamed=scheme is None)
    word, rest = _split(value)
    scheme = _known_scheme(word, schemes)
    if scheme is None:
        # A word we cannot name as a scheme is a credential: alone, it was
        # sent without a scheme (malformed); followed by more, it may be a
        # scheme nobody told us of ("another scheme"). Never named either way.
        if rest:
            return _Presented(None, rest, "header", tuple(misuse), unnamed=True)
        return _Presented(None, word or None, "header", (*misuse, Misuse.MISSING_SCHEME))
    token, scheme_misuse = _credential_of(scheme, rest)
    misuse += scheme_misuse
    if query_token is not None and scheme in TOKEN_SCHEMES:
        # RFC 6750 §3.1: a token sent by more than one method is invalid_request.
        misuse.append(Misuse.TOKEN_IN_HEADER_AND_QUERY)
    return _Presented(scheme, token, "header", tuple(misuse))


def _credential_of(scheme: str, rest: str) -> tuple[str | None, tuple[Misuse, ...]]:
    """The credential after a known scheme word, and what is wrong with it."""
    if scheme in TOKEN_SCHEMES:
        return _token_misuse(scheme, rest)
    if scheme != "Basic":
        return rest or None, ()
    if not rest:
        return None, (Misuse.EMPTY_TOKEN,)
    if _basic_password(rest) is None:
        return rest, (Misuse.BASIC_NOT_BASE64,)  # RFC 7617 §2
    return rest, ()


def _presented(fields: _Fields, schemes: tuple[str, ...], query_token: str | None) -> _Presented:
    if fields.authorization:
        return _from_authorization(fields.authorization, schemes, query_token)
    if query_token is not None:
        # No scheme: a query parameter names none (the app may read it as a
        # bearer token or an API key, or not at all).
        return _Presented(None, query_token, "query", () if query_token else (Misuse.EMPTY_TOKEN,))
    return _Presented(None, None, None)


def parse_credentials(
    view: RequestView,
    *,
    api_key_headers: tuple[str, ...] = DEFAULT_API_KEY_HEADERS,
    session_cookies: tuple[str, ...] = DEFAULT_SESSION_COOKIES,
    schemes: tuple[str, ...] = (),
    app_schemes: tuple[str, ...] = (),
) -> Credentials:
    """Read the Authorization header(s), the query token, API-key headers and
    session cookies into one `Credentials` view. `schemes`: the ones the
    policy configured, and `app_schemes`: the ones the app's own challenges
    name, scheme names besides those we know (any other first word of an
    Authorization value is a credential, see `_known_scheme`)."""
    schemes += app_schemes
    fields = _read_fields(view, api_key_headers)
    in_query = query_token(view.query)
    api_key = next(
        ((name, fields.api_keys[name]) for name in api_key_headers if fields.api_keys.get(name)),
        None,
    )
    beyond: list[str] = []
    cookies = list(_cookies(fields.cookies, beyond))
    session = next(((name, value) for name, value in cookies if name in session_cookies), None)
    presented = _presented(fields, schemes, in_query)
    token = presented.token
    if presented.scheme == "Digest":
        found = _digest_secrets(token or "")  # its realm, nonce and name are the app's
    else:
        found = [token] if token else []
    if presented.scheme == "Basic":
        found += _basic_secrets(token)
    if in_query:
        found.append(in_query)
    found += _carried_secrets(fields, cookies, beyond, view.query, session_cookies, schemes)
    source = presented.source
    if source is None and api_key is not None:
        source = "api_key_header"
    elif source is None and session is not None:
        source = "cookie"
    return Credentials(
        presented.scheme,
        token,
        source,
        presented.misuse,
        api_key[0] if api_key else None,
        session[0] if session else None,
        fields.stray[0] if fields.stray else None,
        _ordered(found),
        presented.unnamed,
        api_key[1] if api_key else (session[1] if session else None),
        api_key[1] if api_key else None,
    )


_MIN_SECRET_CHARS = 3


def _ordered(found: list[str]) -> tuple[str, ...]:
    """The request's secrets, each once, longest first (a secret inside
    another must not be masked first, leaving the rest of the longer one),
    at most `MAX_SECRETS` of them."""
    # One or two characters (`-u KEY:X`) stand alone in too much text
    # ("X-Request-ID") to be searched for: never a secret on their own.
    distinct = {secret for secret in found if len(secret) >= _MIN_SECRET_CHARS}
    # A server hands us header bytes as ISO-8859-1 text; an app may decode
    # the same bytes as UTF-8 (DRF's TokenAuthentication does) and echo that.
    distinct.update(utf8 for secret in list(distinct) if (utf8 := _as_utf8(secret)) is not None)
    return tuple(sorted(distinct, key=lambda secret: (-len(secret), secret))[:MAX_SECRETS])


def _as_utf8(secret: str) -> str | None:
    """`secret`'s ISO-8859-1 bytes read as UTF-8, where that differs."""
    if secret.isascii() or len(secret) > MAX_HEADER_CHARS:
        return None
    try:
        return secret.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def fingerprint(key: bytes, secret: str) -> str:
    """A keyed, truncated hash: the same token gives the same value within a
    deployment, and the value cannot be reversed or brute-forced from logs
    without the key."""
    return hmac.digest(key, secret.encode("utf-8", "surrogateescape"), "sha256").hex()[:16]
