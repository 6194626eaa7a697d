"""What failures are counted under: the client's address and the credential
it presented, each as a keyed hash (never the address or the credential
itself, in memory or in Redis). For Basic credentials the key is the user
name, so a password guessed against one account is counted against that
account whichever password is tried.

The hash key is the fleet's (`redis_store` shares one through Redis), so
every worker counts one credential under one key."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["MAX_MATERIAL_CHARS", "KeyMaker", "Keys", "client_material", "credential_material"]

# What is hashed of a credential: an Authorization value or an API key past
# this is cut (still one key per distinct prefix; nothing real is longer).
MAX_MATERIAL_CHARS = 8192
_MAX_BASIC_CHARS = 4096
_NOT_BASE64_RE = re.compile(r"[^A-Za-z0-9+/]+")


@dataclass(frozen=True, slots=True)
class Keys:
    """A request's throttle keys (None: not counted by that limit)."""

    client: str | None
    credential: str | None


def _basic_user(token: str) -> str | None:
    """The user name, read as leniently as the most lenient server reads it
    (FastAPI's HTTPBasic and DRF skip characters outside base64 and repair
    the padding): every spelling an app accepts for one user is one key."""
    token = _NOT_BASE64_RE.sub("", token[:_MAX_BASIC_CHARS])
    token += "=" * (-len(token) % 4)
    try:
        raw = base64.b64decode(token)
    except (binascii.Error, ValueError):
        return None
    user, colon, _ = raw.partition(b":")
    return user.decode("utf-8", "surrogateescape") if colon else None


def credential_material(authorization: str | None, api_key: str | None) -> str | None:
    """The text a credential is counted under: the Basic user name, else the
    Authorization value, else the API key; None without either.

    Spellings that name one credential are one key: the scheme in any case
    and any spacing around the credential; a user name in any case or
    Unicode form (`Alice`, `ALICE`, fullwidth letters), so that a guesser does not
    get a fresh budget per spelling the app may accept."""
    if authorization is not None:
        words = authorization[:MAX_MATERIAL_CHARS].split(None, 1)
        if not words:
            return None
        scheme, rest = words[0].lower(), words[1].strip() if len(words) > 1 else ""
        if scheme == "basic":
            # Undecodable Basic credentials are one key between them: a
            # guesser gets no fresh budget per broken spelling.
            user = _basic_user(rest)
            return "basic\0" + (
                unicodedata.normalize("NFKC", user).casefold() if user is not None else "\0"
            )
        return "authorization\0" + (f"{scheme} {rest}" if rest else scheme)
    if api_key:
        return "key\0" + api_key[:MAX_MATERIAL_CHARS].strip()
    return None


def client_material(address: str | None) -> str | None:
    """The text an address is counted under: IPv4 as it is, IPv6 by its /64
    (one host gets a /64 to itself, and would otherwise get 2**64 budgets)."""
    if not address:
        return None
    if ":" not in address:
        return address
    try:
        parsed = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network((parsed, 64), strict=False))


class KeyMaker:
    """Keys under `prefix`, hashed with `secret` (32 hex digits: 128 bits)."""

    def __init__(self, prefix: str, secret: bytes) -> None:
        self._client = f"{prefix}:c:"
        self._credential = f"{prefix}:k:"
        self.secret = secret

    def _digest(self, text: str) -> str:
        return hmac.digest(self.secret, text.encode("utf-8", "surrogateescape"), "sha256").hex()[
            :32
        ]

    def keys(self, client: str | None, material: str | None) -> Keys:
        address = client_material(client)
        return Keys(
            self._client + self._digest(address) if address else None,
            self._credential + self._digest(material) if material else None,
        )
