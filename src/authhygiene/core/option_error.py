"""The one exception every start-up validation raises.

Its own module so that `policy` and `cors`, which both validate options,
raise the same type without importing each other."""

from __future__ import annotations

__all__ = ["PolicyError"]


class PolicyError(ValueError):
    """A middleware option is wrong; the message says what to change."""
