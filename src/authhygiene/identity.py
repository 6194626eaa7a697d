"""Who an admitted request is, as enforce mode hands it to the app.

One object for every adapter: under ASGI it is Starlette's `scope["user"]`
(a `BaseUser`, so `request.user.is_authenticated`, `@requires(...)` and
`AuthenticationMiddleware`-style code read it as they would their own) with
`scope["auth"]` an `AuthCredentials` of the token's scopes; under WSGI it is
`environ["authhygiene.identity"]`; under Django `request.auth_identity`.
Everything in it comes from the verified claims, never from the unverified
token: the identity the app is handed and the one logged are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser

from authhygiene.core.verdict import Verified

__all__ = ["ANONYMOUS", "IDENTITY_KEY", "NO_CREDENTIALS", "Identity", "credentials_of"]

# Where the WSGI adapter puts the identity (PEP 3333: a dotted, lower-case
# name of the component that sets it).
IDENTITY_KEY = "authhygiene.identity"


class Identity(BaseUser):
    """A verified credential's subject, scopes and claims."""

    __slots__ = ("claims", "scheme", "scopes", "subject")

    def __init__(self, verified: Verified, scheme: str | None) -> None:
        self.claims: Mapping[str, Any] = verified.claims
        sub = verified.claims.get("sub")
        self.subject: str = sub if isinstance(sub, str) else ""
        self.scopes: tuple[str, ...] = verified.scopes
        # The verifier's scheme: "Bearer", "Basic", or "ApiKey" for a key sent in a header.
        self.scheme = scheme

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.subject

    @property
    def identity(self) -> str:
        return self.subject

    def __repr__(self) -> str:
        return f"Identity(subject={self.subject!r}, scopes={list(self.scopes)!r})"


# What a request enforce mode let through without verifying anything (a
# public route, report-only) carries, as Starlette's AuthenticationMiddleware
# gives it: `request.user.is_authenticated` is False, `@requires` refuses.
ANONYMOUS = UnauthenticatedUser()
NO_CREDENTIALS = AuthCredentials()


def credentials_of(identity: Identity) -> AuthCredentials:
    """Starlette's `scope["auth"]` for `identity`: its scopes, as
    `starlette.authentication.requires` checks them."""
    return AuthCredentials(list(identity.scopes))
