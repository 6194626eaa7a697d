"""The `RateLimit-Policy` and `RateLimit` fields (R29,
draft-ietf-httpapi-ratelimit-headers): Structured Field lists of named
quota items, `"name";q=<quota>;w=<window s>` and `"name";r=<remaining>;
t=<seconds until the quota resets>`. Written in one place for the 429 the
core builds and for the counted failures the throttle annotates."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Quota", "ratelimit_fields"]


class Quota(NamedTuple):
    """One quota policy and where a client stands in it."""

    name: str  # a token: letters, digits and '-' only (ours, never the client's)
    quota: int
    window_s: int
    remaining: int
    reset_s: int


def ratelimit_fields(quotas: list[Quota]) -> list[tuple[str, str]]:
    if not quotas:
        return []
    policy = ", ".join(f'"{q.name}";q={q.quota};w={q.window_s}' for q in quotas)
    state = ", ".join(f'"{q.name}";r={q.remaining};t={q.reset_s}' for q in quotas)
    return [("ratelimit-policy", policy), ("ratelimit", state)]
