"""An API-key verifier with the app's own keys: knows whose a key is.

Keys are held only as SHA-256 digests, from the moment the verifier is
built: the plain key is in no attribute, no `repr` and no error message, so
a traceback, a debug page or a pickled config cannot show it. An app that
should not hold plain keys at all configures their digests
(`APIKey.hash_key`). A plain digest, with no salt and no stretching, is
enough here because a key is long and random (at least 16 characters,
checked): nobody guesses one from its digest, unlike a password
(`authhygiene.verify.basic` stretches those).

A presented key is hashed once and compared with every configured digest
by `hmac.compare_digest`, with no early exit, so the time taken says
neither which key nor how much of one matched; the number of keys is
bounded so that this stays cheap. Verifying never raises.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from authhygiene.core.credentials import TCHAR_RE, Credentials
from authhygiene.core.reasons import Problem, Reason
from authhygiene.verify.jwt import Rejected, Verified

__all__ = ["APIKey"]

# A key shorter than this is guessable by trying; one longer than this is
# no key (and would cost hashing work for nothing).
MIN_KEY_CHARS = 16
MAX_KEY_CHARS = 4096
# Every check compares against every key: a bound keeps it cheap.
MAX_KEYS = 1000
MAX_NAME_CHARS = 128
_PREFIX = "sha256:"
_HASHED_RE = re.compile(r"sha256:[0-9a-f]{64}")
# RFC 9110 §5.5: a field value is VCHAR (and obs-text, which servers decode
# inconsistently), and loses its leading and trailing whitespace on the
# way in: a key is visible ASCII only, so what a client sends is what we hash.
_KEY_RE = re.compile(r"[\x21-\x7e]+")
# A name ends up as `sub` in claims and logs: printable, no line breaks.
_NAME_RE = re.compile(r"[^\x00-\x1f\x7f]+")
# Headers the middleware reads as something else than an API key.
_NOT_KEY_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _unknown() -> Rejected:
    return Rejected(Reason.CREDENTIALS_INVALID, {"problem": Problem.API_KEY_UNKNOWN.value})


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class APIKey:
    """Verify an API key sent in a header (`X-API-Key` by default).

    `keys` maps a name (whose key it is: `"billing-service"`) to the key, or
    is a list of keys, named `key-1`, `key-2`... by position. A key is the
    plain key (at least 16 visible ASCII characters) or its digest as
    `APIKey.hash_key` writes it, `"sha256:<64 hex digits>"`. After
    construction `keys` holds names and digests only. A key that verifies
    gives the claims `{"sub": <its name>}`."""

    # The scheme of the challenge enforce mode sends: none is registered for
    # API keys, and this one tells clients (and our hints) to send a key.
    scheme: ClassVar[str] = "ApiKey"
    keys: Mapping[str, str] | Sequence[str]
    header: str = "X-API-Key"
    _digests: tuple[tuple[str, bytes], ...] = field(init=False, compare=False, default=())

    def __post_init__(self) -> None:
        header_name = _header(self.header)
        named = _named(self.keys)
        digests: list[tuple[str, bytes]] = []
        seen: dict[bytes, int] = {}
        for position, (name, key) in enumerate(named, start=1):
            named_as = _name(name, position)
            digest = _digest_of(key, position)
            if digest in seen:
                # Positions, not names or keys: a mapping written the wrong
                # way round ({key: name}) would make a name the secret.
                raise ValueError(
                    f"authhygiene: APIKey keys entries {seen[digest]} and {position} hold the"
                    " same key; give each client its own key, or drop one entry."
                )
            seen[digest] = position
            digests.append((named_as, digest))
        set_ = object.__setattr__
        set_(self, "header", header_name)
        set_(self, "_digests", tuple(digests))
        set_(
            self,
            "keys",
            MappingProxyType({name: _PREFIX + digest.hex() for name, digest in digests}),
        )

    def __repr__(self) -> str:
        count = len(self._digests)
        return f"APIKey(header={self.header!r}, keys=<{count} held as SHA-256 digests>)"

    @property
    def header_name(self) -> str:
        """The header's name in lower case, as servers hand it over: the
        header the middleware must read API keys from."""
        return self.header.lower()

    @property
    def names(self) -> tuple[str, ...]:
        """Whose keys these are, in the order given."""
        return tuple(name for name, _ in self._digests)

    @staticmethod
    def hash_key(key: str) -> str:
        """The form of `key` to configure instead of the key itself,
        `"sha256:<64 hex digits>"`: the app then never holds the key."""
        return _PREFIX + _sha256(_plain(key, "hash_key")).hex()

    def credential(self, credentials: Credentials) -> str | None:
        """The value of this verifier's header, None when the request
        carried the key elsewhere, or none."""
        if credentials.api_key_header == self.header_name:
            return credentials.api_key
        return None

    def verify(self, credential: str, now: float | None = None) -> Verified | Rejected:
        """Whose key `credential` is: `Verified({"sub": name})`, or the one
        rejection for any key that is not configured; never raises. `now` is
        unused (a key does not expire), there for the `Verifier` protocol."""
        try:
            return self._verify(credential)
        except Exception:  # a verifier never raises; the rejection says enough
            return _unknown()

    def _verify(self, credential: str) -> Verified | Rejected:
        if not isinstance(credential, str) or not 0 < len(credential) <= MAX_KEY_CHARS:
            # No hashing work for what can be no key at all.
            return _unknown()
        presented = _sha256(credential)
        found: str | None = None
        for name, digest in self._digests:
            # Every digest is compared, none skipped on a match: the time
            # taken depends on the number of keys only.
            if hmac.compare_digest(presented, digest):
                found = name
        if found is None:
            return _unknown()
        return Verified({"sub": found})


def _sha256(key: str) -> bytes:
    # surrogatepass: a presented key may be any text; it never raises.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _header(header: object) -> str:
    if not isinstance(header, str) or not header or TCHAR_RE.fullmatch(header) is None:
        raise ValueError(
            "authhygiene: APIKey header is a header name, letters, digits and"
            " !#$%&'*+-.^_`|~ only (RFC 9110 §5.1), e.g. 'X-API-Key'"
            f" (got {_what(header)})."
        )
    if header.lower() in _NOT_KEY_HEADERS:
        raise ValueError(
            f"authhygiene: APIKey header cannot be {header!r}: the middleware reads it as"
            " credentials of a scheme (Basic, Bearer) or cookies. Name the header your"
            " clients send the key in, e.g. 'X-API-Key'; for Basic use verify.Basic."
        )
    return header


def _what(value: object) -> str:
    # Not the value: a key given in the wrong place must not reach a traceback.
    return "text that is no header name" if isinstance(value, str) else f"a {type(value).__name__}"


def _named(keys: object) -> list[tuple[object, object]]:
    if isinstance(keys, Mapping):
        named = list(keys.items())
    elif isinstance(keys, Sequence) and not isinstance(keys, str | bytes | bytearray):
        named = [(f"key-{index}", key) for index, key in enumerate(keys, start=1)]
    else:
        raise ValueError(
            "authhygiene: APIKey keys is a mapping of a name to its key, e.g."
            " {'billing-service': KEY}, or a list of keys; got a"
            f" {type(keys).__name__} (a single key goes in a list: keys=[KEY])."
        )
    if not named:
        raise ValueError(
            "authhygiene: APIKey keys is empty, so no key would ever verify; give at least"
            " one, e.g. keys={'billing-service': os.environ['BILLING_API_KEY']}."
        )
    if len(named) > MAX_KEYS:
        raise ValueError(
            f"authhygiene: APIKey takes at most {MAX_KEYS} keys (each check compares with"
            f" all of them); got {len(named)}. Keep more in a store of your own."
        )
    return named


def _name(name: object, position: int) -> str:
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_NAME_CHARS
        or _NAME_RE.fullmatch(name) is None
    ):
        # Never echoed: a mapping written the wrong way round has keys here.
        raise ValueError(
            f"authhygiene: APIKey keys entry {position}: a name is text of 1 to"
            f" {MAX_NAME_CHARS} printable characters, e.g. 'billing-service' (keys maps"
            " a name to its key, not a key to a name)."
        )
    return name


def _digest_of(key: object, position: int) -> bytes:
    if isinstance(key, str) and _HASHED_RE.fullmatch(key):
        return bytes.fromhex(key.removeprefix(_PREFIX))
    return _sha256(_plain(key, f"keys entry {position}"))


def _plain(key: object, where: str) -> str:
    """`key` when it can be a key; else what to change, never showing it."""
    if isinstance(key, bytes | bytearray):
        raise ValueError(
            f"authhygiene: APIKey {where} is bytes; give the key as text, as clients"
            " send it (decode it, e.g. key.decode('ascii'))."
        )
    if not isinstance(key, str):
        raise ValueError(
            f"authhygiene: APIKey {where} is a key as text or 'sha256:<64 hex digits>'"
            f" (APIKey.hash_key); got a {type(key).__name__}."
        )
    if key.lower().startswith(_PREFIX):
        raise ValueError(
            f"authhygiene: APIKey {where} starts with 'sha256:' but is not 'sha256:' and"
            " 64 lower-case hex digits; write it with APIKey.hash_key(key)."
        )
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(
            f"authhygiene: APIKey {where} is shorter than {MIN_KEY_CHARS} characters,"
            " short enough to guess; generate a key, e.g. secrets.token_urlsafe(32)"
            " (or was a mapping written {key: name}? it maps a name to its key)."
        )
    if len(key) > MAX_KEY_CHARS:
        raise ValueError(
            f"authhygiene: APIKey {where} is longer than {MAX_KEY_CHARS} characters;"
            " use a shorter key, e.g. secrets.token_urlsafe(32)."
        )
    if _KEY_RE.fullmatch(key) is None:
        raise ValueError(
            f"authhygiene: APIKey {where} holds a character other than visible ASCII"
            " (a space, a line break, a non-ASCII letter): a header carries no such key"
            " unchanged (RFC 9110 §5.5); use e.g. secrets.token_urlsafe(32)."
        )
    return key
