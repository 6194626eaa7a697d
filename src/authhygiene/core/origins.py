"""Origins: what browsers send in `Origin`, and what an allow-list may hold.

Both sides are held to the serialisation browsers use (HTML "serialization
of an origin", WHATWG URL host serialisation), so that an allow-list entry
matches exactly the value a browser sends, and nothing a browser would
never send is ever reflected. Origin patterns are judged in
`origin_patterns`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from authhygiene.core.option_error import PolicyError
from authhygiene.core.redact import remember

__all__ = ["MAX_ORIGIN", "normalise_origin", "request_origin"]

MAX_ORIGIN = 512
# An origin as browsers serialise it (Fetch §3.2.5 / HTML "serialization of
# an origin"): lowercase scheme and host, a port only when not the default.
_LABEL = r"[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?"
_ORIGIN_RE = re.compile(
    rf"[a-z][a-z0-9+.\-]*://(?:\[[0-9a-f:.]+\]|{_LABEL}(?:\.{_LABEL})*)(?::[0-9]{{1,5}})?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


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


# Origins already checked against the grammar: the same few arrive on every
# request of a browser app, and the match is the step's costliest part.
_CHECKED: dict[str, bool] = {}
_CHECKED_MAX = 1024


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
        if len(origin) > MAX_ORIGIN:
            return None  # never checked, never kept: a client may send 15 KB origins
        known = _ORIGIN_RE.fullmatch(origin) is not None
        # Bounded in bytes as well as entries: keys are at most MAX_ORIGIN long.
        remember(_CHECKED, origin, known, len(origin), max_chars=MAX_ORIGIN, entries=_CHECKED_MAX)
    return origin if known else None
