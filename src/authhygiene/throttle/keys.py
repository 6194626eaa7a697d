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
import unicodedata
from dataclasses import dataclass

__all__ = ["MAX_MATERIAL_CHARS", "KeyMaker", "Keys", "client_material", "credential_material"]

# What is hashed of a credential: an Authorization value or an API key past
# this is cut (still one key per distinct prefix; nothing real is longer).
MAX_MATERIAL_CHARS = 8192
_MAX_BASIC_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Keys:
    """A request's throttle keys (None: not counted by that limit)."""

    client: str | None
    credential: str | None


def _basic_user(token: str) -> str | None:
    if len(token) > _MAX_BASIC_CHARS:
        return None
    try:
        raw = base64.b64decode(token, validate=True)
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
        scheme, _, rest = authorization[:MAX_MATERIAL_CHARS].strip().partition(" ")
        scheme, rest = scheme.lower(), rest.strip()
        if scheme == "basic":
            user = _basic_user(rest)
            if user is not None:
                return "basic\0" + unicodedata.normalize("NFKC", user).casefold()
        value = f"{scheme} {rest}" if rest else scheme
        return "authorization\0" + value if value else None
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
        self._secret = secret

    def _digest(self, text: str) -> str:
        return hmac.digest(self._secret, text.encode("utf-8", "surrogateescape"), "sha256").hex()[
            :32
        ]

    def keys(self, client: str | None, material: str | None) -> Keys:
        address = client_material(client)
        return Keys(
            self._client + self._digest(address) if address else None,
            self._credential + self._digest(material) if material else None,
        )
