"""What failures are counted under: one key per credential however it is
spelled, never the credential itself, and a bounded amount of work."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhygiene.throttle.keys import KeyMaker, client_material, credential_material

SECRET = b"k" * 32


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


SAME_CREDENTIAL = [
    (basic("alice", "one"), basic("alice", "two")),
    (basic("alice", "x"), basic("ALICE", "x")),
    (basic("alice", "x"), "basic  " + basic("alice", "x")[6:] + "  "),
    (basic("alice", "x"), basic("\uff41\uff4c\uff49\uff43\uff45", "x")),  # fullwidth
    ("Bearer abc.def", "bearer   abc.def "),
    ("Bearer abc.def", "BEARER abc.def"),
]


@pytest.mark.parametrize(("one", "other"), SAME_CREDENTIAL)
def test_spellings_of_one_credential_are_one_key(one: str, other: str) -> None:
    assert credential_material(one, None) == credential_material(other, None)


DIFFERENT = [
    (basic("alice", "x"), basic("bob", "x")),
    ("Bearer abc", "Bearer abd"),
    ("Bearer abc", "Token abc"),
]


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_credentials_are_different_keys(one: str, other: str) -> None:
    assert credential_material(one, None) != credential_material(other, None)


def test_the_authorization_header_wins_over_an_api_key() -> None:
    assert credential_material("Bearer t", "key-1") == credential_material("Bearer t", "key-2")
    assert credential_material(None, "key-1") != credential_material(None, "key-2")
    assert credential_material(None, None) is None
    assert credential_material("", None) is None


ADDRESSES = [
    ("192.0.2.1", "192.0.2.1"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.9", "192.0.2.9"),
    ("fe80::1%eth0", "fe80::/64"),
    ("unknown", "unknown"),
    ("not:an:address", "not:an:address"),
    (None, None),
    ("", None),
]


@pytest.mark.parametrize(("address", "material"), ADDRESSES)
def test_an_ipv6_client_is_counted_by_its_64(address: str | None, material: str | None) -> None:
    assert client_material(address) == material


def test_keys_hold_neither_the_address_nor_the_credential() -> None:
    maker = KeyMaker("svc", SECRET)
    keys = maker.keys("192.0.2.1", credential_material(basic("alice", "pw"), None))
    assert keys.client is not None
    assert keys.credential is not None
    assert keys.client.startswith("svc:c:")
    assert keys.credential.startswith("svc:k:")
    for text in ("192.0.2.1", "alice", "pw"):
        assert text not in keys.client + keys.credential
    assert KeyMaker("svc", b"o" * 32).keys("192.0.2.1", None).client != keys.client


@given(st.text(max_size=20_000), st.text(max_size=100))
def test_any_header_is_a_key_or_none_and_never_an_error(header: str, key: str) -> None:
    material = credential_material(header, key)
    if material is not None:
        assert len(material) <= 8192 + 32
        keys = KeyMaker("p", SECRET).keys("::1", material)
        assert keys.credential is not None
        assert len(keys.credential) == len("p:k:") + 32


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


LENIENT_BASIC = [
    # What FastAPI's HTTPBasic or DRF's BasicAuthentication still accept as bob.
    "Basic !" + _b64("bob:one"),
    "Basic\t" + _b64("bob:two"),
    "Basic " + _b64("bob:three").rstrip("="),
    "Basic " + _b64("bob:four")[:4] + " " + _b64("bob:four")[4:],
    "basic   " + _b64("BOB:five") + " \t",
]


@pytest.mark.parametrize("header", LENIENT_BASIC)
def test_every_spelling_a_server_accepts_for_one_user_is_one_key(header: str) -> None:
    assert credential_material(header, None) == credential_material(basic("bob", "x"), None)


def test_undecodable_basic_credentials_share_one_key() -> None:
    broken = {credential_material(f"Basic ###{n}", None) for n in range(20)}
    assert len(broken) == 1
