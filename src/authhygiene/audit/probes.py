"""The probes: a bounded battery of requests that each ask one question of
a server's auth layer.

Every probe is one request; the battery is at most `MAX_PROBES` of them,
sent one at a time by whoever runs it. Each says what kind of answer the
rules expect (`Expect`), and which strings it carried that must never come
back (`secrets`): the garbage token a probe makes up is random per run, so
an echo of it is an echo, never a coincidence.
"""

from __future__ import annotations

import base64
import secrets as _secrets
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MAX_PROBES", "USER_AGENT", "Expect", "Probe", "battery"]

MAX_PROBES = 40
USER_AGENT = "authhygiene-audit (+https://pypi.org/project/authhygiene/)"


class Expect(StrEnum):
    """What the rules expect of the answer to a probe."""

    ANONYMOUS = "anonymous"  # 401, a challenge without an RFC 6750 error
    OTHER_SCHEME = "other_scheme"  # 401, a challenge without an error
    MALFORMED = "malformed"  # 400 invalid_request (or at least a refusal)
    INVALID = "invalid"  # 401 invalid_token
    EXPIRED = "expired"  # 401 invalid_token
    SCOPELESS = "scopeless"  # 403 insufficient_scope
    VALID = "valid"  # not refused
    PREFLIGHT = "preflight"  # 2xx, never a refusal
    QUERY_TOKEN = "query_token"  # refused; the token never echoed


@dataclass(frozen=True, slots=True)
class Probe:
    """One request of the battery."""

    name: str
    method: str
    target: str  # path and query, as sent
    headers: tuple[tuple[str, str], ...]
    expect: Expect
    secrets: tuple[str, ...] = ()
    # A cross-origin request from this origin (its answer must be readable).
    origin: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def _made_up_token() -> str:
    """A token no server issued, random per run, JWT-shaped so that JWT
    parsers read it as far as they do with real ones."""

    def part(size: int) -> str:
        return base64.urlsafe_b64encode(_secrets.token_bytes(size)).rstrip(b"=").decode()

    return f"eyJhbGciOiJIUzI1NiJ9.{part(24)}.{part(32)}"


def battery(
    path: str = "/",
    *,
    token: str | None = None,
    expired_token: str | None = None,
    scopeless_token: str | None = None,
    scope_path: str | None = None,
    origin: str | None = None,
) -> tuple[Probe, ...]:
    """The probes for `path` (a protected resource): the ones every server
    gets, and those the given tokens and origin make possible. A token or
    origin that no header can carry raises ValueError naming the option,
    never the value."""
    for option, value in (
        ("token", token),
        ("expired-token", expired_token),
        ("scopeless-token", scopeless_token),
        ("origin", origin),
    ):
        if value is not None and not _header_safe(value):
            raise ValueError(
                f"--{option} holds characters no HTTP header can carry (control characters,"
                " line breaks or non-ASCII); give it as sent on the wire."
            )
    garbage = _made_up_token()
    query_token = _made_up_token()
    sep = "&" if "?" in path else "?"
    probes = [
        Probe("anonymous", "GET", path, (), Expect.ANONYMOUS),
        Probe("anonymous-head", "HEAD", path, (), Expect.ANONYMOUS),
        Probe(
            "other-scheme",
            "GET",
            path,
            (("Authorization", 'Digest username="audit"'),),
            Expect.OTHER_SCHEME,
        ),
        Probe("garbage-token", "GET", path, _bearer(garbage), Expect.INVALID, (garbage,)),
        Probe("empty-bearer", "GET", path, (("Authorization", "Bearer"),), Expect.MALFORMED),
        Probe(
            "bearer-twice",
            "GET",
            path,
            (("Authorization", f"Bearer Bearer {garbage}"),),
            Expect.MALFORMED,
            (garbage,),
        ),
        Probe(
            "quoted-token",
            "GET",
            path,
            (("Authorization", f'Bearer "{garbage}"'),),
            Expect.MALFORMED,
            (garbage,),
        ),
        Probe(
            "two-authorization-headers",
            "GET",
            path,
            (*_bearer(garbage), *_bearer(query_token)),
            Expect.MALFORMED,
            (garbage, query_token),
        ),
        Probe(
            "token-in-query",
            "GET",
            f"{path}{sep}access_token={query_token}",
            (),
            Expect.QUERY_TOKEN,
            (query_token,),
        ),
    ]
    if token is not None:
        probes.append(Probe("valid-token", "GET", path, _bearer(token), Expect.VALID, (token,)))
    if expired_token is not None:
        probes.append(
            Probe(
                "expired-token",
                "GET",
                path,
                _bearer(expired_token),
                Expect.EXPIRED,
                (expired_token,),
            )
        )
    if scopeless_token is not None:
        probes.append(
            Probe(
                "scopeless-token",
                "GET",
                scope_path or path,
                _bearer(scopeless_token),
                Expect.SCOPELESS,
                (scopeless_token,),
            )
        )
    if origin is not None:
        probes.append(
            Probe(
                "cross-origin-garbage-token",
                "GET",
                path,
                (*_bearer(garbage), ("Origin", origin)),
                Expect.INVALID,
                (garbage,),
                origin,
            )
        )
        probes.append(
            Probe(
                "preflight",
                "OPTIONS",
                path,
                (
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "GET"),
                    ("Access-Control-Request-Headers", "authorization"),
                ),
                Expect.PREFLIGHT,
                (),
                origin,
            )
        )
    probes = [_with_agent(probe) for probe in probes]
    assert len(probes) <= MAX_PROBES
    return tuple(probes)


def _header_safe(value: str) -> bool:
    """Printable ASCII, no line break: what a header field value may hold."""
    return bool(value) and value.isascii() and value.isprintable() and value.strip() == value


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token}"),)


def _with_agent(probe: Probe) -> Probe:
    return Probe(
        probe.name,
        probe.method,
        probe.target,
        (("User-Agent", USER_AGENT), *probe.headers),
        probe.expect,
        probe.secrets,
        probe.origin,
    )
