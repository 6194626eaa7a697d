"""A verifier's own trouble (the app's check raised, the issuer's JWKS is
down) as an `auth.misconfig` event: once a minute per verifier and kind, by
the error's type alone (its text may hold the credential), to the logger
the middleware hands over at start-up."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from authhygiene.logging import default_logger

__all__ = ["Trouble"]

_EVERY_S = 60.0


class Trouble:
    """Where one verifier reports; thread-safe, never raises."""

    __slots__ = ("_last", "_lock", "logger")

    def __init__(self) -> None:
        self.logger: Any = None
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def report(self, kind: str, error: BaseException, **facts: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -_EVERY_S) < _EVERY_S:
                return
            self._last[kind] = now
        with contextlib.suppress(Exception):  # the app's logger must not break a refusal
            logger = self.logger if self.logger is not None else default_logger()
            logger.warning("auth.misconfig", kind=kind, error=type(error).__name__, **facts)
