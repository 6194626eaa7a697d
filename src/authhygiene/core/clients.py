"""Who the client was, for the log: the socket's peer, or the address a
proxy we trust says it forwarded for.

`X-Forwarded-For` and `Forwarded` (RFC 7239) are written by whoever sends
the request, so they are read only when the socket's peer is one of the
configured `trusted_proxies`, and then from the right: each trusted hop is
skipped, and the first address that is not trusted is the client. Anything
left of it was written by the client itself and proves nothing. This is the
rule uvicorn's `--forwarded-allow-ips` and nginx's `real_ip_recursive`
follow.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from authhygiene.core.credentials import RequestView
from authhygiene.core.option_error import PolicyError
from authhygiene.core.redact import remember

__all__ = [
    "TrustedProxies",
    "client_address",
    "forwarded_value",
    "peer_trusted",
    "trusted_proxies",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAX_FORWARDED_CHARS = 4096
_MAX_HOPS = 32
# RFC 7239 §6: node = nodename [ ":" node-port ]; nodename = IPv4address /
# "[" IPv6address "]" / "unknown" / obfnode ("_" 1*( ALPHA / DIGIT / "." / "_" / "-")).
_OBFUSCATED_RE = re.compile(r"_[A-Za-z0-9._\-]{1,64}")
# RFC 7239 §4: forwarded-pair = token "=" value, pairs joined by ";". Read
# pair by pair from the start, so a `for=` inside a quoted value of another
# pair (`host="a;for=1.1.1.1"`) is no pair of its own.
_PAIR_RE = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;"]*)\s*(?:;|$)'
)


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The proxies whose forwarding headers we believe."""

    networks: tuple[Network, ...] = ()
    # "unix": a peer on a Unix socket (no address) is the local proxy.
    unix: bool = False
    # "*": every hop is trusted, so the leftmost address is the client.
    everyone: bool = False

    def __bool__(self) -> bool:
        return bool(self.networks) or self.unix or self.everyone

    def trusts(self, address: Address | None) -> bool:
        if self.everyone:
            return True
        if address is None:
            return self.unix
        return any(address in network for network in self.networks)


def trusted_proxies(value: object) -> TrustedProxies:
    """Validate the `trusted_proxies` option: addresses and CIDR ranges,
    "unix" for a Unix-socket peer, or "*" to trust every hop."""
    if isinstance(value, TrustedProxies):
        return value
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, Iterable):
        raise PolicyError(
            "authhygiene: trusted_proxies must be a sequence of addresses or CIDR ranges,"
            " e.g. ('10.0.0.0/8', '127.0.0.1')."
        )
    networks: list[Network] = []
    unix = everyone = False
    for item in cast(Iterable[object], value):
        if item == "*":
            everyone = True
            continue
        if item in ("unix", "unix:"):
            unix = True
            continue
        if not isinstance(item, str):
            raise PolicyError(f"authhygiene: trusted_proxies contains {item!r}, not a string.")
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise PolicyError(
                f"authhygiene: trusted_proxies contains {item!r}, which is not an IP address"
                " or a CIDR range such as '10.0.0.0/8'; use 'unix' for a proxy on a Unix"
                " socket and '*' only when every hop in front of the app is yours."
            ) from None
    return TrustedProxies(tuple(networks), unix, everyone)


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    # An IPv6 zone ("fe80::1%eth0") is any text the sender likes: dropped.
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _node(text: str) -> str:
    """An address from one hop, without port, brackets or quotes; the text
    itself only for RFC 7239's "unknown" and obfuscated identifiers."""
    text = text.strip().strip('"').strip()
    if text.startswith("["):
        host = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        host = text.split(":", 1)[0]  # IPv4 with a port, as some proxies write it
    else:
        host = text
    address = _address(host)
    if address is not None:
        return str(address)
    if _OBFUSCATED_RE.fullmatch(host):
        return host
    return "unknown"


def _rightmost(values: list[str]) -> tuple[list[str], bool]:
    """The header's elements, from the right (where each proxy appends its
    own), at most `_MAX_HOPS` of them within the last `_MAX_FORWARDED_CHARS`
    characters of the fields joined in order; and whether more were left
    out on the left. The work is bounded whatever the client sent."""
    kept: list[str] = []
    size = 0
    for value in reversed(values):
        kept.append(value)
        size += len(value) + 1
        if size > _MAX_FORWARDED_CHARS:
            break
    text = ",".join(reversed(kept))
    cut = len(kept) < len(values) or len(text) > _MAX_FORWARDED_CHARS
    elements = text[-_MAX_FORWARDED_CHARS:].split(",")
    if len(text) > _MAX_FORWARDED_CHARS:
        elements = elements[1:]  # the leftmost element was cut in two
    if len(elements) > _MAX_HOPS:
        elements, cut = elements[-_MAX_HOPS:], True
    return elements, cut


def forwarded_value(element: str, name: str) -> str | None:
    """The value of pair `name` (`for`, `proto`, `host`) of one Forwarded
    element, as written (quoted or not); None when it has none."""
    position = 0
    while position < len(element):
        pair = _PAIR_RE.match(element, position)
        if pair is None or pair.end() == position:
            return None  # not a forwarded-pair: nothing read past it
        if pair.group(1).lower() == name:
            return pair.group(2)
        position = pair.end()
    return None


def _for_value(element: str) -> str | None:
    return forwarded_value(element, "for")


def _forwarded_hops(view: RequestView) -> list[str] | None:
    """The hops RFC 7239 `Forwarded` names, left to right; None when no
    element of it names one (`Forwarded: proto=https`). When the bounds left
    some out, the leftmost is "unknown": a walk that gets that far cannot
    tell who the client was."""
    forwarded = view.get_all("forwarded")
    if not forwarded:
        return None
    elements, cut = _rightmost(forwarded)
    values = [_for_value(element) for element in elements]
    if all(value is None for value in values):
        return None
    hops = [_node(value) if value is not None else "unknown" for value in values]
    return ["unknown", *hops] if cut else hops


def _forwarded_for_hops(view: RequestView) -> list[str] | None:
    """The hops `X-Forwarded-For` names, left to right; None without it."""
    values = view.get_all("x-forwarded-for")
    if not values:
        return None
    elements, cut = _rightmost(values)
    # An empty element (", ,") names no hop.
    hops = [_node(hop) for hop in elements if hop.strip()]
    return ["unknown", *hops] if cut else hops


def _walk(trusted: TrustedProxies, client: str | None, hops: list[str]) -> str | None:
    """From the socket peer leftwards, past the hops our proxies vouch for."""
    for hop in reversed(hops):
        client = hop
        address = _address(hop)
        # A hop that is no address ("unknown", an obfuscated name) is never
        # a proxy of ours: it is the client as far as anyone can tell.
        if (address is None and not trusted.everyone) or not trusted.trusts(address):
            break
    return client


# Socket peers as written in the log, by the text the server gave: a client
# that fails once usually fails again. Bounded (cleared when full).
_PEERS: dict[str, str] = {}
_PEER_ENTRIES = 4096
_PEER_CHARS = 64


def _peer(text: str | None) -> str | None:
    if text is None:
        return None
    known = _PEERS.get(text)
    if known is None:
        address = _address(text)
        known = str(address) if address is not None else text
        remember(_PEERS, text, known, len(text), max_chars=_PEER_CHARS, entries=_PEER_ENTRIES)
    return known


def peer_trusted(trusted: TrustedProxies, view: RequestView) -> bool:
    """Whether the socket's peer is one of our proxies (its forwarding
    headers are then believed)."""
    return trusted.trusts(_address(view.client))


def client_address(trusted: TrustedProxies, view: RequestView) -> str | None:
    """The client as far as the trusted proxies vouch for it."""
    if not trusted:
        return _peer(view.client) if view.client else view.client
    peer = _address(view.client)
    if not trusted.trusts(peer):
        return str(peer) if peer is not None else view.client
    client = str(peer) if peer is not None else view.client
    forwarded, forwarded_for = _forwarded_hops(view), _forwarded_for_hops(view)
    if forwarded is None or forwarded_for is None:
        return _walk(trusted, client, forwarded or forwarded_for or [])
    # Both: a proxy appends to one of them and passes the other on as the
    # client wrote it, and which one is not ours to know. Where they agree,
    # that is the client; where they do not, nobody can tell.
    one, other = _walk(trusted, client, forwarded), _walk(trusted, client, forwarded_for)
    return one if one == other else "unknown"
