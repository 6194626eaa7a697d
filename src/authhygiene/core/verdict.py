"""What a verifier says of a token (`authhygiene.verify`), as the core reads
it: `Verified` with the claims, or `Rejected` with a reason and its facts.
A `Verifier` is anything with that `verify` method; the core never imports
one (pyjwt and the keys live in `authhygiene.verify`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from authhygiene.core.reasons import Reason

if TYPE_CHECKING:
    from authhygiene.core.credentials import Credentials

__all__ = ["Rejected", "Verified", "Verifier", "choices", "chosen", "telling"]


@dataclass(frozen=True, slots=True)
class Verified:
    """A token that verified: its claims, for the app and the log."""

    claims: Mapping[str, Any]

    @property
    def scopes(self) -> tuple[str, ...]:
        """RFC 8693 §4.2 `scope` (space-separated), or a `scp` list."""
        scope = self.claims.get("scope", self.claims.get("scp"))
        if isinstance(scope, str):
            return tuple(scope.split())
        if isinstance(scope, list):
            return tuple(item for item in scope if isinstance(item, str))
        return ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A token that did not verify, and why: a reason of the taxonomy and
    the facts a client or an operator acts on (safe to show)."""

    reason: Reason
    facts: Mapping[str, object] = field(default_factory=dict)


class Verifier(Protocol):
    """Checks a credential with the app's keys; never raises. `credential`
    picks the one it checks out of what the request carried (a Bearer
    token, a Basic pair, an API key), None when the request carries none of
    its kind; `verify` checks that string."""

    def credential(self, credentials: Credentials) -> str | None: ...

    def verify(self, credential: str, now: float | None = None) -> Verified | Rejected: ...


def chosen(
    verifiers: tuple[Verifier, ...], credentials: Credentials
) -> tuple[Verifier, str] | None:
    """The first verifier that reads a credential the request carries, and
    that credential; None when the request carries none of their kinds."""
    for verifier in verifiers:
        credential = verifier.credential(credentials)
        if credential:
            return verifier, credential
    return None


def choices(
    verifiers: tuple[Verifier, ...], credentials: Credentials
) -> tuple[tuple[Verifier, str], ...]:
    """The verifiers to try, in order, with the credential they check: the
    first verifier that reads a credential the request carries names it,
    and every verifier reading that same credential is tried (two issuers'
    JWT verifiers, say); none where the request carries none of their kinds."""
    first = chosen(verifiers, credentials)
    if first is None:
        return ()
    credential = first[1]
    return tuple(
        (verifier, credential)
        for verifier in verifiers
        if verifier is first[0] or verifier.credential(credentials) == credential
    )


# Rejections that say only "not this verifier's token" (another issuer's key
# or algorithm): with several verifiers, one that checked the signature and
# then refused (expired, not yet valid) says more.
_FOREIGN = frozenset(
    {Reason.TOKEN_SIGNATURE_INVALID, Reason.TOKEN_KEY_UNKNOWN, Reason.TOKEN_ALGORITHM_REJECTED}
)


def telling(first: Rejected | None, later: Rejected) -> Rejected:
    """Of two verifiers' rejections of one credential, the one to report:
    the first, unless it only says the token is another verifier's."""
    if first is None or (first.reason in _FOREIGN and later.reason not in _FOREIGN):
        return later
    return first
