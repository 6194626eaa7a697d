"""`verify.APIKey`: whose key a request carried, with keys held as digests
only, every digest compared on every check, and a configuration refused
with a message that says what to change and never shows a key. Then the
verifier in explain mode, through real servers: an app that refuses an
unknown key with a bare 401 gets it explained as `api_key_unknown`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, HTTPException, Security
from fastapi.security import APIKeyHeader
from flask import Flask, abort, request
from hypothesis import given
from hypothesis import strategies as st

from authhygiene import AuthHygiene, AuthHygieneWSGI
from authhygiene.core.answer import AppAnswer
from authhygiene.core.credentials import Credentials, RequestView, parse_credentials
from authhygiene.core.decision import decide
from authhygiene.core.policy import Policy
from authhygiene.errors import AuthFailure
from authhygiene.verify import apikey
from authhygiene.verify.apikey import APIKey
from authhygiene.verify.jwt import Rejected, Verified
from tests.e2e.servers import UvicornThread, WerkzeugThread, assert_absent, assert_problem, fetch

BILLING_KEY = "bk_live_Zq8xR2mT9vLp4WnKc7Hs"
REPORTS_KEY = "rk_live_Yd3uQ6eJ1bNa5VoXf8Gt"
OTHER_KEY = "ok_live_Pw2sL9kM4hTr7CzEn6Ua"
KEYS = {"billing-service": BILLING_KEY, "reports": APIKey.hash_key(REPORTS_KEY)}
VERIFIER = APIKey(keys=KEYS)


def _outcome(result: Verified | Rejected) -> tuple[str, dict[str, object]]:
    if isinstance(result, Verified):
        return "verified", dict(result.claims)
    return str(result.reason), dict(result.facts)


WANTED_UNKNOWN = ("credentials_invalid", {"problem": "api_key_unknown"})

VERIFY_CASES: dict[str, tuple[str, tuple[str, dict[str, object]]]] = {
    "plain-key": (BILLING_KEY, ("verified", {"sub": "billing-service"})),
    "prehashed-key": (REPORTS_KEY, ("verified", {"sub": "reports"})),
    "unknown-key": (OTHER_KEY, WANTED_UNKNOWN),
    "empty": ("", WANTED_UNKNOWN),
    "prefix-of-a-key": (BILLING_KEY[:-1], WANTED_UNKNOWN),
    "key-and-more": (BILLING_KEY + "x", WANTED_UNKNOWN),
    "other-case": (BILLING_KEY.upper(), WANTED_UNKNOWN),
    "surrounding-space": (f" {BILLING_KEY} ", WANTED_UNKNOWN),
    "the-digest-itself": (KEYS["reports"], WANTED_UNKNOWN),
    "digest-hex-alone": (KEYS["reports"].removeprefix("sha256:"), WANTED_UNKNOWN),
    "unicode": ("ключ-ключ-ключ-ключ-ключ", WANTED_UNKNOWN),
    "latin-1-mojibake": ("Ã©Ã©Ã©Ã©Ã©Ã©Ã©Ã©Ã©", WANTED_UNKNOWN),
    "lone-surrogate": ("\ud800" * 20, WANTED_UNKNOWN),
    "nul-bytes": ("\x00" * 32, WANTED_UNKNOWN),
    "huge": ("k" * 1_000_000, WANTED_UNKNOWN),
    "a-key-and-then-huge": (BILLING_KEY + "k" * 5000, WANTED_UNKNOWN),
}


@pytest.mark.parametrize("name", sorted(VERIFY_CASES))
def test_verify(name: str) -> None:
    presented, wanted = VERIFY_CASES[name]
    assert _outcome(VERIFIER.verify(presented)) == wanted


def test_a_list_of_keys_is_named_by_position() -> None:
    listed = APIKey(keys=[BILLING_KEY, APIKey.hash_key(REPORTS_KEY)])
    assert listed.names == ("key-1", "key-2")
    assert _outcome(listed.verify(REPORTS_KEY)) == ("verified", {"sub": "key-2"})
    assert _outcome(listed.verify(OTHER_KEY)) == WANTED_UNKNOWN


def test_not_text_is_unknown_never_an_exception() -> None:
    for value in (None, b"bytes-key-bytes-key", 12345, ["k"]):
        assert _outcome(VERIFIER.verify(value)) == WANTED_UNKNOWN  # type: ignore[arg-type]


def test_the_rejection_raises_as_the_apps_own_failure() -> None:
    rejected = VERIFIER.verify(OTHER_KEY)
    assert isinstance(rejected, Rejected)
    failure = rejected.failure()
    assert isinstance(failure, AuthFailure)
    assert failure.facts == {"problem": "api_key_unknown"}


# --- keys are held as digests only -----------------------------------------


def test_keys_are_held_as_digests_only() -> None:
    held = dict(VERIFIER.keys)
    assert held["billing-service"] == APIKey.hash_key(BILLING_KEY)
    assert held["reports"] == KEYS["reports"]
    every_attribute = repr([getattr(VERIFIER, name) for name in dir(VERIFIER)])
    assert BILLING_KEY not in every_attribute
    assert BILLING_KEY not in repr(vars(VERIFIER))


def test_the_digests_build_the_same_verifier() -> None:
    again = APIKey(keys=VERIFIER.keys, header=VERIFIER.header)
    assert _outcome(again.verify(BILLING_KEY)) == ("verified", {"sub": "billing-service"})


def test_repr_names_the_header_and_counts_the_keys() -> None:
    assert repr(VERIFIER) == "APIKey(header='X-API-Key', keys=<2 held as SHA-256 digests>)"
    assert str(VERIFIER) == repr(VERIFIER)


# A plain key: a text starting "sha256:" (in any case) is read as a digest.
_KEY_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=16).filter(
    lambda key: not key.lower().startswith("sha256:")
)


@given(key=_KEY_TEXT)
def test_repr_and_str_never_hold_a_configured_key(key: str) -> None:
    verifier = APIKey(keys={"svc": key})
    assert key not in repr(verifier)
    assert key not in str(verifier)
    assert key not in repr(dict(verifier.keys))


@given(presented=st.text(max_size=5000))
def test_verify_never_raises_on_any_text(presented: str) -> None:
    assert _outcome(VERIFIER.verify(presented)) in (
        WANTED_UNKNOWN,
        ("verified", {"sub": "billing-service"}),
        ("verified", {"sub": "reports"}),
    )


# --- constant work ------------------------------------------------------------


@pytest.mark.parametrize("presented", [BILLING_KEY, REPORTS_KEY, OTHER_KEY, ""])
def test_every_digest_is_compared_on_every_check(
    monkeypatch: pytest.MonkeyPatch, presented: str
) -> None:
    """No early exit: the first key, the last key and no key cost the same
    number of comparisons (counted, not timed)."""
    many = APIKey(keys={f"svc-{i}": f"{i:02d}-{BILLING_KEY}" for i in range(9)} | KEYS)
    compared: list[int] = []
    real = apikey.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(1)
        return real(a, b)

    monkeypatch.setattr(apikey.hmac, "compare_digest", counting)
    many.verify(presented or OTHER_KEY)
    assert len(compared) == 11


def test_a_key_too_long_is_not_even_hashed(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = apikey._sha256

    def counting(key: str) -> bytes:
        hashed.append(key[:4])
        return real(key)

    monkeypatch.setattr(apikey, "_sha256", counting)
    assert _outcome(VERIFIER.verify("k" * (apikey.MAX_KEY_CHARS + 1))) == WANTED_UNKNOWN
    assert _outcome(VERIFIER.verify("")) == WANTED_UNKNOWN
    assert hashed == []
    VERIFIER.verify("k" * apikey.MAX_KEY_CHARS)
    assert len(hashed) == 1


# --- configuration --------------------------------------------------------------

SECRET_IN_CONFIG = "cfg_secret_Hk4Lm9Qz2Wx7Rt5B"

CONFIG_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "no-keys": ({"keys": {}}, "keys is empty"),
    "no-list": ({"keys": []}, "keys is empty"),
    "a-single-key-as-text": ({"keys": SECRET_IN_CONFIG}, "a single key goes in a list"),
    "a-short-key": ({"keys": {"svc": "short-key"}}, "shorter than 16"),
    "a-mapping-the-wrong-way-round": (
        {"keys": {SECRET_IN_CONFIG: "billing"}},
        "maps a name to its key",
    ),
    "bytes-key": ({"keys": [SECRET_IN_CONFIG.encode()]}, "is bytes"),
    "bytes-keys": ({"keys": SECRET_IN_CONFIG.encode()}, "got a bytes"),
    "a-number": ({"keys": [12345678901234567890]}, "got a int"),
    "duplicate-keys": (
        {"keys": {"a": SECRET_IN_CONFIG, "b": APIKey.hash_key(SECRET_IN_CONFIG)}},
        "entries 1 and 2 hold the same key",
    ),
    "duplicate-in-list": ({"keys": [SECRET_IN_CONFIG, SECRET_IN_CONFIG]}, "the same key"),
    "a-key-with-a-space": ({"keys": [SECRET_IN_CONFIG + " x"]}, "visible ASCII"),
    "a-key-with-a-line-break": ({"keys": [SECRET_IN_CONFIG + "\r\n"]}, "visible ASCII"),
    "a-unicode-key": ({"keys": [SECRET_IN_CONFIG + "é"]}, "visible ASCII"),
    "a-huge-key": ({"keys": [SECRET_IN_CONFIG * 1000]}, "longer than 4096"),
    "a-bad-digest": ({"keys": ["sha256:" + "A" * 64]}, "64 lower-case hex"),
    "a-short-digest": ({"keys": ["sha256:abcd"]}, "64 lower-case hex"),
    "an-empty-name": ({"keys": {"": SECRET_IN_CONFIG}}, "a name is text"),
    "a-name-with-a-line-break": ({"keys": {"a\nb": SECRET_IN_CONFIG}}, "a name is text"),
    "a-number-as-name": ({"keys": {7: SECRET_IN_CONFIG}}, "a name is text"),
    "too-many": (
        {"keys": [f"{i:04d}{SECRET_IN_CONFIG}" for i in range(apikey.MAX_KEYS + 1)]},
        "at most 1000 keys",
    ),
    "header-with-a-space": ({"keys": [SECRET_IN_CONFIG], "header": "X API Key"}, "header name"),
    "header-empty": ({"keys": [SECRET_IN_CONFIG], "header": ""}, "header name"),
    "header-bytes": ({"keys": [SECRET_IN_CONFIG], "header": b"X-API-Key"}, "got a bytes"),
    "header-a-key": ({"keys": [SECRET_IN_CONFIG], "header": SECRET_IN_CONFIG + ":"}, "RFC 9110"),
    "header-authorization": (
        {"keys": [SECRET_IN_CONFIG], "header": "Authorization"},
        "verify.Basic",
    ),
    "header-cookie": ({"keys": [SECRET_IN_CONFIG], "header": "Cookie"}, "cannot be"),
}


@pytest.mark.parametrize("name", sorted(CONFIG_ERRORS))
def test_a_bad_configuration_says_what_to_change(name: str) -> None:
    options, message = CONFIG_ERRORS[name]
    with pytest.raises(ValueError, match="authhygiene: APIKey") as raised:
        APIKey(**options)
    assert message in str(raised.value)
    assert SECRET_IN_CONFIG not in str(raised.value)
    assert SECRET_IN_CONFIG[:12] not in str(raised.value)


def test_keys_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        APIKey([BILLING_KEY])  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["short", b"bytes-bytes-bytes-bytes", "sha256:abc", "a b" * 8])
def test_hash_key_refuses_what_can_be_no_key(bad: Any) -> None:
    with pytest.raises(ValueError, match="APIKey hash_key"):
        APIKey.hash_key(bad)


# --- which credential it reads ----------------------------------------------------

CREDENTIAL_CASES: dict[str, tuple[Credentials, str | None]] = {
    "its-header": (Credentials(api_key_header="x-api-key", api_key=BILLING_KEY), BILLING_KEY),
    "another-api-key-header": (Credentials(api_key_header="api-key", api_key=BILLING_KEY), None),
    "a-bearer-token": (Credentials(scheme="Bearer", token=BILLING_KEY, source="header"), None),
    "nothing": (Credentials(), None),
}


@pytest.mark.parametrize("name", sorted(CREDENTIAL_CASES))
def test_credential(name: str) -> None:
    credentials, wanted = CREDENTIAL_CASES[name]
    assert VERIFIER.credential(credentials) == wanted


def test_the_header_name_is_lower_case_as_servers_hand_it_over() -> None:
    custom = APIKey(keys=[BILLING_KEY], header="X-Billing-Key")
    assert custom.header == "X-Billing-Key"
    assert custom.header_name == "x-billing-key"
    view = RequestView("GET", "/", "", (("x-billing-key", BILLING_KEY),))
    credentials = parse_credentials(view, api_key_headers=(custom.header_name,))
    assert custom.credential(credentials) == BILLING_KEY


# --- in the decider ---------------------------------------------------------------

APP_401 = b'{"detail":"Invalid API key"}'


def _decide(verify: APIKey, headers: tuple[tuple[str, str], ...], **options: Any) -> dict[str, Any]:
    view = RequestView("GET", "/me", "", headers, "127.0.0.1")
    answer = AppAnswer(401, (("content-type", "application/json"),), APP_401)
    policy = Policy.from_options({"realm": "api", "verify": verify, **options})
    decision = decide(policy, view, answer)
    assert decision is not None
    return dict(decision.log)


def test_the_decider_explains_an_unknown_key() -> None:
    log = _decide(VERIFIER, (("x-api-key", OTHER_KEY),))
    assert (log["reason"], log["diagnosis"]) == ("credentials_invalid", "verify")
    assert log.get("problem") == "api_key_unknown"


def test_a_custom_header_named_in_api_key_headers_is_explained() -> None:
    custom = APIKey(keys=[BILLING_KEY], header="X-Billing-Key")
    log = _decide(custom, (("x-billing-key", OTHER_KEY),), api_key_headers=["x-billing-key"])
    assert (log["reason"], log.get("problem")) == ("credentials_invalid", "api_key_unknown")


def test_a_custom_header_is_read_without_naming_it_twice() -> None:
    """The policy reads the verifier's `header_name` among its API-key headers."""
    custom = APIKey(keys=[BILLING_KEY], header="X-Billing-Key")
    log = _decide(custom, (("x-billing-key", OTHER_KEY),))
    assert (log["reason"], log.get("problem")) == ("credentials_invalid", "api_key_unknown")


# --- served: the app decides, the middleware explains ------------------------------

# The app's own store; the verifier is configured with the same keys (one as
# its digest: the middleware's configuration need not hold it in plain).
APP_KEYS = {BILLING_KEY: "billing-service", REPORTS_KEY: "reports"}
_API_KEY = APIKeyHeader(name="X-API-Key")


def caller(key: Annotated[str, Security(_API_KEY)]) -> str:
    """The dependency as FastAPI's docs suggest: one 401 for any bad key."""
    name = APP_KEYS.get(key)
    if name is None:
        raise HTTPException(status_code=401, detail="Invalid API key")
    return name


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(name: Annotated[str, Security(caller)]) -> dict[str, str]:
        return {"sub": name}

    return app


def _flask() -> Flask:
    app = Flask(__name__)

    @app.get("/me")
    def me() -> Any:
        name = APP_KEYS.get(request.headers.get("X-API-Key", ""))
        if name is None:
            abort(401)
        return {"sub": name}

    return app


@pytest.fixture(scope="module", params=["fastapi-uvicorn", "flask-werkzeug"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "fastapi-uvicorn":
        with UvicornThread(AuthHygiene(_fastapi(), realm="api", verify=VERIFIER)) as server:
            yield server.port
    else:
        app = _flask()
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", verify=VERIFIER)  # type: ignore[method-assign]
        with WerkzeugThread(app) as server:
            yield server.port


@pytest.mark.parametrize("key", [OTHER_KEY, BILLING_KEY[:-1], "x" * 5000])
def test_served_an_unknown_key_is_explained(port: int, key: str) -> None:
    reply = fetch(port, "/me", headers=[("X-API-Key", key)])
    problem = assert_problem(reply, status=401, reason="credentials_invalid")
    assert problem.get("problem") == "api_key_unknown"
    assert_absent([key], reply.wire_text, json.dumps(problem))


@pytest.mark.parametrize(
    ("key", "sub"), [(BILLING_KEY, "billing-service"), (REPORTS_KEY, "reports")]
)
def test_served_a_known_key_gets_in(port: int, key: str, sub: str) -> None:
    reply = fetch(port, "/me", headers=[("X-API-Key", key)])
    assert reply.status == 200
    assert reply.json() == {"sub": sub}


def test_served_no_key_is_missing_credentials_not_an_unknown_key(port: int) -> None:
    reply = fetch(port, "/me")
    problem = assert_problem(reply, status=401, reason="credentials_missing")
    assert problem.get("problem") != "api_key_unknown"


_BILLING_KEY_HEADER = APIKeyHeader(name="X-Billing-Key")


def billing_caller(key: Annotated[str, Security(_BILLING_KEY_HEADER)]) -> str:
    if key != BILLING_KEY:
        raise HTTPException(status_code=401, detail="Invalid API key")
    return "billing-service"


def _billing_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(name: Annotated[str, Security(billing_caller)]) -> dict[str, str]:
        return {"sub": name}

    return app


def test_served_a_custom_header_is_explained_without_naming_it_twice() -> None:
    """`APIKey(header="X-Billing-Key")` alone: no `api_key_headers=` needed."""
    custom = APIKey(keys={"billing-service": BILLING_KEY}, header="X-Billing-Key")
    with UvicornThread(AuthHygiene(_billing_app(), realm="api", verify=custom)) as server:
        refused = fetch(server.port, "/me", headers=[("X-Billing-Key", OTHER_KEY)])
        admitted = fetch(server.port, "/me", headers=[("X-Billing-Key", BILLING_KEY)])
    problem = assert_problem(refused, status=401, reason="credentials_invalid")
    assert problem.get("problem") == "api_key_unknown"
    assert_absent([OTHER_KEY], refused.wire_text)
    assert (admitted.status, admitted.json()) == (200, {"sub": "billing-service"})
