"""The issuer of section "verify": one signing key per algorithm, the
tokens it signs, and the two ways of checking them that the section
compares: `authhygiene.verify.JWT` and pyjwt's own `jwt.decode`, with the
same key, audience, issuer and leeway.

Keys are drawn per run (an HMAC secret of 32 bytes, RSA 2048, EC P-256) and
never leave the process but for `Issuer.public_text`, which the callgrind
children read from a private temporary file. Tokens are access tokens as an
issuer mints them (``iss``, ``sub``, ``aud``, ``iat``, ``exp``, ``jti``,
``scope``; a ``kid`` in the header), unexpired for an hour: credentials for
the suite's rules, never printed or saved.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from authhygiene.verify import JWT

__all__ = [
    "ALGORITHMS",
    "AUDIENCE",
    "ISSUER",
    "LEEWAY",
    "Issuer",
    "claims",
    "decoder",
    "issuers",
    "public_key",
    "verifier",
]

ALGORITHMS = ("HS256", "RS256", "ES256")
AUDIENCE = "https://api.example.com"
ISSUER = "https://issuer.example.com"
# JWT's default; pyjwt's is 0, so the baseline is given the same.
LEEWAY = 60
_LIFETIME = 3600


def claims(i: int, now: int, audience: str = AUDIENCE) -> dict[str, object]:
    """The `i`-th token's claims: distinct `sub` and `jti`, so no two
    tokens are the same."""
    return {
        "iss": ISSUER,
        "sub": f"user-{i:06d}",
        "aud": audience,
        "iat": now,
        "exp": now + _LIFETIME,
        "jti": f"{i:08x}",
        "scope": "items:read",
    }


@dataclass(frozen=True, slots=True)
class Issuer:
    """One algorithm's keys: `private` signs, `public` verifies (the HMAC
    secret for HS256)."""

    alg: str
    kid: str
    private: Any
    public: Any

    def sign(self, i: int, now: int | None = None, audience: str = AUDIENCE) -> str:
        moment = int(time.time()) if now is None else now
        return jwt.encode(
            claims(i, moment, audience), self.private, algorithm=self.alg, headers={"kid": self.kid}
        )

    def public_text(self) -> str:
        """The verifying key as text: the secret in hex, or PEM."""
        if isinstance(self.public, bytes):
            return self.public.hex()
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode("ascii")


def public_key(alg: str, text: str) -> Any:
    """`Issuer.public_text` read back (in a callgrind child)."""
    if alg.startswith("HS"):
        return bytes.fromhex(text)
    return text


def issuers() -> dict[str, Issuer]:
    """Fresh keys for every algorithm of `ALGORITHMS`."""
    import secrets

    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    secret = secrets.token_bytes(32)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "HS256": Issuer("HS256", "hs-1", secret, secret),
        "RS256": Issuer("RS256", "rsa-1", rsa_key, rsa_key.public_key()),
        "ES256": Issuer("ES256", "ec-1", ec_key, ec_key.public_key()),
    }


def verifier(alg: str, public: Any, kid: str, **options: Any) -> JWT:
    """authhygiene's verifier for the issuer's tokens (cache on, 300 s)."""
    return JWT(algorithms=[alg], keys={kid: public}, audience=AUDIENCE, issuer=ISSUER, **options)


def decoder(alg: str, public: Any) -> Callable[[str], Any]:
    """pyjwt's own decode, as an app calls it when it does it right: the key
    prepared once (a key object, not PEM parsed on every call, as the
    verifier holds it), the same algorithm, audience, issuer and leeway."""
    key = get_default_algorithms()[alg].prepare_key(public)
    return functools.partial(
        jwt.decode, key=key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER, leeway=LEEWAY
    )
