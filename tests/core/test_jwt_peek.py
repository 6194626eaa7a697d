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


# --- finding 2: a number in a claim never raises and never reaches a date ----

_HEADER = "eyJhbGciOiJIUzI1NiJ9"


def _raw(payload: str) -> str:
    """A token whose payload is `payload` as written (json.dumps cannot
    write 1e999, NaN or a 5000-digit literal the way a hostile client does)."""
    return f"{_HEADER}.{base64.urlsafe_b64encode(payload.encode()).rstrip(b'=').decode()}.c2ln"


_HOSTILE_NUMBERS = [
    pytest.param("1" + "0" * 309, id="int-1e309"),
    pytest.param("-1" + "0" * 309, id="negative-int-1e309"),
    pytest.param("1" + "0" * 5000, id="int-past-str-digits-limit"),
    pytest.param("1e999", id="float-overflows-to-inf"),
    pytest.param("-1e999", id="float-overflows-to-minus-inf"),
    pytest.param("NaN", id="nan"),
    pytest.param("Infinity", id="infinity"),
    pytest.param("-Infinity", id="minus-infinity"),
    pytest.param("true", id="bool"),
    pytest.param("-1", id="before-the-epoch"),
    pytest.param("253402300800", id="after-year-9999"),
    pytest.param("1" + "0" * 40 + ".5", id="huge-float-literal"),
    pytest.param("0." + "0" * 400 + "1", id="tiny-float"),
]


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("number", _HOSTILE_NUMBERS)
def test_hostile_numeric_date_is_no_date(claim: str, number: str) -> None:
    facts = peek(_raw(f'{{"{claim}":{number}}}'))
    assert facts is not None
    assert getattr(facts, claim) in (None, 0)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        pytest.param("0", 0, id="epoch"),
        pytest.param("253402300799", 253402300799, id="last-second-of-9999"),
        pytest.param("1700000000.9", 1700000000, id="float-truncated"),
    ],
)
def test_numeric_date_range_is_kept(number: str, expected: int) -> None:
    facts = peek(_raw(f'{{"exp":{number}}}'))
    assert facts is not None
    assert facts.exp == expected


@pytest.mark.parametrize("number", _HOSTILE_NUMBERS)
def test_hostile_number_in_a_logged_claim_is_dropped(number: str) -> None:
    facts = peek(_raw(f'{{"sub":{number}}}'), ("sub",))
    assert facts is not None
    assert all(isinstance(v, int) and abs(v) < 1 << 53 for _, v in facts.claims)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("[" * 12000, id="deep-arrays"),
        pytest.param('{"a":' * 5000 + "1" + "}" * 5000, id="deep-objects"),
        pytest.param('{"exp":' + "9" * 11000 + "}", id="long-digit-run"),
    ],
)
def test_hostile_payload_structure_is_not_a_jwt(payload: str) -> None:
    facts = peek(_raw(payload))
    assert facts is None or (facts.exp, facts.nbf, facts.iat) == (None, None, None)


@settings(max_examples=300, deadline=None)
@given(
    claim=st.sampled_from(["exp", "nbf", "iat"]),
    value=st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans(),
)
def test_any_number_in_a_time_claim(claim: str, value: float) -> None:
    literal = repr(value).replace("inf", "Infinity").replace("nan", "NaN")
    literal = literal.replace("True", "true").replace("False", "false")
    facts = peek(_raw(f'{{"{claim}":{literal}}}'))
    assert facts is not None
    got = getattr(facts, claim)
    assert got is None or 0 <= got <= 253402300799
