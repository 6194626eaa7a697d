"""A verifier as the adapters hold it: one that raises (an app's own, its
database down) has judged nothing, which is a server fault (503
`verifier_unavailable`), never the client's, and the operator hears of it
once a minute, by the error's type alone (its text may hold the
credential). One guard for explain and enforce mode alike."""

from __future__ import annotations

from typing import Any

from authhygiene._trouble import Trouble
from authhygiene.core.credentials import Credentials
from authhygiene.core.reasons import Reason
from authhygiene.core.verdict import Rejected, Verified, Verifier

__all__ = ["Guarded"]

_RETRY_AFTER_S = 5


class Guarded:
    """`inner`, never raising; every other attribute (`scheme`, `header`,
    `may_block`, `needs_io`) is the inner verifier's."""

    __slots__ = ("_inner", "_trouble")

    def __init__(self, inner: Verifier) -> None:
        self._inner = inner
        self._trouble = Trouble()

    def credential(self, credentials: Credentials) -> str | None:
        try:
            return self._inner.credential(credentials)
        except Exception as error:
            self._report(error)
            return None

    def verify(self, credential: str, now: float | None = None) -> Verified | Rejected:
        try:
            return self._inner.verify(credential, now)
        except Exception as error:
            self._report(error)
            return Rejected(Reason.VERIFIER_UNAVAILABLE, {"retry_after": _RETRY_AFTER_S})

    def use_logger(self, logger: Any) -> None:
        self._trouble.logger = logger
        use_logger = getattr(self._inner, "use_logger", None)
        if callable(use_logger):
            use_logger(logger)

    def _report(self, error: Exception) -> None:
        self._trouble.report("verifier_error", error, checked_by=type(self._inner).__name__)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"Guarded({self._inner!r})"
