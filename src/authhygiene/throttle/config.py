"""`Throttle(...)`: the options of failed-authentication throttling, checked
when the middleware is built (a typo fails start-up, with what to write)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from authhygiene.core.option_error import PolicyError
from authhygiene.throttle.limit_text import Limit, parse_limit

__all__ = ["Throttle", "throttle_option"]

_STORAGE_SCHEMES = ("memory", "redis", "rediss", "unix")
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
_EXAMPLE_STORAGE = "'memory://' or 'redis://localhost:6379/0'"


@dataclass(frozen=True, slots=True)
class Throttle:
    """Count the failures authhygiene answers (401, and 400 for malformed
    credentials) per client address and per credential; refuse a key over
    its limit with 429 `too_many_failures` before the app runs.

    ``Throttle()`` counts in this process; ``Throttle(storage="redis://...")``
    counts for the whole fleet. ``mode="shadow"`` counts and logs what it
    would refuse without refusing. With Redis down, ``on_storage_error``
    "open" stops throttling (logged once a minute), "closed" answers the
    failures it cannot count 503.
    """

    per_client: str | Limit | None = "30/minute"
    per_credential: str | Limit | None = "5/minute"
    storage: str = field(default="memory://", repr=False)  # a URL may hold a password
    mode: Literal["enforce", "shadow"] = "enforce"
    on_storage_error: Literal["open", "closed"] = "open"
    # Seconds: connecting to Redis and each of its replies.
    timeout: float = 0.25
    # Keys counted (memory) and blocks held (every worker), each at most.
    max_entries: int = 100_000
    key_prefix: str = "authhygiene"
    # A 401 to a request that presented no credentials we can see is
    # counted by address too: an app's own credential header we do not know
    # of would otherwise give guesses in it for free. False leaves them out
    # (pages that poll anonymously behind one office address).
    count_anonymous: bool = True
    # The counts and blocks of this Throttle in this process (`gate`): one
    # per Throttle, however many middleware instances are built from it
    # (Django's test client builds one per client).
    _state: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("per_client", "per_credential"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_limit(name, value))
        if self.per_client is None and self.per_credential is None:
            raise PolicyError(
                "authhygiene: Throttle() needs per_client or per_credential (or both), e.g."
                " Throttle(per_client='30/minute', per_credential='5/minute')."
            )
        _check_storage(self.storage)
        _check_choice("mode", self.mode, ("enforce", "shadow"))
        _check_choice("on_storage_error", self.on_storage_error, ("open", "closed"))
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0.001 <= timeout <= 10
        ):
            raise PolicyError("authhygiene: Throttle(timeout=...) is seconds, from 0.001 to 10.")
        entries = self.max_entries
        if (
            isinstance(entries, bool)
            or not isinstance(entries, int)
            or not 16 <= entries <= 10_000_000
        ):
            raise PolicyError(
                "authhygiene: Throttle(max_entries=...) is an int from 16 to 10,000,000."
            )
        if not isinstance(self.key_prefix, str) or not _PREFIX_RE.fullmatch(self.key_prefix):
            raise PolicyError(
                "authhygiene: Throttle(key_prefix=...) is 1 to 32 letters, digits, '_', '.' or '-'."
            )
        if not isinstance(self.count_anonymous, bool):
            raise PolicyError("authhygiene: Throttle(count_anonymous=...) must be True or False.")

    @property
    def client_limit(self) -> Limit | None:
        return self.per_client if isinstance(self.per_client, Limit) else None

    @property
    def credential_limit(self) -> Limit | None:
        return self.per_credential if isinstance(self.per_credential, Limit) else None

    @property
    def fleet(self) -> bool:
        """Whether counts are shared through Redis."""
        return not self.storage.startswith("memory:")


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise PolicyError(
            f"authhygiene: Throttle({name}=...) is one of {', '.join(map(repr, allowed))}."
        )


def _check_storage(storage: object) -> None:
    if not isinstance(storage, str) or len(storage) > 2048:
        raise PolicyError(
            f"authhygiene: Throttle(storage=...) is a URL such as {_EXAMPLE_STORAGE}."
        )
    try:
        scheme = urlsplit(storage).scheme
    except ValueError:
        scheme = ""
    if scheme not in _STORAGE_SCHEMES or "://" not in storage:
        # The URL itself is not repeated: it may hold Redis's password.
        raise PolicyError(
            f"authhygiene: Throttle(storage=...) starts with one of"
            f" {', '.join(s + '://' for s in _STORAGE_SCHEMES)}, such as {_EXAMPLE_STORAGE}."
        )
    if scheme != "memory" and importlib.util.find_spec("redis") is None:
        raise PolicyError(
            "authhygiene: Throttle(storage='redis://...') needs the redis client:"
            " pip install 'authhygiene[redis]'."
        )


# Django settings hold the options as a dict, read again by every middleware
# instance: one Throttle per dict, so that they share one state.
_FROM_SETTINGS: dict[int, tuple[Mapping[str, Any], Throttle]] = {}
_FROM_SETTINGS_MAX = 64


def throttle_option(value: object) -> Throttle:
    """The `throttle=` option: a Throttle, or its options as a mapping
    (Django settings)."""
    if isinstance(value, Throttle):
        return value
    if isinstance(value, Mapping):
        known = _FROM_SETTINGS.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        throttle = _from_mapping(value)
        if len(_FROM_SETTINGS) >= _FROM_SETTINGS_MAX:
            _FROM_SETTINGS.clear()
        _FROM_SETTINGS[id(value)] = (value, throttle)
        return throttle
    raise PolicyError(
        "authhygiene: throttle= takes authhygiene.Throttle(...) (or, in Django settings, a dict"
        " of its options), e.g. Throttle(per_credential='5/minute', storage='redis://...')."
    )


def _from_mapping(value: Mapping[Any, Any]) -> Throttle:
    known = {f.name for f in fields(Throttle) if f.init}
    unknown = sorted(str(name) for name in value if name not in known)
    if unknown:
        raise PolicyError(
            f"authhygiene: throttle has no option {unknown[0]!r}; known options:"
            f" {', '.join(sorted(known))}."
        )
    options: dict[str, Any] = dict(value)
    return Throttle(**options)
