"""Origins: what browsers send in `Origin`, and what an allow-list may hold.

Both sides are held to the serialisation browsers use (HTML "serialization
of an origin", WHATWG URL host serialisation), so that an allow-list entry
matches exactly the value a browser sends, and nothing a browser would
never send is ever reflected. Origin patterns get the checks that catch the
usual ways a regex lets other sites in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from authhygiene.core.option_error import PolicyError

__all__ = [
    "MAX_ORIGIN",
    "check_regex",
    "matches_any_site",
    "normalise_origin",
    "request_origin",
]

MAX_ORIGIN = 512
# An origin as browsers serialise it (Fetch §3.2.5 / HTML "serialization of
# an origin"): lowercase scheme and host, a port only when not the default.
_LABEL = r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?"
_ORIGIN_RE = re.compile(
    rf"[a-z][a-z0-9+.\-]*://(?:\[[0-9a-f:.]+\]|{_LABEL}(?:\.{_LABEL})*)(?::[0-9]{{1,5}})?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Origins no sane allow-list contains: a regex matching them matches anything.
_UNRELATED_ORIGINS = (
    "https://attacker.invalid",
    "http://attacker.invalid:8080",
    "https://evil-example.com",
)


def normalise_origin(value: str) -> str:
    """`scheme://host[:port]` as a browser would send it, or PolicyError."""
    if value == "*":
        return value
    raw = value.strip()
    if raw == "null":
        raise PolicyError(
            "authhygiene: CORS allow_origins lists 'null'; sandboxed iframes, file: pages and"
            " redirects all send it, so allowing it allows anyone. Remove it."
        )
    if "*" in raw:
        raise PolicyError(
            f"authhygiene: CORS origin {value!r} has a wildcard; allow_origins takes exact"
            " origins. For subdomains use allow_origin_regex, e.g."
            r" allow_origin_regex=r'https://[a-z0-9-]+\.example\.com'."
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise PolicyError(
            f"authhygiene: CORS origin {value!r} is not a URL origin: {exc}."
        ) from exc
    if not parts.scheme or not parts.hostname or "://" not in raw:
        raise PolicyError(
            f"authhygiene: CORS origin {value!r} needs a scheme and a host, e.g."
            " 'https://app.example.com'."
        )
    if parts.username is not None or parts.password is not None:
        raise PolicyError(f"authhygiene: CORS origin {value!r} must not contain user information.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw[-1] in "?#":
        raise PolicyError(
            f"authhygiene: CORS origin {value!r} has a path, query or fragment; an origin is"
            f" only scheme://host[:port], e.g. {parts.scheme}://{parts.netloc}."
        )
    host = parts.hostname
    if not host.isascii():
        # Browsers send IDNs in their UTS #46 A-label form; Python's "idna"
        # codec is IDNA 2003 and differs (ß, ς, joiners), so we do not guess.
        raise PolicyError(
            f"authhygiene: CORS origin {value!r} has a non-ASCII host; write it as browsers send"
            " it in the Origin header, in its ASCII 'xn--' form (the address bar's punycode)."
        )
    if ":" in host:
        try:
            host = f"[{_ipv6_text(host)}]"
        except ValueError as exc:
            raise PolicyError(
                f"authhygiene: CORS origin {value!r} has an invalid IPv6 address: {exc}."
            ) from exc
    scheme = parts.scheme.lower()
    origin = f"{scheme}://{host}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        origin += f":{port}"
    if _ORIGIN_RE.fullmatch(origin) is None or len(origin) > MAX_ORIGIN:
        raise PolicyError(
            f"authhygiene: CORS origin {value!r} is not an origin a browser sends; write it as"
            " scheme://host[:port] with a host of dot-separated letters, digits and hyphens"
            f" (no empty label, no trailing dot), at most {MAX_ORIGIN} characters."
        )
    return origin


def _ipv6_text(host: str) -> str:
    """The WHATWG URL serialisation of an IPv6 host: eight lowercase hex
    pieces, the first longest run of two or more zero pieces as `::` (never
    the dotted IPv4 tail Python prints for mapped addresses)."""
    pieces = [
        int.from_bytes(ipaddress.IPv6Address(host).packed[i : i + 2], "big")
        for i in range(0, 16, 2)
    ]
    best_start, best_len = -1, 1
    start = None
    for index, piece in enumerate([*pieces, 1]):
        if piece == 0 and start is None:
            start = index
        elif piece != 0 and start is not None:
            if index - start > best_len:
                best_start, best_len = start, index - start
            start = None
    text = [f"{piece:x}" for piece in pieces]
    if best_start < 0:
        return ":".join(text)
    return ":".join(text[:best_start]) + "::" + ":".join(text[best_start + best_len :])


_MAX_SAMPLES = 64
# Strings a pattern matches, each with a bare `.` written as "." and as "x".
_Samples = list[tuple[str, str]]
# Characters a sample prefers for a class: what origins are made of.
_PREFERRED = "abcdefghijklmnopqrstuvwxyz987654321-0._:/"


def _class_char(items: Any) -> str | None:
    """A character of a regex class, preferring those origins are made of."""
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    covered: list[tuple[int, int]] = []
    for op, arg in items[1:] if negate else items:
        name = str(op)
        if name == "LITERAL":
            covered.append((arg, arg))
        elif name == "RANGE":
            covered.append((arg[0], arg[1]))
        elif name == "CATEGORY":
            covered.extend(
                {
                    "CATEGORY_DIGIT": [(48, 57)],
                    "CATEGORY_WORD": [(48, 57), (65, 90), (95, 95), (97, 122)],
                }.get(str(arg), [])
            )
        else:
            return None
    for char in _PREFERRED + "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        inside = any(lo <= ord(char) <= hi for lo, hi in covered)
        if inside != negate:
            return char
    return None if negate or not covered else chr(covered[0][0])


def _samples(pattern: str, *, fewest: bool) -> list[tuple[str, str]] | None:
    """Strings the regex matches, one per combination of its alternatives
    (bounded), each as a pair: a bare `.` written as "." and as "x". With
    `fewest`, every repeat its minimum; else at least once (`.*` is "a").
    None for a construct this reading does not follow (look-arounds...)."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern)
    except Exception:  # pragma: no cover - compiled fine just before
        return None

    def add(acc: _Samples, dot: str, x: str) -> _Samples:
        return [(d + dot, e + x) for d, e in acc]

    def walk(items: Any, repeated: bool, acc: _Samples) -> _Samples | None:
        for op, arg in items:
            name = str(op)
            found: _Samples | None = acc
            if name == "LITERAL":
                found = add(acc, chr(arg), chr(arg))
            elif name == "NOT_LITERAL":
                other = "b" if chr(arg) == "a" else "a"
                found = add(acc, other, other)
            elif name == "ANY":
                found = add(acc, "a", "a") if repeated else add(acc, ".", "x")
            elif name == "IN":
                char = _class_char(arg)
                found = None if char is None else add(acc, char, char)
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, sub = arg
                count = low if fewest else max(low, min(1, high))
                for _ in range(min(count, 64)):
                    found = walk(sub, True, found) if found is not None else None
            elif name == "SUBPATTERN":
                found = walk(arg[-1], repeated, acc)
            elif name == "ATOMIC_GROUP":
                found = walk(arg, repeated, acc)
            elif name == "BRANCH":
                alternatives: _Samples = []
                for alternative in arg[1]:
                    one = walk(alternative, repeated, acc)
                    if one is None:
                        return None
                    alternatives.extend(one)
                found = alternatives[:_MAX_SAMPLES]
            elif name != "AT":
                return None
            if found is None:
                return None
            acc = found
        return acc

    return walk(parsed, False, [("", "")])


def _is_origin(text: str) -> bool:
    try:
        return normalise_origin(text) == text
    except PolicyError:
        return False


def check_regex(pattern: str, regex: re.Pattern[str], *, credentials: bool) -> None:
    """Refuse an origin pattern that lets other sites in, or never matches.

    Each alternative is tried: origins derived from what it matches (a host
    going on after yours, `https://example\\.com.*`; a host merely ending with
    your domain, `https://.*example\\.com`; a bare `.` taken literally) and
    unrelated sites. An alternative that only matches what browsers never
    send (uppercase, a path or trailing slash, a default port) is refused too,
    since it would silently allow nothing."""
    option = f"authhygiene: CORS allow_origin_regex={pattern!r}"
    attacks = list(_UNRELATED_ORIGINS)
    matches_anything = any(regex.fullmatch(attack) for attack in attacks)
    fewest = _samples(pattern, fewest=True) or []
    once = _samples(pattern, fewest=False) or []
    for (low, _), (sample, dotted) in zip(fewest, once, strict=False):
        if sample != sample.lower():
            raise PolicyError(
                f"{option} has uppercase letters, but browsers send origins in lowercase, so"
                f" {sample!r} would never match; write it in lowercase."
            )
        if not matches_anything and not _is_origin(low) and not _is_origin(sample):
            raise PolicyError(
                f"{option} matches only values like {sample!r}, which browsers never send in"
                " Origin (they send scheme://host[:port], lowercase, without a path, a trailing"
                " slash or a default port), so it would allow nothing; write the origin itself."
            )
        if "://" in sample:
            scheme, host = sample.split("://", 1)
            attacks.append(sample + ".attacker.invalid")
            labels = host.split(":")[0].split(".")
            if len(labels) >= 2 and all(labels[-2:]):
                attacks.append(f"{scheme}://attacker{'.'.join(labels[-2:])}")
        if credentials and dotted != sample and regex.fullmatch(dotted):
            raise PolicyError(
                f"{option} has an unescaped '.', which matches any character ({dotted!r}"
                r" matches); write '\.' for a dot, e.g. r'https://app\.example\.com'."
            )
    if not credentials:
        return
    for attack in attacks:
        if regex.fullmatch(attack):
            raise PolicyError(
                f"{option} matches {attack!r}, so with allow_credentials=True that site could"
                " read your users' authenticated responses. Anchor every alternative to your own"
                " hosts: escape the dots, end it at the host (or port), and start subdomains"
                r" after a dot, e.g. r'https://[a-z0-9-]+\.example\.com'."
            )


def matches_any_site(match: Callable[[str], object]) -> bool:
    """Whether an origin test admits unrelated sites: for reading the app's
    own CORS layer's settings (a regex, a wildcard) the way we read ours."""
    return any(match(origin) for origin in _UNRELATED_ORIGINS)


# Origins already checked against the grammar: the same few arrive on every
# request of a browser app, and the match is the step's costliest part.
_CHECKED: dict[str, bool] = {}
_CHECKED_MAX = 4096


def request_origin(values: Sequence[str]) -> str | None:
    """The request's origin when it is exactly one well-formed serialisation.

    Several Origin fields, `null` (sandboxed frames, file: pages, some
    redirects), oversized, non-ASCII or CR/LF-bearing values are all "no
    origin we would ever reflect" (behaviour 4)."""
    if len(values) != 1:
        return None
    origin = values[0]
    known = _CHECKED.get(origin)
    if known is None:
        known = len(origin) <= MAX_ORIGIN and _ORIGIN_RE.fullmatch(origin) is not None
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()  # bounded: a client may send any number of origins
        _CHECKED[origin] = known
    return origin if known else None
