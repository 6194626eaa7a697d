"""The keys a JWT verifier checks signatures with, prepared once for the
algorithms each serves, and where they come from.

Configured keys (`StaticKeys`) are checked strictly when they are given: an
algorithm without a key of its kind, a private key, a short HMAC secret
fail at start-up with what to change. A JWK Set fetched from an issuer
(`usable_keys`) is read leniently instead: a key this verifier cannot use
(another algorithm family, a private JWK, a kind pyjwt cannot read) is
skipped, since the issuer's set serves every client, not only us.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from jwt.algorithms import get_default_algorithms

from authhygiene.core.jwt_peek import fact_text
from authhygiene.core.reasons import Reason
from authhygiene.core.verdict import Rejected

__all__ = [
    "HMAC_ALGORITHMS",
    "KeySource",
    "PreparedKey",
    "StaticKeys",
    "pick",
    "prepared_keys",
    "usable_keys",
]

# RFC 7518 §3.2: an HMAC key at least as long as the hash's output.
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
HMAC_ALGORITHMS = frozenset(_HMAC_MIN_BYTES)
_HMAC = HMAC_ALGORITHMS
# Keys tried for a token that names none (each try verifies a signature).
_KEYS_TRIED = 8


@dataclass(frozen=True, slots=True)
class PreparedKey:
    """A key prepared for the algorithms it serves (an HMAC secret for HS*,
    an RSA key for RS*/PS*, an EC key for its curve's ES*, ...)."""

    kid: str | None
    algorithms: frozenset[str]
    keys: Mapping[str, Any]


class KeySource(Protocol):
    """Where a verifier finds the keys for a token: `candidates` never
    blocks on the network when `wait` is False."""

    def candidates(
        self, alg: str, kid: object, now: float, *, wait: bool = True
    ) -> list[PreparedKey] | Rejected: ...


def pick(keys: Sequence[PreparedKey], alg: str, kid: object) -> list[PreparedKey] | Rejected:
    """The keys that may have signed a token with `alg` and `kid`: the one
    named, or (no kid) each that fits, a bounded number of them (each try
    verifies a signature). A kid that no key carries, when keys carry kids,
    is `token_key_unknown`."""
    usable = [key for key in keys if alg in key.algorithms]
    if isinstance(kid, str):
        named = [key for key in usable if key.kid == kid]
        if named:
            return named
        held = [key for key in keys if key.kid == kid]
        if held:
            # The key is known, for other algorithms: a token claiming it with
            # this one (HS256 naming an RSA key's kid) is algorithm confusion.
            served = sorted({name for key in held for name in key.algorithms})
            return Rejected(
                Reason.TOKEN_ALGORITHM_REJECTED,
                {"alg": fact_text(alg), "accepted_algorithms": served},
            )
        if any(key.kid is not None for key in keys):
            # The issuer rotated its keys, or the token is another issuer's.
            return Rejected(Reason.TOKEN_KEY_UNKNOWN, {"kid": fact_text(kid)})
    return usable[:_KEYS_TRIED]


@dataclass(frozen=True, slots=True)
class StaticKeys:
    """Keys given in the configuration; never changes, never fetches. The
    pick for each `alg` and `kid` is remembered (bounded): an issuer's
    tokens name a handful."""

    keys: tuple[PreparedKey, ...]
    _picked: dict[tuple[str, str | None], list[PreparedKey] | Rejected] = field(
        default_factory=dict, repr=False, compare=False
    )

    def candidates(
        self, alg: str, kid: object, now: float, *, wait: bool = True
    ) -> list[PreparedKey] | Rejected:
        if kid is not None and not (isinstance(kid, str) and len(kid) <= _KID_CHARS_KEPT):
            return pick(self.keys, alg, kid)
        memo = self._picked
        picked = memo.get((alg, kid))
        if picked is None:
            picked = pick(self.keys, alg, kid)
            if len(memo) >= _PICKS_KEPT:
                memo.clear()  # rare: a flood of distinct kids starts over
            memo[(alg, kid)] = picked
        return picked


_PICKS_KEPT = 256
# What a kid shown in an error message may look like (short, name-like).
_KID_SHOWN_RE = re.compile(r"[A-Za-z0-9._:-]{1,24}")
_KID_CHARS_KEPT = 256


def usable_keys(jwks: object, algorithms: Sequence[str]) -> tuple[PreparedKey, ...]:
    """The keys of a fetched JWK Set this verifier can use (see the module's
    docstring); an empty tuple when there are none or `jwks` is no set."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        return ()
    found: list[PreparedKey] = []
    for jwk in jwks["keys"]:
        if not isinstance(jwk, Mapping) or "d" in jwk or "k" in jwk:
            continue  # private, or a shared secret: never published for verifiers
        use = jwk.get("use")
        if use is not None and use != "sig":
            continue  # RFC 7517 §4.2: an encryption key
        try:
            found.append(_prepare(_kid_of(jwk), jwk, tuple(algorithms)))
        except ValueError:
            continue
    return tuple(found)


def prepared_keys(keys: object, algorithms: tuple[str, ...]) -> tuple[PreparedKey, ...]:
    """The keys, each prepared for the algorithms it serves; every
    algorithm has a key, and no key serves another kind (an RSA or EC
    public key is never an HMAC secret)."""
    given: list[tuple[str | None, Any]]
    if isinstance(keys, Mapping) and "kty" in keys:
        given = [(_kid_of(keys), keys)]  # one JWK (RFC 7517)
    elif isinstance(keys, Mapping) and isinstance(keys.get("keys"), list):
        given = [(_kid_of(key), key) for key in keys["keys"]]  # a JWK Set, as served
    elif isinstance(keys, Mapping):
        given = [(str(kid), key) for kid, key in keys.items()]
    elif isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
        given = [(None, keys)]
    else:
        given = [(None, key) for key in keys]
    if not given or any(key is None for _, key in given):
        raise ValueError(
            "authhygiene: JWT needs keys=: the HMAC secret, or the issuer's public key(s)"
            " as PEM text or JWK, or a mapping of kid to key."
        )
    prepared = tuple(_prepare(kid, key, algorithms) for kid, key in given)
    for name in algorithms:
        if not any(name in key.algorithms for key in prepared):
            kind = "an HMAC secret" if name in _HMAC else "a public key (PEM or JWK) for it"
            raise ValueError(f"authhygiene: JWT algorithm {name} needs {kind} among keys=.")
    return prepared


def _kid_of(jwk: object) -> str | None:
    kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
    return kid if isinstance(kid, str) else None


def _prepare(kid: str | None, key: object, algorithms: tuple[str, ...]) -> PreparedKey:
    # A kid is named only when it looks like one: a mapping written the
    # wrong way round ({secret: "k1"}) makes the secret the kid.
    label = f" {kid!r}" if kid and _KID_SHOWN_RE.fullmatch(kid) else (" (by kid)" if kid else "")
    if isinstance(key, Mapping):
        key = _from_jwk(key, label)
    hmac = isinstance(key, str | bytes) and not _looks_asymmetric(key)
    if not hmac and _is_private(key):
        raise ValueError(
            f"authhygiene: JWT key{label} is a private key; give the issuer's public key"
            " (a verifier never needs the private one)."
        )
    family = [name for name in algorithms if (name in _HMAC) is hmac]
    if not family:
        kind = "HMAC secret" if hmac else "public key"
        raise ValueError(
            f"authhygiene: JWT key{label} is a {kind}, but no algorithm of its kind is in"
            f" algorithms={list(algorithms)!r}: an RSA or EC public key is never an HMAC"
            " secret, and the other way round."
        )
    if isinstance(key, str | bytes) and hmac:
        secret = key.encode() if isinstance(key, str) else key
        short = [name for name in family if len(secret) < _HMAC_MIN_BYTES[name]]
        if short:
            raise ValueError(
                f"authhygiene: JWT HMAC secret{label} is {len(secret)} bytes; {short[0]}"
                f" needs at least {_HMAC_MIN_BYTES[short[0]]} (RFC 7518 §3.2)."
            )
    served = {name: prepared for name in family if (prepared := _fit(name, key)) is not None}
    if not served:
        raise ValueError(
            f"authhygiene: JWT key{label} cannot be read as a key for any of"
            f" {family!r}; give PEM text or a JWK."
        )
    return PreparedKey(kid, frozenset(served), served)


def _fit(algorithm: str, key: object) -> Any:
    """`key` prepared for `algorithm`, or None when it is not one (an EC key
    for RS256, a P-384 key for ES256)."""
    try:
        prepared = get_default_algorithms()[algorithm].prepare_key(key)
    except Exception:
        return None
    curve = getattr(prepared, "curve", None)
    wanted = _CURVES.get(algorithm)
    if wanted is not None and getattr(curve, "name", wanted) != wanted:
        return None
    return prepared


# RFC 7518 §3.4: each ES algorithm is bound to one curve.
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1", "ES256K": "secp256k1"}


def _from_jwk(jwk: Mapping[str, Any], label: str) -> object:
    if "d" in jwk:
        raise ValueError(
            f"authhygiene: JWT key{label} is a private JWK (it has 'd'); give the public one."
        )
    try:
        return jwt.PyJWK(dict(jwk)).key
    except Exception:
        raise ValueError(f"authhygiene: JWT key{label} is not a JWK pyjwt can read.") from None


def _is_private(key: object) -> bool:
    if isinstance(key, str | bytes):
        text = key.decode("latin-1") if isinstance(key, bytes) else key
        return "PRIVATE KEY" in text
    return callable(getattr(key, "private_bytes", None)) or callable(getattr(key, "sign", None))


def _looks_asymmetric(key: str | bytes) -> bool:
    text = key.decode("latin-1") if isinstance(key, bytes) else key
    return "-----BEGIN" in text or text.startswith(("ssh-", "ecdsa-sha2-"))
