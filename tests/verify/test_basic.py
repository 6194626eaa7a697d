"""`verify.Basic`: a Basic pair (RFC 7617) checked by the app's function or
by a table of scrypt hashes; one answer for a wrong user and a wrong
password, and for the table the same work too (counted, never timed).
Then the verifier in explain mode, through real servers: a Flask-HTTPAuth
app under werkzeug and FastAPI's HTTPBasic under uvicorn, each refusing
with its own words, explained as `wrong_user_or_password`."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import structlog.testing
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from flask import Flask
from flask_httpauth import HTTPBasicAuth
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.security import check_password_hash, generate_password_hash

from authhygiene import AuthHygiene, AuthHygieneWSGI, Reason
from authhygiene.core.credentials import Credentials
from authhygiene.core.policy import Policy
from authhygiene.errors import AuthFailure
from authhygiene.verify import basic
from authhygiene.verify.basic import Basic
from authhygiene.verify.jwt import Rejected, Verified
from tests.e2e.servers import UvicornThread, WerkzeugThread, assert_absent, assert_problem, fetch

ALICE_PASSWORD = "correct-horse-battery"
BOB_PASSWORD = "Tr0ub4dor&3-staple"
UNICODE_PASSWORD = "pässwörd-ключ-密码"
LATIN1_PASSWORD = "café-crème-brûlée"
# Cheap hashes for tests: the default cost (n=2**14) is some 40 ms a check.
CHEAP = {"n": 2**10}
USERS = {
    "alice": Basic.hash_password(ALICE_PASSWORD, **CHEAP),
    "bob": Basic.hash_password(BOB_PASSWORD, **CHEAP),
    "jürgen": Basic.hash_password(UNICODE_PASSWORD, **CHEAP),
    "latin": Basic.hash_password(LATIN1_PASSWORD, **CHEAP),
}
TABLE = Basic.from_users(USERS)
PLAIN = {"alice": ALICE_PASSWORD, "bob": BOB_PASSWORD, "jürgen": UNICODE_PASSWORD}


def app_check(user: str, password: str) -> bool:
    """An app's own check, as one writes it (compare_digest on bytes)."""
    wanted = PLAIN.get(user, "")
    return hmac.compare_digest(password.encode(), wanted.encode()) and user in PLAIN


CHECKED = Basic(check=app_check)


def pair(user: str, password: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(f"{user}:{password}".encode(encoding)).decode("ascii")


def _outcome(result: Verified | Rejected) -> tuple[str, dict[str, object]]:
    if isinstance(result, Verified):
        return "verified", dict(result.claims)
    return str(result.reason), dict(result.facts)


WRONG = ("credentials_invalid", {"problem": "wrong_user_or_password"})
NOT_BASE64 = ("credentials_malformed", {"problem": "basic_not_base64"})
OVERSIZED = ("credentials_malformed", {"problem": "oversized"})

VERIFY_CASES: dict[str, tuple[str, tuple[str, dict[str, object]]]] = {
    "valid": (pair("alice", ALICE_PASSWORD), ("verified", {"sub": "alice"})),
    "another-user": (pair("bob", BOB_PASSWORD), ("verified", {"sub": "bob"})),
    "unicode-user-and-password": (
        pair("jürgen", UNICODE_PASSWORD),
        ("verified", {"sub": "jürgen"}),
    ),
    "wrong-password": (pair("alice", BOB_PASSWORD), WRONG),
    "unknown-user": (pair("mallory", ALICE_PASSWORD), WRONG),
    "another-users-password": (pair("bob", ALICE_PASSWORD), WRONG),
    "user-in-other-case": (pair("Alice", ALICE_PASSWORD), WRONG),
    "user-with-a-space": (pair("alice ", ALICE_PASSWORD), WRONG),
    "password-and-more": (pair("alice", ALICE_PASSWORD + "x"), WRONG),
    "password-cut-short": (pair("alice", ALICE_PASSWORD[:-1]), WRONG),
    "empty-password": (pair("alice", ""), WRONG),
    "empty-user": (pair("", ALICE_PASSWORD), WRONG),
    "empty-pair": (pair("", ""), WRONG),
    # RFC 7617 §2: split at the first colon; a user-id holds none.
    "colon-moved-into-the-user": (pair("alice:correct", "horse-battery"), WRONG),
    "control-character": (pair("alice", ALICE_PASSWORD + "\x00"), WRONG),
    "line-break-in-user": (pair("alice\r\n", ALICE_PASSWORD), WRONG),
    "utf8-sent-as-latin-1-bytes": (pair("jürgen", "pässwörd", "latin-1"), WRONG),
    "no-colon": (base64.b64encode(b"alice").decode(), NOT_BASE64),
    "empty": ("", NOT_BASE64),
    "not-base64": ("!!!!", NOT_BASE64),
    "missing-padding": (pair("alice", "pw").rstrip("="), NOT_BASE64),
    "base64url-alphabet": (
        base64.urlsafe_b64encode(b"a\xfb\xff:" + ALICE_PASSWORD.encode()).decode(),
        NOT_BASE64,
    ),
    "space-inside": (pair("alice", ALICE_PASSWORD)[:4] + " " + pair("alice", "x")[4:], NOT_BASE64),
    "line-break-inside": (pair("alice", ALICE_PASSWORD) + "\n", NOT_BASE64),
    "non-ascii-text": ("ÿÿÿÿ", NOT_BASE64),
    "lone-surrogate": ("\ud800" * 8, NOT_BASE64),
    "the-plain-pair": (f"alice:{ALICE_PASSWORD}", NOT_BASE64),
    "huge": ("A" * 1_000_000, OVERSIZED),
    "just-over-the-bound": ("A" * (basic.MAX_TOKEN_CHARS + 4), OVERSIZED),
    "huge-password-within-the-bound": (pair("alice", "p" * 3000), WRONG),
}


@pytest.mark.parametrize("form", ["users", "check"])
@pytest.mark.parametrize("name", sorted(VERIFY_CASES))
def test_verify(name: str, form: str) -> None:
    presented, wanted = VERIFY_CASES[name]
    assert _outcome((TABLE if form == "users" else CHECKED).verify(presented)) == wanted


def test_bytes_that_are_not_utf8_are_read_as_latin_1() -> None:
    """RFC 7617 §2.1: UTF-8 is what `charset` names; a client that sends
    ISO-8859-1 bytes is still understood (as werkzeug and DRF read them)."""
    sent = pair("latin", LATIN1_PASSWORD, "latin-1")
    assert base64.b64decode(sent) != f"latin:{LATIN1_PASSWORD}".encode()
    assert _outcome(TABLE.verify(sent)) == ("verified", {"sub": "latin"})
    assert _outcome(TABLE.verify(pair("latin", LATIN1_PASSWORD))) == ("verified", {"sub": "latin"})


def test_the_claims_never_hold_the_password() -> None:
    outcome = TABLE.verify(pair("alice", ALICE_PASSWORD))
    assert isinstance(outcome, Verified)
    assert dict(outcome.claims) == {"sub": "alice"}
    assert ALICE_PASSWORD not in repr(outcome)


def test_the_rejection_raises_as_the_apps_own_failure() -> None:
    rejected = TABLE.verify(pair("alice", BOB_PASSWORD))
    assert isinstance(rejected, Rejected)
    failure = rejected.failure()
    assert isinstance(failure, AuthFailure)
    assert failure.facts == {"problem": "wrong_user_or_password"}


# --- the app's check ---------------------------------------------------------------


def _raises(user: str, password: str) -> bool:
    raise RuntimeError(f"database down while checking {user}")


def _truthy_object(user: str, password: str) -> Any:
    return {"user": user}  # Flask-HTTPAuth style: a user object


def _forgets_return(user: str, password: str) -> Any:
    password == ALICE_PASSWORD  # noqa: B015 - the bug under test


class _AsyncCallable:
    async def __call__(self, user: str, password: str) -> bool:
        return True


CHECKS: dict[str, Any] = {
    "returns-a-user-object": _truthy_object,
    "forgets-its-return": _forgets_return,
    "async-callable-object": _AsyncCallable(),
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_only_true_lets_in_and_a_failing_check_is_a_refusal(name: str) -> None:
    verifier = Basic(check=CHECKS[name])
    assert _outcome(verifier.verify(pair("alice", ALICE_PASSWORD))) == WRONG


def test_a_check_that_raises_is_a_server_fault_never_the_clients() -> None:
    # Its database down: nothing was judged. 503 with Retry-After (never a
    # 401 telling the client its credentials are wrong), and the operator
    # hears of it by the error's type alone (its text holds the user name).
    verifier = Basic(check=_raises)
    with structlog.testing.capture_logs() as logs:
        outcome = verifier.verify(pair("alice", ALICE_PASSWORD))
        verifier.verify(pair("bob", ALICE_PASSWORD))  # within the minute: not again

    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.facts) == (Reason.VERIFIER_UNAVAILABLE, {"retry_after": 5})
    assert logs == [
        {
            "event": "auth.misconfig",
            "kind": "verifier_error",
            "error": "RuntimeError",
            "checked_by": "Basic",
            "log_level": "warning",
        }
    ]


def test_the_check_sees_the_user_and_password_as_decoded() -> None:
    seen: list[tuple[str, str]] = []

    def check(user: str, password: str) -> bool:
        seen.append((user, password))
        return True

    Basic(check=check).verify(pair("jürgen", "pa:ss:wörd"))
    assert seen == [("jürgen", "pa:ss:wörd")]


def test_the_check_is_not_called_for_what_no_client_sends() -> None:
    seen: list[str] = []
    verifier = Basic(check=lambda user, password: bool(seen.append(user)))
    for credential in ("!!!", "A" * 5000, pair("alice", "pw\x00"), base64.b64encode(b"x").decode()):
        verifier.verify(credential)
    assert seen == []


# --- same work for a wrong user and a wrong password --------------------------------


def _work(monkeypatch: pytest.MonkeyPatch, verifier: Basic, credential: str) -> Counter[str]:
    """What `verify` does, counted: each scrypt with its cost, each
    comparison, each SHA-256."""
    counted: Counter[str] = Counter()
    scrypt, compare, sha256 = hashlib.scrypt, hmac.compare_digest, hashlib.sha256

    def counting_scrypt(password: bytes, **options: Any) -> bytes:
        cost = {key: value for key, value in options.items() if key != "salt"}
        counted[f"scrypt {sorted(cost.items())} salt={len(options['salt'])}"] += 1
        return scrypt(password, **options)

    def counting_compare(a: Any, b: Any) -> bool:
        counted[f"compare_digest {len(a)}/{len(b)}"] += 1
        return compare(a, b)

    def counting_sha256(*data: Any) -> Any:
        counted["sha256"] += 1
        return sha256(*data)

    monkeypatch.setattr(basic.hashlib, "scrypt", counting_scrypt)
    monkeypatch.setattr(basic.hashlib, "sha256", counting_sha256)
    monkeypatch.setattr(basic.hmac, "compare_digest", counting_compare)
    try:
        verifier.verify(credential)
    finally:
        monkeypatch.undo()
    return counted


SAME_WORK = {
    "right-password": pair("alice", ALICE_PASSWORD),
    "wrong-password": pair("alice", BOB_PASSWORD),
    "last-users-wrong-password": pair("latin", BOB_PASSWORD),
    "unknown-user": pair("mallory", ALICE_PASSWORD),
    "prefix-of-a-user": pair("ali", ALICE_PASSWORD),
    "empty-user": pair("", ALICE_PASSWORD),
    "another-users-password": pair("bob", ALICE_PASSWORD),
}


def test_a_wrong_user_costs_what_a_wrong_password_does(monkeypatch: pytest.MonkeyPatch) -> None:
    work = {name: _work(monkeypatch, TABLE, sent) for name, sent in SAME_WORK.items()}
    assert work["unknown-user"] == work["wrong-password"]
    assert all(counted == work["wrong-password"] for counted in work.values()), work
    scrypts = [key for key in work["unknown-user"] if key.startswith("scrypt")]
    assert len(scrypts) == 1
    assert "('n', 1024), ('p', 1), ('r', 8)] salt=16" in scrypts[0]
    assert work["unknown-user"][scrypts[0]] == 1
    # One comparison per user, and one of the derived key.
    assert work["unknown-user"]["compare_digest 32/32"] == len(USERS) + 1


def test_the_dummy_is_of_the_users_own_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    costly = Basic(users={"alice": Basic.hash_password(ALICE_PASSWORD, n=2**11, r=4)})
    unknown = _work(monkeypatch, costly, pair("mallory", ALICE_PASSWORD))
    assert unknown == _work(monkeypatch, costly, pair("alice", BOB_PASSWORD))
    assert any("('n', 2048)" in key and "('r', 4)" in key for key in unknown)


# --- hostile input -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(sent=st.text(max_size=6000))
def test_verify_never_raises_on_any_text(sent: str) -> None:
    for verifier in (TABLE, CHECKED, Basic(check=_raises)):
        assert isinstance(verifier.verify(sent), Verified | Rejected)


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=600))
def test_verify_never_raises_on_any_decoded_bytes(raw: bytes) -> None:
    sent = base64.b64encode(raw).decode("ascii")
    for verifier in (TABLE, CHECKED, Basic(check=_raises)):
        outcome = verifier.verify(sent)
        assert isinstance(outcome, Verified | Rejected)
        if isinstance(outcome, Verified):
            assert set(outcome.claims) == {"sub"}


@settings(max_examples=25, deadline=None)
@given(
    password=st.text(
        st.characters(blacklist_categories=["Cs", "Cc"]), min_size=8, max_size=64
    ).filter(lambda text: text.strip() == text and len(text.strip()) >= 8)
)
def test_repr_and_str_never_hold_a_password(password: str) -> None:
    table = Basic.from_users({"alice": Basic.hash_password(password, **CHEAP)})
    partial = Basic(check=functools.partial(_compare, password=password))
    for verifier in (table, partial):
        assert password not in repr(verifier)
        assert password not in str(verifier)
    assert password not in repr(dict(table.users or {}))
    assert _outcome(table.verify(pair("alice", password))) == ("verified", {"sub": "alice"})


def _compare(user: str, given: str, *, password: str) -> bool:
    return hmac.compare_digest(given.encode(), password.encode())


def test_repr() -> None:
    assert repr(TABLE) == "Basic(users=<4 held as scrypt hashes, n=1024,r=8,p=1>)"
    assert repr(CHECKED) == "Basic(check=app_check)"
    assert repr(Basic(check=functools.partial(_compare, password=ALICE_PASSWORD))) == (
        "Basic(check=partial)"
    )


# --- configuration ------------------------------------------------------------------------

SECRET_IN_CONFIG = "cfg-password-Hk4Lm9Qz"
HASHED = USERS["alice"]


def _async_check(user: str, password: str) -> Any:
    async def inner() -> bool:
        return True

    return inner()


async def _coroutine_check(user: str, password: str) -> bool:
    return True


CONFIG_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "neither": ({}, "got neither"),
    "both": ({"check": app_check, "users": {"alice": HASHED}}, "got both"),
    "a-plain-password": ({"users": {"alice": SECRET_IN_CONFIG}}, "Basic.hash_password"),
    "a-plain-password-that-looks-hashed": (
        {"users": {"alice": "scrypt$" + SECRET_IN_CONFIG}},
        "write it again with Basic.hash_password",
    ),
    "werkzeugs-format": (
        {"users": {"alice": generate_password_hash(SECRET_IN_CONFIG, "scrypt:1024:8:1")}},
        "Basic.hash_password",
    ),
    "a-cost-too-low": (
        {"users": {"alice": HASHED.replace("n=1024", "n=512")}},
        "n=2**10..2**20",
    ),
    "a-cost-no-power-of-two": (
        {"users": {"alice": HASHED.replace("n=1024", "n=1000")}},
        "n=2**10..2**20",
    ),
    "a-cost-too-high": (
        {"users": {"alice": HASHED.replace("n=1024", "n=16777216")}},
        "n=2**10..2**20",
    ),
    "a-short-salt": (
        {"users": {"alice": "$".join([*HASHED.split("$")[:2], "AAAA", HASHED.split("$")[3]])}},
        "hash_password",
    ),
    "mixed-costs": (
        {"users": {"alice": HASHED, "bob": Basic.hash_password(BOB_PASSWORD, n=2**11)}},
        "different costs",
    ),
    "empty-users": ({"users": {}}, "users is empty"),
    "users-as-a-list": ({"users": [("alice", HASHED)]}, "got a list"),
    "users-the-wrong-way-round": ({"users": {HASHED: "alice"}}, "users entry 1"),
    "a-user-with-a-colon": ({"users": {"al:ice": HASHED}}, "without ':'"),
    "a-user-with-a-line-break": ({"users": {"alice\n": HASHED}}, "control characters"),
    "an-empty-user": ({"users": {"": HASHED}}, "a user name is text"),
    "a-bytes-hash": ({"users": {"alice": HASHED.encode()}}, "not a password hash"),
    "too-many-users": (
        {"users": {f"user-{i}": HASHED for i in range(basic.MAX_USERS + 1)}},
        "at most 1000 users",
    ),
    "check-not-callable": ({"check": SECRET_IN_CONFIG}, "got a str"),
    "check-a-class": ({"check": Basic}, "got a type"),
    "check-async": ({"check": _coroutine_check}, "synchronously"),
}


@pytest.mark.parametrize("name", sorted(CONFIG_ERRORS))
def test_a_bad_configuration_says_what_to_change(name: str) -> None:
    options, message = CONFIG_ERRORS[name]
    with pytest.raises(ValueError, match="authhygiene: Basic") as raised:
        Basic(**options)
    assert message in str(raised.value)
    assert SECRET_IN_CONFIG not in str(raised.value)


HASH_ERRORS: dict[str, tuple[Any, dict[str, Any], str]] = {
    "empty": ("", {}, "an empty one"),
    "bytes": (SECRET_IN_CONFIG.encode(), {}, "got bytes"),
    "control-character": (SECRET_IN_CONFIG + "\n", {}, "no control characters"),
    "huge": (SECRET_IN_CONFIG * 100, {}, "at most 1024"),
    "n-not-a-power-of-two": (SECRET_IN_CONFIG, {"n": 1000}, "power of two"),
    "n-too-low": (SECRET_IN_CONFIG, {"n": 2**9}, "power of two"),
    "n-a-bool": (SECRET_IN_CONFIG, {"n": True}, "power of two"),
    "r-zero": (SECRET_IN_CONFIG, {"r": 0}, "r from 1 to 32"),
    "p-too-high": (SECRET_IN_CONFIG, {"p": 17}, "p from 1 to 16"),
    "memory": (SECRET_IN_CONFIG, {"n": 2**20, "r": 8}, "256 MiB"),
}


@pytest.mark.parametrize("name", sorted(HASH_ERRORS))
def test_hash_password_refuses_with_a_reason(name: str) -> None:
    password, cost, message = HASH_ERRORS[name]
    with pytest.raises(ValueError, match=r"Basic\.hash_password") as raised:
        Basic.hash_password(password, **cost)
    assert message in str(raised.value)
    assert SECRET_IN_CONFIG not in str(raised.value)


def test_hash_password_salts_every_hash() -> None:
    first, second = (Basic.hash_password(ALICE_PASSWORD, **CHEAP) for _ in range(2))
    assert first != second
    assert first.startswith("scrypt$n=1024,r=8,p=1$")
    assert ALICE_PASSWORD not in first
    assert Basic.hash_password.__defaults__ is None  # keyword-only, named below
    assert Basic.hash_password.__kwdefaults__ == {"n": 2**14, "r": 8, "p": 1}


def test_an_async_function_returning_a_coroutine_is_a_refusal_not_a_warning() -> None:
    verifier = Basic(check=_async_check)
    assert _outcome(verifier.verify(pair("alice", ALICE_PASSWORD))) == WRONG


def test_users_are_held_as_given_hashes_and_cannot_change_under_it() -> None:
    users = dict(USERS)
    verifier = Basic(users=users)
    users["mallory"] = Basic.hash_password("mallory-password", **CHEAP)
    assert "mallory" not in (verifier.users or {})
    assert _outcome(verifier.verify(pair("mallory", "mallory-password"))) == WRONG


def test_policy_takes_it() -> None:
    policy = Policy.from_options({"realm": "api", "verify": TABLE})
    assert policy.verify is TABLE


# --- which credential it reads ------------------------------------------------------------

CREDENTIAL_CASES: dict[str, tuple[Credentials, str | None]] = {
    "basic": (Credentials(scheme="Basic", token="YTpi", source="header"), "YTpi"),
    "bearer": (Credentials(scheme="Bearer", token="YTpi", source="header"), None),
    "an-api-key": (Credentials(api_key_header="x-api-key", api_key="YTpi"), None),
    "a-query-token": (Credentials(token="YTpi", source="query"), None),
    "nothing": (Credentials(), None),
}


@pytest.mark.parametrize("name", sorted(CREDENTIAL_CASES))
def test_credential(name: str) -> None:
    credentials, wanted = CREDENTIAL_CASES[name]
    assert TABLE.credential(credentials) == wanted


# --- served: the app decides, the middleware explains ----------------------------------------

# The apps' own password store (werkzeug's hashes, cheap ones for tests);
# the middleware's verifier holds its own `hash_password` hashes.
APP_HASHES = {
    "alice": generate_password_hash(ALICE_PASSWORD, "scrypt:1024:8:1"),
    "bob": generate_password_hash(BOB_PASSWORD, "scrypt:1024:8:1"),
    "jürgen": generate_password_hash(UNICODE_PASSWORD, "scrypt:1024:8:1"),
}


def _flask_httpauth() -> Flask:
    """Flask-HTTPAuth's documented example."""
    app = Flask(__name__)
    auth = HTTPBasicAuth(realm="api")

    @auth.verify_password
    def verify_password(username: str, password: str) -> str | None:
        if username in APP_HASHES and check_password_hash(APP_HASHES[username], password):
            return username
        return None

    @app.get("/me")
    @auth.login_required
    def me() -> dict[str, str]:
        return {"sub": auth.current_user()}

    return app


_BASIC = HTTPBasic(realm="api")


def current_user(credentials: Annotated[HTTPBasicCredentials, Depends(_BASIC)]) -> str:
    """FastAPI's HTTP Basic tutorial: one 401 for any wrong pair."""
    hashed = APP_HASHES.get(credentials.username)
    if hashed is None or not check_password_hash(hashed, credentials.password):
        raise HTTPException(
            status_code=401,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": 'Basic realm="api"'},
        )
    return credentials.username


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
        return {"sub": user}

    return app


SERVED = Basic.from_users(
    {
        "alice": Basic.hash_password(ALICE_PASSWORD, **CHEAP),
        "bob": Basic.hash_password(BOB_PASSWORD, **CHEAP),
        "jürgen": Basic.hash_password(UNICODE_PASSWORD, **CHEAP),
    }
)


@pytest.fixture(scope="module", params=["flask-httpauth-werkzeug", "fastapi-uvicorn"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "fastapi-uvicorn":
        with UvicornThread(AuthHygiene(_fastapi(), realm="api", verify=SERVED)) as server:
            yield server.port
    else:
        app = _flask_httpauth()
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, realm="api", verify=SERVED)  # type: ignore[method-assign]
        with WerkzeugThread(app) as server:
            yield server.port


def _basic(user: str, password: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Basic {pair(user, password)}")]


WRONG_PAIRS = {
    "wrong-password": ("alice", BOB_PASSWORD),
    "unknown-user": ("mallory", ALICE_PASSWORD),
    "another-users-password": ("bob", ALICE_PASSWORD),
}


def _explained(port: int, user: str, password: str) -> dict[str, Any]:
    reply = fetch(port, "/me", headers=_basic(user, password))
    problem = assert_problem(reply, status=401, reason="credentials_invalid")
    assert problem.get("problem") == "wrong_user_or_password"
    assert_absent([password, pair(user, password)], reply.wire_text, json.dumps(problem))
    assert 'Basic realm="api"' in (reply.get("www-authenticate") or "")
    return problem


@pytest.mark.parametrize("name", sorted(WRONG_PAIRS))
def test_served_a_wrong_pair_is_explained(port: int, name: str) -> None:
    _explained(port, *WRONG_PAIRS[name])


def test_served_a_wrong_user_and_a_wrong_password_read_the_same(port: int) -> None:
    def without_id(problem: dict[str, Any]) -> dict[str, Any]:
        # Each answer has its own request id (and `instance`, made of it).
        return {k: v for k, v in problem.items() if k not in ("request_id", "instance")}

    answers = [without_id(_explained(port, *WRONG_PAIRS[name])) for name in sorted(WRONG_PAIRS)]
    assert all(answer == answers[0] for answer in answers)


@pytest.mark.parametrize(("user", "password"), [("alice", ALICE_PASSWORD), ("bob", BOB_PASSWORD)])
def test_served_a_right_pair_gets_in(port: int, user: str, password: str) -> None:
    reply = fetch(port, "/me", headers=_basic(user, password))
    assert reply.status == 200
    assert reply.json() == {"sub": user}


def test_served_a_utf8_pair(port: int, request: pytest.FixtureRequest) -> None:
    """RFC 7617 §2.1: Flask-HTTPAuth (werkzeug) reads a UTF-8 pair. FastAPI's
    HTTPBasic decodes the pair as ASCII and answers 'Not authenticated': the
    app never read it, and the middleware says so rather than blaming the
    password the verifier accepts."""
    reply = fetch(port, "/me", headers=_basic("jürgen", UNICODE_PASSWORD))
    if "fastapi" not in request.node.callspec.id:
        assert reply.status == 200
        assert reply.json() == {"sub": "jürgen"}
        return
    problem = assert_problem(reply, status=401, reason="credentials_missing")
    assert problem.get("problem") == "credentials_not_read"


def test_served_a_pair_that_is_no_base64_is_malformed(port: int) -> None:
    reply = fetch(port, "/me", headers=[("Authorization", "Basic !!not-base64!!")])
    problem = assert_problem(reply, status=400, reason="credentials_malformed")
    assert problem.get("problem") == "basic_not_base64"


def test_served_no_pair_is_missing_credentials(port: int) -> None:
    reply = fetch(port, "/me")
    assert_problem(reply, status=401, reason="credentials_missing")
