"""A limit as people write it ("30/minute", "5 per 10 minutes"), read with
the `limits` library's own grammar, so a limit copied from a slowapi or
Flask-Limiter configuration means the same here. The text is bounded and
held to one limit before `limits` sees it, and every way it can be wrong is
a `PolicyError` that says what to write instead."""

from __future__ import annotations

import re
from dataclasses import dataclass

from authhygiene.core.option_error import PolicyError

__all__ = ["Limit", "parse_limit"]

_MAX_CHARS = 64
_MAX_AMOUNT = 1_000_000
_MAX_WINDOW_S = 7 * 86_400
# `limits` reads "5/0 minutes" as five a minute; a zero window is a typo.
_ZERO_WINDOW_RE = re.compile(r"(?:/|\bper)\s*0+\s*[A-Za-z]")
_EXAMPLE = "'5/minute', '30 per 10 minutes' or '100/hour'"


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `amount` failures in any `window_s` seconds."""

    amount: int
    window_s: int
    text: str

    def __str__(self) -> str:
        return self.text


def parse_limit(name: str, value: object) -> Limit:
    """`value` (one of the Throttle's limits, called `name`) as a Limit."""
    if isinstance(value, Limit):
        return value
    if not isinstance(value, str):
        raise PolicyError(
            f"authhygiene: Throttle({name}=...) takes a limit such as {_EXAMPLE},"
            f" or None to count nothing by it; got {type(value).__name__}."
        )
    text = value.strip()
    if len(text) > _MAX_CHARS or any(sep in text for sep in ";,|") or _ZERO_WINDOW_RE.search(text):
        raise PolicyError(
            f"authhygiene: Throttle({name}=...) takes one limit of at most {_MAX_CHARS}"
            f" characters, such as {_EXAMPLE}."
        )
    try:
        import limits
    except ImportError:
        raise PolicyError(
            "authhygiene: Throttle needs the limits library: pip install 'authhygiene[throttle]'"
            " (or 'authhygiene[redis]' to count in Redis)."
        ) from None
    try:
        item = limits.parse(text)
    except ValueError:
        raise PolicyError(
            f"authhygiene: Throttle({name}=...) could not be read as a limit; write it as"
            f" {_EXAMPLE}."
        ) from None
    amount, window = int(item.amount), int(item.get_expiry())
    if not 1 <= amount <= _MAX_AMOUNT or not 1 <= window <= _MAX_WINDOW_S:
        raise PolicyError(
            f"authhygiene: Throttle({name}=...) must allow 1 to {_MAX_AMOUNT:,} failures in a"
            f" window of one second to seven days, such as {_EXAMPLE}."
        )
    return Limit(amount, window, text)
