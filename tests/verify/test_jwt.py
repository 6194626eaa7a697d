"""`authhygiene.verify.JWT`: a table of tokens -> the reason and facts, with
keys generated at test time (HS256, RS256, ES256), and hostile tokens that
must never raise."""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene import Reason
from authhygiene.verify import JWT, Rejected, Verified

NOW = int(time.time())
SECRET = "s" * 32 + "-hmac-secret-for-tests"
OTHER_SECRET = "o" * 40
ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_RSA_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())


def _public_pem(private: Any) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


RSA_PUBLIC = _public_pem(_RSA)


def _private_pem(private: Any) -> str:
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


EC_PUBLIC = _public_pem(_EC)


def claims(now: int | None = None, **extra: Any) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    return {"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "iat": now, **extra}


def hs(payload: dict[str, Any] | None = None, key: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload or claims(), key, algorithm="HS256", headers=headers or None)


def rs(payload: dict[str, Any] | None = None, key: Any = _RSA, **headers: Any) -> str:
    return jwt.encode(payload or claims(), key, algorithm="RS256", headers=headers or None)


def b64(data: object) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


HS = JWT(algorithms=["HS256"], keys=SECRET, issuer=ISSUER, audience=AUDIENCE)
RS = JWT(algorithms=["RS256"], keys={"k1": RSA_PUBLIC}, issuer=ISSUER, audience=AUDIENCE)
ES = JWT(algorithms=["ES256"], keys=EC_PUBLIC, issuer=ISSUER, audience=AUDIENCE)
AT = JWT(algorithms=["HS256"], keys=SECRET, token_type="at+jwt")
AGED = JWT(algorithms=["HS256"], keys=SECRET, max_age=300, leeway=0)


# (verifier, token, the reason or None when it verifies, facts that must be there)
CASES: dict[str, tuple[JWT, Callable[[int], str], Reason | None, dict[str, object]]] = {
    "hs256-valid": (HS, lambda now: hs(claims(now)), None, {}),
    "rs256-valid-by-kid": (RS, lambda now: rs(kid="k1"), None, {}),
    "es256-valid": (ES, lambda now: jwt.encode(claims(now), _EC, algorithm="ES256"), None, {}),
    "expired": (
        HS,
        lambda now: hs(claims(now, exp=now - 3600)),
        Reason.TOKEN_EXPIRED,
        {"expired_seconds_ago": 3600},
    ),
    "expired-within-leeway-verifies": (HS, lambda now: hs(claims(now, exp=now - 30)), None, {}),
    "not-yet-valid": (
        HS,
        lambda now: hs(claims(now, nbf=now + 3600)),
        Reason.TOKEN_NOT_YET_VALID,
        {},
    ),
    "issued-in-the-future": (
        HS,
        lambda now: hs(claims(now, iat=now + 3600)),
        Reason.TOKEN_NOT_YET_VALID,
        {},
    ),
    "bad-signature": (HS, lambda now: hs(key=OTHER_SECRET), Reason.TOKEN_SIGNATURE_INVALID, {}),
    "rs-bad-signature": (
        RS,
        lambda now: rs(key=_RSA_OTHER, kid="k1"),
        Reason.TOKEN_SIGNATURE_INVALID,
        {},
    ),
    "unknown-kid": (
        RS,
        lambda now: rs(kid="rotated-away"),
        Reason.TOKEN_KEY_UNKNOWN,
        {"kid": "rotated-away"},
    ),
    "wrong-audience": (
        HS,
        lambda now: hs(claims(now, aud="https://other.example")),
        Reason.TOKEN_AUDIENCE_MISMATCH,
        {"expected_audience": [AUDIENCE], "token_audience": ["https://other.example"]},
    ),
    "wrong-issuer": (
        HS,
        lambda now: hs(claims(now, iss="https://staging.example")),
        Reason.TOKEN_ISSUER_MISMATCH,
        {"expected_issuer": [ISSUER], "token_issuer": "https://staging.example"},
    ),
    "algorithm-not-accepted": (
        HS,
        lambda now: jwt.encode(claims(now), SECRET * 2, algorithm="HS512"),
        Reason.TOKEN_ALGORITHM_REJECTED,
        {"alg": "HS512", "accepted_algorithms": ["HS256"]},
    ),
    "alg-none": (
        HS,
        lambda now: f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(now))}.",
        Reason.TOKEN_ALGORITHM_REJECTED,
        {"alg": "none"},
    ),
    # The classic confusion: an HS256 token signed with the RSA public key.
    "rsa-public-key-as-hmac-secret": (
        RS,
        lambda now: f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims(now))}.{b64(b'x' * 32)}",
        Reason.TOKEN_ALGORITHM_REJECTED,
        {"alg": "HS256", "accepted_algorithms": ["RS256"]},
    ),
    "missing-exp": (
        JWT(algorithms=["HS256"], keys=SECRET, required_claims=["exp"]),
        lambda now: hs({"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE}),
        Reason.CREDENTIALS_INVALID,
        {"problem": "claim_missing", "missing_claim": "exp"},
    ),
    "crit-not-understood": (
        HS,
        lambda now: hs(crit=["exp"], exp=1),
        Reason.CREDENTIALS_INVALID,
        {"problem": "crit_not_understood"},
    ),
    "wrong-type": (
        AT,
        lambda now: hs(typ="JWT"),
        Reason.TOKEN_TYPE_REJECTED,
        {"typ": "JWT", "expected_typ": "at+jwt"},
    ),
    "access-token-type": (AT, lambda now: hs(typ="application/at+JWT"), None, {}),
    "too-old": (
        AGED,
        lambda now: hs(claims(now, iat=now - 3600, exp=now + 600)),
        Reason.TOKEN_EXPIRED,
        {"max_age": 300},
    ),
    "too-large": (
        HS,
        lambda now: hs(claims(now, pad="x" * 9000)),
        Reason.TOKEN_TOO_LARGE,
        {"max_token_bytes": 8192},
    ),
    "garbage": (
        HS,
        lambda now: "not-a-jwt-at-all",
        Reason.CREDENTIALS_INVALID,
        {"problem": "not_a_jwt"},
    ),
    "opaque-three-parts": (
        HS,
        lambda now: "abc.def.ghi",
        Reason.CREDENTIALS_INVALID,
        {"problem": "not_a_jwt"},
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_failure_has_its_reason(name: str) -> None:
    verifier, token, reason, facts = CASES[name]
    now = int(time.time())
    outcome = verifier.verify(token(now), now=now)
    if reason is None:
        assert isinstance(outcome, Verified), outcome
        assert outcome.claims["sub"] == "user-1"
        return
    assert isinstance(outcome, Rejected), outcome
    assert outcome.reason is reason
    for key, value in facts.items():
        assert outcome.facts.get(key) == value, (key, outcome.facts)


def test_scopes_from_scope_or_scp() -> None:
    assert HS.verify(hs(claims(scope="items:read items:write"))) == Verified(
        claims(scope="items:read items:write")
    )
    verified = HS.verify(hs(claims(scp=["a", "b", 3])))
    assert isinstance(verified, Verified)
    assert verified.scopes == ("a", "b")


def test_a_key_of_the_same_kind_that_signed_it_is_found() -> None:
    """Keys without kid: each of the algorithm's kind is tried."""
    two = JWT(algorithms=["RS256"], keys=[_public_pem(_RSA_OTHER), RSA_PUBLIC])
    assert isinstance(two.verify(rs()), Verified)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        pytest.param({"algorithms": [], "keys": SECRET}, "needs algorithms", id="no-algorithms"),
        pytest.param({"algorithms": ["none"], "keys": SECRET}, "'none'", id="none"),
        pytest.param({"algorithms": ["HS256", "None"], "keys": SECRET}, "'none'", id="None"),
        pytest.param({"algorithms": "HS256", "keys": SECRET}, "list of names", id="a-string"),
        pytest.param({"algorithms": ["HS257"], "keys": SECRET}, "not ones pyjwt", id="unknown"),
        pytest.param({"algorithms": ["HS256"], "keys": "short"}, "at least 32", id="short-secret"),
        pytest.param(
            {"algorithms": ["HS256"], "keys": RSA_PUBLIC}, "never an HMAC", id="confusion"
        ),
        pytest.param({"algorithms": ["RS256"], "keys": SECRET}, "never an HMAC", id="hmac-for-rsa"),
        pytest.param(
            {"algorithms": ["RS256", "HS256"], "keys": RSA_PUBLIC}, "HMAC secret", id="no-hmac-key"
        ),
        pytest.param({"algorithms": ["RS256"], "keys": None}, "needs keys", id="no-keys"),
        pytest.param(
            {"algorithms": ["RS256"], "keys": "-----BEGIN junk"}, "cannot be read", id="bad-pem"
        ),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "leeway": -1}, "leeway", id="leeway"
        ),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "max_token_bytes": 0},
            "max_token_bytes",
            id="cap",
        ),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "max_age": 0}, "max_age", id="max-age"
        ),
        # Found by attacking the verifier.
        pytest.param(
            {"algorithms": ["RS256"], "keys": _private_pem(_RSA)},
            "private key",
            id="rsa-private-pem",
        ),
        pytest.param({"algorithms": ["ES256"], "keys": _EC}, "private key", id="ec-private-object"),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "issuer": 123}, "issuer", id="issuer-int"
        ),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "audience": [1]},
            "audience",
            id="audience-ints",
        ),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "token_type": ""},
            "token_type",
            id="empty-typ",
        ),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "token_type": 5}, "token_type", id="int-typ"
        ),
        pytest.param(
            {"algorithms": ["HS256"], "keys": SECRET, "max_token_bytes": 65536},
            "max_token_bytes",
            id="cap-past-peek",
        ),
        pytest.param(
            {"algorithms": SECRET, "keys": ["HS256"]}, "was a key given here", id="pyjwt-order"
        ),
        pytest.param(
            {"algorithms": [SECRET], "keys": SECRET}, "<not a name>", id="secret-as-algorithm"
        ),
    ],
)
def test_bad_configuration_fails_at_construction(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match="authhygiene: JWT") as raised:
        JWT(**options)
    assert says in str(raised.value)
    assert SECRET not in str(raised.value)


_SEGMENT = st.one_of(
    st.text(max_size=40),
    st.builds(
        b64,
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        ),
    ),
    st.sampled_from(
        [
            b64({"alg": "HS256", "typ": "JWT"}),
            b64({"alg": "RS256", "kid": 1}),
            b64({"exp": 10**5000 % 97, "crit": "x"}),
            b64(b"\xff\xfe"),
            "=" * 8,
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(_SEGMENT, min_size=1, max_size=5),
    huge=st.sampled_from(["", "9" * 5000, "[" * 2000]),
)
def test_hostile_tokens_are_rejected_never_raised(parts: list[str], huge: str) -> None:
    token = ".".join(parts) + huge
    for verifier in (HS, RS, AT, AGED):
        outcome = verifier.verify(token)
        assert isinstance(outcome, Rejected | Verified)
        if isinstance(outcome, Rejected):
            json.dumps(dict(outcome.facts))  # facts are plain JSON values


def test_mixed_key_kinds_each_verify_their_own() -> None:
    """RSA and EC keys together, a JWK and a JWK Set as served."""
    mixed = JWT(algorithms=["RS256", "ES256"], keys={"r": RSA_PUBLIC, "e": EC_PUBLIC})
    assert isinstance(mixed.verify(rs(kid="r")), Verified)
    assert isinstance(
        mixed.verify(jwt.encode(claims(), _EC, algorithm="ES256", headers={"kid": "e"})), Verified
    )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_RSA.public_key()))
    assert isinstance(
        JWT(algorithms=["RS256"], keys={**jwk, "kid": "r"}).verify(rs(kid="r")), Verified
    )
    assert isinstance(
        JWT(algorithms=["RS256"], keys={"keys": [{**jwk, "kid": "r"}]}).verify(rs(kid="r")),
        Verified,
    )


def test_a_private_jwk_is_refused() -> None:
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_RSA))
    with pytest.raises(ValueError, match="private JWK"):
        JWT(algorithms=["RS256"], keys=private)


def test_a_kid_that_is_no_string_is_not_called_not_a_jwt() -> None:
    signing_input = f"{b64({'alg': 'HS256', 'kid': 7})}.{b64(claims())}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), "sha256").digest()
    outcome = HS.verify(f"{signing_input}.{b64(mac)}")
    assert isinstance(outcome, Rejected)
    assert outcome.facts.get("problem") != "not_a_jwt"


def test_keys_tried_without_a_kid_are_bounded() -> None:
    many = JWT(algorithms=["RS256"], keys=[_public_pem(_RSA_OTHER)] * 20 + [RSA_PUBLIC])
    # The signing key is the 21st: past the bound, the token is not verified.
    assert isinstance(many.verify(rs()), Rejected)


def test_token_type_may_name_its_media_type_in_full() -> None:
    """RFC 9068 §2.1: `application/at+jwt`, which `at+jwt` abbreviates."""
    full = JWT(algorithms=["HS256"], keys=SECRET, token_type="application/at+jwt")
    assert isinstance(full.verify(hs(typ="at+jwt")), Verified)
    assert isinstance(full.verify(hs(typ="JWT")), Rejected)


def test_a_value_given_in_the_wrong_place_is_not_echoed() -> None:
    with pytest.raises(ValueError, match="got a str") as raised:
        JWT(algorithms=["HS256"], keys=SECRET, leeway=SECRET)  # type: ignore[arg-type]
    assert SECRET not in str(raised.value)
