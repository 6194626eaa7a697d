"""What a verifier says of a token (`authhygiene.verify`), as the core reads
it: `Verified` with the claims, or `Rejected` with a reason and its facts.
A `Verifier` is anything with that `verify` method; the core never imports
one (pyjwt and the keys live in `authhygiene.verify`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from authhygiene.core.reasons import Reason

__all__ = ["Rejected", "Verified", "Verifier"]


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
    """Checks a token with the app's keys; never raises."""

    def verify(self, token: str, now: float | None = None) -> Verified | Rejected: ...
