"""The one exception every start-up validation raises.

Its own module so that `policy` and `cors`, which both validate options,
raise the same type without importing each other."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["PolicyError", "refuse_unknown"]


class PolicyError(ValueError):
    """A middleware option is wrong; the message says what to change."""


def refuse_unknown(given: Iterable[object], known: Iterable[str], what: str = "") -> None:
    """Raise for the first of `given` not among `known` option names, with
    the closest known name and the whole list. `what` names the option
    group ("CORS "), empty for the middleware's own."""
    names = sorted(known)
    for name in given:
        if name not in names:
            close = difflib.get_close_matches(str(name), names, n=1)
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            raise PolicyError(
                f"authhygiene: unknown {what}option {name!r}.{suggestion}"
                f" Known options: {', '.join(names)}."
            )
