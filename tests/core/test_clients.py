"""Who the client was, for the log: never an address the client wrote itself.

`X-Forwarded-For` and `Forwarded` are request headers: anyone can send them.
They count only when the socket's peer is a proxy the operator trusts, and
then only from the right, up to the first hop that is not a trusted proxy.
The result lands in a log line, so whatever a header says, it comes back as
an address, "unknown", an RFC 7239 obfuscated name, or the peer.
"""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene.core.clients import TrustedProxies, client_address, trusted_proxies
from authhygiene.core.credentials import RequestView
from authhygiene.core.option_error import PolicyError

# RFC 7239 §6.3: an obfuscated node is "_" and up to 64 characters of ours; an
# address is at most 39 (IPv6). Anything longer came from the header.
MAX_CLIENT_CHARS = 65
OBFUSCATED_RE = re.compile(r"_[A-Za-z0-9._\-]{1,64}")


def view(peer: str | None, *headers: tuple[str, str]) -> RequestView:
    return RequestView(
        method="GET",
        path="/private",
        query="",
        headers=tuple((name.lower(), value) for name, value in headers),
        client=peer,
    )


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


# --- the option -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param((), TrustedProxies(), id="none"),
        pytest.param(("10.0.0.0/8",), TrustedProxies((net("10.0.0.0/8"),)), id="cidr"),
        pytest.param(("127.0.0.1",), TrustedProxies((net("127.0.0.1/32"),)), id="single-ipv4"),
        pytest.param(
            ("::1", "2001:db8::/32"),
            TrustedProxies((net("::1/128"), net("2001:db8::/32"))),
            id="ipv6",
        ),
        # Host bits set: the range it names, as `ip_network(strict=False)` reads it.
        pytest.param(("10.1.2.3/8",), TrustedProxies((net("10.0.0.0/8"),)), id="host-bits"),
        pytest.param(("unix",), TrustedProxies(unix=True), id="unix"),
        pytest.param(("unix:",), TrustedProxies(unix=True), id="unix-colon"),
        pytest.param(("*",), TrustedProxies(everyone=True), id="everyone"),
        pytest.param(
            "10.0.0.0/8, 127.0.0.1 ,unix",
            TrustedProxies((net("10.0.0.0/8"), net("127.0.0.1/32")), unix=True),
            id="comma-string",
        ),
        pytest.param("", TrustedProxies(), id="empty-string"),
        pytest.param(["192.0.2.1"], TrustedProxies((net("192.0.2.1/32"),)), id="list"),
    ],
)
def test_trusted_proxies(value: object, expected: TrustedProxies) -> None:
    parsed = trusted_proxies(value)

    assert parsed == expected
    assert bool(parsed) == bool(expected.networks or expected.unix or expected.everyone)
    assert trusted_proxies(parsed) is parsed


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param(("localhost",), ("'localhost'", "'10.0.0.0/8'", "'unix'", "'*'"), id="name"),
        pytest.param(("10.0.0.0/33",), ("'10.0.0.0/33'", "CIDR range"), id="prefix-too-long"),
        pytest.param(("10.0.0.256",), ("'10.0.0.256'", "not an IP address"), id="bad-octet"),
        pytest.param("10.0.0.0/8; 127.0.0.1", ("'10.0.0.0/8; 127.0.0.1'",), id="semicolons"),
        pytest.param(("",), ("''", "not an IP address"), id="empty-item"),
        pytest.param((10,), ("10", "not a string"), id="int-item"),
        pytest.param((b"10.0.0.1",), ("b'10.0.0.1'", "not a string"), id="bytes-item"),
        pytest.param(10, ("must be a sequence", "('10.0.0.0/8', '127.0.0.1')"), id="int"),
        pytest.param(None, ("must be a sequence",), id="none"),
    ],
)
def test_trusted_proxies_refuses(value: object, words: tuple[str, ...]) -> None:
    with pytest.raises(PolicyError) as raised:
        trusted_proxies(value)

    message = str(raised.value)
    assert message.startswith("authhygiene: trusted_proxies")
    for word in words:
        assert word in message


# --- the client -------------------------------------------------------------------------

NONE = trusted_proxies(())
TEN = trusted_proxies(("10.0.0.0/8",))
LOCAL = trusted_proxies(("127.0.0.1", "::1"))
EVERYONE = trusted_proxies(("*",))
UNIX = trusted_proxies(("unix",))
XFF = "X-Forwarded-For"
FWD = "Forwarded"


@pytest.mark.parametrize(
    ("trusted", "request_view", "expected"),
    [
        # Nothing trusted: the socket's peer, whatever the headers say.
        pytest.param(NONE, view("10.0.0.1"), "10.0.0.1", id="peer"),
        pytest.param(NONE, view("10.0.0.1", (XFF, "1.2.3.4")), "10.0.0.1", id="xff-ignored"),
        pytest.param(NONE, view("10.0.0.1", (FWD, "for=1.2.3.4")), "10.0.0.1", id="fwd-ignored"),
        pytest.param(NONE, view(None, (XFF, "1.2.3.4")), None, id="no-peer"),
        pytest.param(NONE, view("::ffff:10.0.0.1"), "10.0.0.1", id="peer-ipv4-mapped"),
        pytest.param(NONE, view("2001:DB8::1"), "2001:db8::1", id="peer-ipv6-normalised"),
        # An untrusted peer's headers are its own words.
        pytest.param(TEN, view("8.8.8.8", (XFF, "1.2.3.4")), "8.8.8.8", id="untrusted-peer"),
        pytest.param(
            TEN, view("8.8.8.8", (FWD, "for=1.2.3.4")), "8.8.8.8", id="untrusted-peer-fwd"
        ),
        pytest.param(TEN, view(None, (XFF, "1.2.3.4")), None, id="unix-peer-not-trusted"),
        # A trusted peer: from the right, skipping trusted hops.
        pytest.param(TEN, view("10.0.0.1"), "10.0.0.1", id="trusted-no-header"),
        pytest.param(TEN, view("10.0.0.1", (XFF, "1.2.3.4")), "1.2.3.4", id="one-hop"),
        pytest.param(
            TEN, view("10.0.0.1", (XFF, "1.2.3.4, 10.0.0.2")), "1.2.3.4", id="two-proxies"
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (XFF, "6.6.6.6, 7.7.7.7, 1.2.3.4, 10.0.0.2")),
            "1.2.3.4",
            id="spoofed-leftmost-ignored",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (XFF, "10.9.9.9, 10.0.0.3, 10.0.0.2")),
            "10.9.9.9",
            id="all-trusted-leftmost",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (XFF, "6.6.6.6"), (XFF, "1.2.3.4, 10.0.0.2")),
            "1.2.3.4",
            id="several-xff-lines",
        ),
        pytest.param(TEN, view("10.0.0.1", (XFF, "1.2.3.4:5678")), "1.2.3.4", id="ipv4-with-port"),
        pytest.param(TEN, view("10.0.0.1", (XFF, "2001:db8::7")), "2001:db8::7", id="ipv6-bare"),
        pytest.param(
            TEN, view("10.0.0.1", (XFF, "[2001:db8::7]:443")), "2001:db8::7", id="ipv6-port"
        ),
        pytest.param(
            TEN, view("10.0.0.1", (XFF, "::ffff:1.2.3.4")), "1.2.3.4", id="hop-ipv4-mapped"
        ),
        pytest.param(
            TEN,
            view("::ffff:10.0.0.1", (XFF, "1.2.3.4")),
            "1.2.3.4",
            id="peer-ipv4-mapped-trusted",
        ),
        pytest.param(
            TEN, view("10.0.0.1", (XFF, "1.2.3.4, , 10.0.0.2")), "1.2.3.4", id="empty-hop"
        ),
        pytest.param(TEN, view("10.0.0.1", (XFF, "not-an-ip")), "unknown", id="garbage"),
        pytest.param(
            TEN,
            view("10.0.0.1", (XFF, "1.2.3.4, garbage, 10.0.0.2")),
            "unknown",
            id="garbage-hop-stops-the-walk",
        ),
        pytest.param(TEN, view("10.0.0.1", (XFF, "1.2.3.4/8")), "unknown", id="cidr-hop"),
        pytest.param(LOCAL, view("::1", (XFF, "203.0.113.9")), "203.0.113.9", id="ipv6-peer"),
        # RFC 7239.
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, 'for="[2001:db8::1]:4711"')),
            "2001:db8::1",
            id="fwd-ipv6-quoted-port",
        ),
        pytest.param(TEN, view("10.0.0.1", (FWD, "for=_hidden")), "_hidden", id="fwd-obfuscated"),
        pytest.param(TEN, view("10.0.0.1", (FWD, "for=unknown")), "unknown", id="fwd-unknown"),
        pytest.param(TEN, view("10.0.0.1", (FWD, 'for="1.2.3.4"')), "1.2.3.4", id="fwd-quoted"),
        pytest.param(
            TEN, view("10.0.0.1", (FWD, 'for="1.2.3.4:80"')), "1.2.3.4", id="fwd-ipv4-port"
        ),
        pytest.param(TEN, view("10.0.0.1", (FWD, "For=1.2.3.4")), "1.2.3.4", id="fwd-case"),
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "by=10.0.0.1;for=1.2.3.4;proto=https")),
            "1.2.3.4",
            id="fwd-params",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "for=6.6.6.6, for=1.2.3.4, for=10.0.0.2")),
            "1.2.3.4",
            id="fwd-elements",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "for=6.6.6.6"), (FWD, "for=1.2.3.4"), (FWD, "for=10.0.0.3")),
            "1.2.3.4",
            id="fwd-several-headers",
        ),
        # A proxy appends to one header and passes the other on as the
        # client wrote it: where the two disagree, nobody can tell.
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "for=5.5.5.5"), (XFF, "1.2.3.4")),
            "unknown",
            id="fwd-and-xff-disagree",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "for=6.6.6.6"), (XFF, "6.6.6.6, 203.0.113.7")),
            "unknown",
            id="client-written-fwd-behind-an-xff-proxy",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "for=5.5.5.5;proto=https"), (XFF, "5.5.5.5")),
            "5.5.5.5",
            id="fwd-and-xff-agree",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, 'for=6.6.6.6, host="a;for=1.1.1.1";for=203.0.113.7')),
            "203.0.113.7",
            id="for-inside-a-quoted-value-is-no-pair",
        ),
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "for=_gateway, for=10.0.0.2")),
            "_gateway",
            id="fwd-obfuscated-is-not-a-proxy",
        ),
        pytest.param(
            TEN, view("10.0.0.1", (FWD, 'for="1.2.3.4:_p0rt"')), "1.2.3.4", id="fwd-obf-port"
        ),
        # "*": every hop is ours, the leftmost is the client.
        pytest.param(
            EVERYONE,
            view("8.8.8.8", (XFF, "1.2.3.4, 6.6.6.6, 7.7.7.7")),
            "1.2.3.4",
            id="everyone-leftmost",
        ),
        pytest.param(
            EVERYONE,
            view("8.8.8.8", (FWD, "for=unknown, for=7.7.7.7")),
            "unknown",
            id="everyone-leftmost-unknown",
        ),
        # "unix": a proxy on a Unix socket has no address.
        pytest.param(UNIX, view(None, (XFF, "1.2.3.4")), "1.2.3.4", id="unix-peer"),
        pytest.param(UNIX, view("10.0.0.1", (XFF, "1.2.3.4")), "10.0.0.1", id="unix-tcp-peer"),
        # A Forwarded header that names no hop leaves X-Forwarded-For to say.
        pytest.param(
            TEN,
            view("10.0.0.1", (FWD, "proto=https"), (XFF, "1.2.3.4")),
            "1.2.3.4",
            id="fwd-without-for",
        ),
        # A zone id is the sender's own text: dropped.
        pytest.param(TEN, view("10.0.0.1", (XFF, "fe80::1%eth0")), "fe80::1", id="zone-id"),
    ],
)
def test_client_address(
    trusted: TrustedProxies, request_view: RequestView, expected: str | None
) -> None:
    assert client_address(trusted, request_view) == expected


@pytest.mark.parametrize(
    ("header", "value"),
    [
        # An IPv6 zone id ("%..." after the address) is part of what
        # ipaddress accepts, any characters and any length; it never reaches
        # the log.
        pytest.param(XFF, "fe80::1%" + "x" * 3000, id="xff-long-zone-id"),
        pytest.param(XFF, "fe80::1%\x00\x7f\xe9", id="xff-control-zone-id"),
        pytest.param(XFF, "fe80::1%\r\nInjected: yes", id="xff-crlf-zone-id"),
        pytest.param(FWD, 'for="[fe80::1%\\u0007evil]"', id="fwd-zone-id"),
    ],
)
def test_a_zone_id_does_not_carry_text_into_the_log(header: str, value: str) -> None:
    client = client_address(EVERYONE, view("10.0.0.1", (header, value)))

    assert client is not None
    assert client.isascii()
    assert client.isprintable()
    assert len(client) <= MAX_CLIENT_CHARS
    assert "%" not in client


def test_very_many_hops_are_bounded() -> None:
    """A header with thousands of hops costs a bounded walk; a walk that
    runs past the bound cannot tell who the client was (the hops it did
    not look at were written by whoever sent the request)."""
    hops = ", ".join(f"10.0.{i // 256 % 256}.{i % 256}" for i in range(20_000))
    client = client_address(TEN, view("10.0.0.1", (XFF, "1.2.3.4, " + hops)))

    assert client == "unknown"


# --- hostile headers ----------------------------------------------------------------------

_FRAGMENTS = (
    "1.2.3.4",
    "10.0.0.2",
    "::1",
    "fe80::1",
    "fe80::1%",
    "::ffff:",
    "2001:db8::",
    "[",
    "]",
    ":",
    "%",
    "_",
    '"',
    "\\",
    ",",
    ";",
    "=",
    "for=",
    "For=",
    "by=",
    "unknown",
    " ",
    "\t",
    "\r\n",
    "\x00",
    "\x7f",
    "\xe9",
    "\u2028",
    "x" * 70,
)
_ADDRESSES = ("1.2.3.4", "10.0.0.2", "::1", "fe80::1", "2001:db8::7", "::ffff:10.0.0.9")
# One hop as a proxy (or an attacker) might write it: an address with a
# port, brackets, quotes or an IPv6 zone, an RFC 7239 name, or junk.
hostile_hop = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join),
    st.sampled_from(_ADDRESSES),
    st.builds("{}%{}".format, st.sampled_from(_ADDRESSES), st.text(max_size=80)),
    st.builds("[{}]:{}".format, st.sampled_from(_ADDRESSES), st.text(max_size=8)),
    st.builds("{}:{}".format, st.sampled_from(_ADDRESSES), st.text(max_size=8)),
)
hostile_element = st.one_of(
    hostile_hop,
    st.builds("for={}".format, hostile_hop),
    st.builds('for="{}"'.format, hostile_hop),
    st.builds("by={};for={};proto=https".format, hostile_hop, hostile_hop),
)
hostile_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=5)), max_size=30).map("".join),
    st.lists(hostile_element, max_size=6).map(", ".join),
    st.lists(hostile_element, max_size=6).map(",".join),
)
hostile_headers = st.lists(
    st.tuples(st.sampled_from(("x-forwarded-for", "forwarded")), hostile_text), max_size=4
)


@settings(max_examples=1000, deadline=None)
@given(
    trusted=st.sampled_from((NONE, TEN, LOCAL, EVERYONE, UNIX)),
    peer=st.sampled_from(("10.0.0.1", "127.0.0.1", "::1", "8.8.8.8", "::ffff:10.0.0.1", None)),
    headers=hostile_headers,
)
def test_hostile_forwarding_headers(
    trusted: TrustedProxies, peer: str | None, headers: list[tuple[str, str]]
) -> None:
    client = client_address(trusted, view(peer, *headers))

    if client is None:
        assert peer is None
        return
    assert client.isascii()
    assert client.isprintable()
    assert "\r" not in client
    assert "\n" not in client
    assert 0 < len(client) <= MAX_CLIENT_CHARS
    # An address, RFC 7239's "unknown" or an obfuscated name: nothing else.
    if client != "unknown" and not OBFUSCATED_RE.fullmatch(client):
        assert "%" not in client  # no IPv6 zone: that text is the client's
        ipaddress.ip_address(client)
    address = None if peer is None else ipaddress.ip_address(peer)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not trusted.trusts(address):
        assert client == str(address)  # the headers were not read


# --- the proxy-written right end wins (issue 12, finding 7) -------------------------------

PROXY = "203.0.113.7"
PROXIES = trusted_proxies(("10.0.0.0/8", PROXY))


def _padded(filler: str, count: int, sep: str = ",") -> str:
    return sep.join([filler] * count)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # The client pads its own X-Forwarded-For past every bound; the
        # proxy appends the address it saw on the right.
        pytest.param(
            ((XFF, _padded("6.6.6.6", 511) + ", 8.8.8.8, " + PROXY),),
            "8.8.8.8",
            id="xff-padded-in-one-field-client-last",
        ),
        pytest.param(
            ((XFF, _padded("6.6.6.6", 511) + ", 8.8.8.8" + ", " + "1.1.1.1"),),
            "1.1.1.1",
            id="xff-padded-proxy-appended",
        ),
        pytest.param(
            ((XFF, _padded("6.6.6.6", 5000) + ", 8.8.8.8"), (XFF, "1.1.1.1")),
            "1.1.1.1",
            id="xff-second-field-is-the-proxys",
        ),
        pytest.param(
            ((XFF, "6.6.6.6 " * 3000 + ", 1.1.1.1"),),
            "1.1.1.1",
            id="xff-one-huge-element",
        ),
        pytest.param(
            ((FWD, _padded("for=6.6.6.6", 511) + ", for=8.8.8.8, for=1.1.1.1"),),
            "1.1.1.1",
            id="forwarded-padded",
        ),
        pytest.param(
            ((FWD, _padded('for="[2001:db8::6]"', 3000)), (FWD, 'for="[2001:db8::1]:4711"')),
            "2001:db8::1",
            id="forwarded-second-field",
        ),
        # Trusted hops all the way past the bound: nobody vouches for a client.
        pytest.param(
            ((XFF, _padded("10.9.9.9", 5000)),), "unknown", id="trusted-past-the-hop-bound"
        ),
        pytest.param(
            ((XFF, "1.2.3.4, " + _padded("10.9.9.9", 31)),), "1.2.3.4", id="within-hop-bound"
        ),
        # An unparseable hop stops the walk.
        pytest.param(((XFF, "1.2.3.4, not-an-address, 10.9.9.9"),), "unknown", id="garbage-hop"),
    ],
)
def test_the_proxy_written_right_end_is_read(
    headers: tuple[tuple[str, str], ...], expected: str
) -> None:
    assert client_address(PROXIES, view("10.0.0.1", *headers)) == expected


@settings(max_examples=200, deadline=None)
@given(
    padding=st.lists(
        st.sampled_from(("6.6.6.6", "10.1.1.1", "unknown", "_hidden", "::1", "", " " * 50)),
        min_size=0,
        max_size=3000,
    ),
    client=st.sampled_from(("8.8.8.8", "2001:db8::8", "1.1.1.1")),
    fields=st.booleans(),
)
def test_whatever_the_client_prepends_the_proxys_hop_is_the_client(
    padding: list[str], client: str, fields: bool
) -> None:
    """Only the right end counts: the proxy appended the address it saw
    there, and nothing the client wrote to its left may change that."""
    written = ", ".join(padding)
    headers = ((XFF, written), (XFF, client)) if fields else ((XFF, f"{written}, {client}"),)
    assert client_address(PROXIES, view("10.0.0.1", *headers)) == client
