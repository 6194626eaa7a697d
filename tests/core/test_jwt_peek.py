"""The unverified JWT look: bounded, never raising, never trusting."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene.core.jwt_peek import JwtFacts, peek


def b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_real_pyjwt_token() -> None:
    token = jwt.encode(
        {"exp": 2000000000, "nbf": 1000, "iat": 999, "iss": "https://issuer"},
        "a-secret-long-enough-for-hs256-0123456789",
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    assert peek(token) == JwtFacts("HS256", "k1", "https://issuer", 2000000000, 1000, 999)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("not-a-jwt", None, id="opaque"),
        pytest.param("a.b", None, id="two-segments"),
        pytest.param("a.b.c.d", None, id="four-segments"),
        pytest.param("!!!.???.x", None, id="not-base64url"),
        pytest.param(b64([1]) + "." + b64({}) + ".s", None, id="header-not-object"),
        pytest.param(
            b64({"alg": "none"}) + "." + b64({"exp": True, "nbf": "1", "iat": 1e300}) + ".",
            JwtFacts("none", None, None, None, None, None),
            id="bad-claim-types",
        ),
        pytest.param(
            b64({"alg": "HS256\r\nX: y"}) + "." + b64({"iss": "\u00e9vil\x00"}) + ".s",
            JwtFacts("HS256X: y", None, "vil", None, None, None),
            id="hostile-text",
        ),
        pytest.param("a" * 20000 + ".b.c", None, id="oversized"),
    ],
)
def test_peek(token: str, expected: JwtFacts | None) -> None:
    assert peek(token) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=500) | st.binary(max_size=300).map(lambda b: ".".join([b.hex()] * 3)))
def test_peek_never_raises(token: str) -> None:
    facts = peek(token)
    if facts is not None:
        for text in (facts.alg, facts.kid, facts.iss):
            assert text is None or (text.isascii() and text.isprintable())


@pytest.mark.parametrize(
    ("payload", "claims", "aud", "read"),
    [
        pytest.param({"aud": "api"}, (), ("api",), (), id="one-audience"),
        pytest.param({"aud": ["a", "b", 3]}, (), ("a", "b"), (), id="audiences-text-only"),
        pytest.param({"aud": ["x"] * 20}, (), ("x",) * 8, (), id="audiences-bounded"),
        pytest.param({"aud": {"nested": 1}}, (), (), (), id="audience-not-text"),
        pytest.param({"sub": "u-1", "jti": 7}, ("sub", "jti"), (), (("sub", "u-1"), ("jti", 7))),
        pytest.param(
            {"sub": "a\r\nb", "n": 2**60, "f": 1.5, "b": True, "l": [1]},
            ("sub", "n", "f", "b", "l", "missing"),
            (),
            (("sub", "ab"),),
            id="claims-bounded-text-and-safe-integers-only",
        ),
    ],
)
def test_audience_and_requested_claims(
    payload: dict[str, object],
    claims: tuple[str, ...],
    aud: tuple[str, ...],
    read: tuple[tuple[str, object], ...],
) -> None:
    """`aud` explains audience mismatches; other claims are read only when
    the operator names them (`log_claims`), as text or integers."""
    facts = peek(b64({"alg": "HS256"}) + "." + b64(payload) + ".s", claims)
    assert facts is not None
    assert facts.aud == aud
    assert facts.claims == read
