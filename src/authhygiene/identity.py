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

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import HTTPConnection

from authhygiene.core.reasons import Reason
from authhygiene.core.requirements import Scopes
from authhygiene.core.verdict import Verified
from authhygiene.errors import AuthFailure

__all__ = [
    "ANONYMOUS",
    "IDENTITY_KEY",
    "NO_CREDENTIALS",
    "Identity",
    "credentials_of",
    "require_scopes",
]

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
        # Bounded: an issuer may sign a claim of any size.
        scopes = list(self.scopes[:_REPR_SCOPES]) + (
            ["..."] if len(self.scopes) > _REPR_SCOPES else []
        )
        return f"Identity(subject={self.subject[:_REPR_CHARS]!r}, scopes={scopes!r})"


_REPR_CHARS = 128
_REPR_SCOPES = 8

# What a request enforce mode let through without verifying anything (a
# public route, report-only) carries, as Starlette's AuthenticationMiddleware
# gives it: `request.user.is_authenticated` is False, `@requires` refuses.
ANONYMOUS = UnauthenticatedUser()
NO_CREDENTIALS = AuthCredentials()


def credentials_of(identity: Identity) -> AuthCredentials:
    """Starlette's `scope["auth"]` for `identity`: its scopes, as
    `starlette.authentication.requires` checks them."""
    return AuthCredentials(list(identity.scopes))


def require_scopes(*names: str) -> Callable[[HTTPConnection], Awaitable[Any]]:
    """A route's scopes in FastAPI's own idiom, a dependency:
    ``@app.get("/items", dependencies=[Depends(require_scopes("items:read"))])``
    or ``user = Depends(require_scopes("items:read"))`` for the user.

    It reads `request.user` and `request.auth` as Starlette sets them (enforce
    mode's verified identity, or the app's own `AuthenticationMiddleware`)
    and raises `AuthFailure`: `credentials_missing` without an authenticated
    user, `insufficient_scope` naming every scope in `names` (RFC 6750 §3.1)
    when one is missing, so the middleware answers 401 or 403 exactly."""
    required = Scopes(*names)

    async def scopes_required(request: HTTPConnection) -> Any:
        user = request.scope.get("user")
        auth = request.scope.get("auth")
        held = auth.scopes if isinstance(auth, AuthCredentials) else []
        refused = _scopes_refusal(user, held, required)
        if refused is None:
            return user
        # On a websocket handshake too: the middleware answers it before
        # accept (401/403 with the challenge and `scope=`, or a close 1008).
        raise refused

    return scopes_required


def _scopes_refusal(user: object, held: list[str], required: Scopes) -> AuthFailure | None:
    """Why `user` holding `held` may not use a route requiring `required`.
    Starlette accepts any user object (`@requires` reads only `auth`): read
    `is_authenticated` as it is."""
    if not getattr(user, "is_authenticated", False):
        return AuthFailure(Reason.CREDENTIALS_MISSING)
    if not required.missing(held):
        return None
    if isinstance(user, Identity) and user.scheme not in ("Bearer", "DPoP"):
        # An API key or a password carries no scopes: no token would do.
        return AuthFailure(Reason.FORBIDDEN, problem="scopes_not_carried")
    return AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope=str(required))
