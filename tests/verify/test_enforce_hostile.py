"""Hostile requests to enforce mode's step before the app, through uvicorn
and werkzeug's server: huge and repeated Authorization headers, bytes that
are not UTF-8 in the path, long paths full of `*` against rules with
several `*`, tokens with huge numbers, deep JSON, `alg: none` and the
HS256-with-the-RSA-public-key confusion. Whatever comes in: never a 5xx,
always a well-formed 4xx (a problem body when the answer is ours), the app
never runs for it, and the token is nowhere in what goes back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from structlog.testing import CapturingLogger

from authhygiene import AuthHygiene, AuthHygieneWSGI, Scopes
from authhygiene.verify import JWT
from tests.e2e.servers import (
    Reply,
    UvicornThread,
    WerkzeugThread,
    assert_absent,
    challenges,
    fetch,
    raw_exchange,
)
from tests.verify.enforce_apps import KID, RSA_PRIVATE, RSA_PUBLIC_PEM, SECRET, Calls, bearer

RULES = [
    ("GET", "/a/*/b/*/c/*", Scopes("abc:read")),
    ("*", "/pub/*", None),
    ("GET", "/*/*/*/*", Scopes("deep:read")),
    ("*", "/*", Scopes("any:thing")),
]
# A valid token is refused on purpose: every hostile request must be refused.
MAX_CHALLENGE_CHARS = 2048
MAX_BODY_BYTES = 16 * 1024


def _verifier() -> JWT:
    # Both kinds of key: the configuration an algorithm confusion aims at.
    return JWT(algorithms=["RS256", "HS256"], keys={"rsa-1": RSA_PUBLIC_PEM, KID: SECRET})


def _options(log: CapturingLogger) -> dict[str, Any]:
    return {
        "realm": "api",
        "mode": "enforce",
        "verify": _verifier(),
        "require": RULES,
        "logger": log,
        "log_limit": None,
    }


def _starlette(calls: Calls) -> Starlette:
    async def anything(request: Request) -> JSONResponse:
        calls.add("anything")
        return JSONResponse({"subject": getattr(request.scope.get("user"), "subject", None)})

    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{rest:path}", anything, methods=methods)])


def _flask(calls: Calls) -> Flask:
    app = Flask(__name__)

    @app.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "DELETE"])
    @app.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    def anything(rest: str) -> Any:
        calls.add("anything")
        return {"rest": rest}

    return app


@dataclass
class Target:
    name: str
    port: int
    calls: Calls
    log: CapturingLogger


@pytest.fixture(scope="module", params=["uvicorn", "werkzeug"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    calls, log = Calls(), CapturingLogger()
    if request.param == "uvicorn":
        server: UvicornThread | WerkzeugThread = UvicornThread(
            AuthHygiene(_starlette(calls), **_options(log))
        )
    else:
        app = _flask(calls)
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **_options(log))  # type: ignore[method-assign]
        server = WerkzeugThread(app)
    with server:
        yield Target(request.param, server.port, calls, log)


def _b64(data: object) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(header: object, payload: object, signature: bytes = b"not-a-signature") -> str:
    return f"{_b64(header)}.{_b64(payload)}.{_b64(signature)}"


def _hs_with(key: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def _claims(**more: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "mallory", "iat": now, "exp": now + 600, "jti": secrets.token_hex(8), **more}


def _signed(**claims: Any) -> str:
    return jwt.encode(_claims(**claims), SECRET, algorithm="HS256", headers={"kid": KID})


def _deep(depth: int) -> bytes:
    return b'{"sub":"x","d":' + b"[" * depth + b"]" * depth + b"}"


# name -> the token (made when the test runs)
TOKENS: dict[str, Callable[[], str]] = {
    "huge-int-exp": lambda: _unsigned(
        {"alg": "HS256", "kid": KID}, b'{"sub":"x","exp":' + b"9" * 5000 + b"}"
    ),
    "huge-int-kid": lambda: _unsigned({"alg": "HS256"}, {"sub": "x"}).replace(
        _b64({"alg": "HS256"}), _b64(b'{"alg":"HS256","kid":' + b"9" * 5000 + b"}")
    ),
    "huge-float-exp": lambda: _unsigned({"alg": "HS256", "kid": KID}, b'{"exp":1e999}'),
    "nan-exp": lambda: _unsigned({"alg": "HS256", "kid": KID}, b'{"exp":NaN}'),
    "deep-payload": lambda: _unsigned({"alg": "HS256", "kid": KID}, _deep(2500)),
    "deep-header": lambda: _unsigned(_deep(2500), {"sub": "x"}),
    "alg-none": lambda: f"{_b64({'alg': 'none'})}.{_b64(_claims())}.",
    "alg-None": lambda: f"{_b64({'alg': 'None', 'kid': KID})}.{_b64(_claims())}.",
    "alg-missing": lambda: _unsigned({"kid": KID}, _claims()),
    "alg-list": lambda: _unsigned({"alg": ["HS256"], "kid": KID}, _claims()),
    "confusion-pem-as-hmac-kid": lambda: _hs_with(
        RSA_PUBLIC_PEM, {"alg": "HS256", "kid": "rsa-1"}, _claims()
    ),
    "confusion-pem-as-hmac-no-kid": lambda: _hs_with(
        RSA_PUBLIC_PEM, {"alg": "HS256", "typ": "JWT"}, _claims()
    ),
    "rs-token-with-hs-kid": lambda: jwt.encode(
        _claims(), RSA_PRIVATE, algorithm="RS256", headers={"kid": KID}
    ),
    "kid-crlf": lambda: _unsigned({"alg": "HS256", "kid": "a\r\nSet-Cookie: s=1"}, {"sub": "x"}),
    "kid-long": lambda: _unsigned({"alg": "HS256", "kid": "K" * 4000}, {"sub": "x"}),
    "kid-object": lambda: _unsigned({"alg": "HS256", "kid": {"$ne": None}}, {"sub": "x"}),
    "crit": lambda: _unsigned({"alg": "HS256", "kid": KID, "crit": ["exp"]}, _claims()),
    "header-not-object": lambda: _unsigned([1, 2, 3], {"sub": "x"}),
    "four-parts": lambda: _signed() + ".extra",
    "huge": lambda: "A" * 12_000,
    "not-ascii": lambda: "tökén-" + "é" * 30,
    # Signed with the app's own key, hostile inside.
    "signed-exp-in-the-past-far": lambda: _signed(exp=-(10**30)),
    "signed-exp-past-float": lambda: _signed(exp=10**400),
    "signed-nbf-far-future": lambda: _signed(nbf=10**30),
    "signed-scope-objects": lambda: _signed(scope=[{"any:thing": True}, None, 3]),
    "signed-sub-crlf": lambda: _signed(sub="mallory\r\nX-Admin: yes"),
    "signed-deep-claim": lambda: _signed(deep=json.loads("[" * 900 + "]" * 900)),
}


def _well_formed_4xx(reply: Reply, target: Target, sent: list[str]) -> dict[str, Any] | None:
    """A 4xx, never a 5xx; when the answer is a problem body (ours), a
    complete one with bounded challenges; the sent values nowhere in it."""
    assert 400 <= reply.status < 500, reply.status
    assert_absent([value for value in sent if len(value) >= 8], reply.wire_text)
    assert reply.get("set-cookie") is None
    if reply.get("content-type") != "application/problem+json":
        return None  # the server's own refusal (a request it cannot parse)
    assert reply.get_all("cache-control") == ["no-store"]
    assert len(reply.body) <= MAX_BODY_BYTES
    problem = json.loads(reply.body)
    assert problem["status"] == reply.status
    assert isinstance(problem["reason"], str)
    for value in reply.get_all("www-authenticate"):
        assert len(value) <= MAX_CHALLENGE_CHARS
    challenges(reply)  # each one parses (werkzeug), CR/LF-free
    # Answered by the refusal path itself, not by its generic fallback.
    assert not [c for c in target.log.calls if c.kwargs.get("kind") == "internal_error"]
    (event,) = [
        call.kwargs
        for call in target.log.calls
        if call.args
        and call.args[0] == "auth.failure"
        and call.kwargs.get("request_id") == problem["request_id"]
    ]
    assert event["reason"] == problem["reason"]
    return dict(problem)


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_hostile_tokens_are_refused_well(target: Target, name: str) -> None:
    sent = TOKENS[name]()
    before = target.calls.total()
    reply = fetch(target.port, "/items/1", headers=bearer(sent))
    problem = _well_formed_4xx(reply, target, [sent])
    assert problem is not None
    assert problem["reason"] != "insufficient_scope" or name.startswith("signed-")
    assert target.calls.total() == before


def _paths() -> dict[str, str]:
    stars = "*" * 3000
    return {
        "stars-10k": "/a/" + "*b/" * 1500 + "c/" + stars + "/x" * 1000,
        "encoded-stars": "/a/" + "%2A" * 2000 + "/b/" + "%2a" * 1000 + "/c/",
        "almost-a-b-c": "/a/" + "b/" * 4000 + "c",
        "slashes": "/" * 5000,
        "pub-lookalike": "/pub" + "/.." * 2000 + "/a",
        "invalid-utf8-encoded": "/x/%ff%fe%c3%28",
        "invalid-utf8-public": "/pub/%ff%fe",
        "nul-encoded": "/x/%00/y",
    }


@pytest.mark.parametrize("name", sorted(_paths()))
@pytest.mark.parametrize("credential", ["none", "valid-no-scope"])
def test_hostile_paths_are_refused_well(target: Target, name: str, credential: str) -> None:
    path = _paths()[name]
    headers = bearer(_signed()) if credential == "valid-no-scope" else []
    before = target.calls.total()
    started = time.monotonic()
    reply = fetch(target.port, path, headers=headers)
    elapsed = time.monotonic() - started
    if name.endswith("-public") or (name == "pub-lookalike" and reply.status < 400):
        # A public rule's path: the app answers (or the server, for a bad path).
        assert reply.status < 500
        return
    problem = _well_formed_4xx(reply, target, [value.split()[-1] for _, value in headers])
    if problem is not None:
        assert target.calls.total() == before
    assert elapsed < 5.0  # a bound on a hung matcher, not a benchmark


RAW_PATHS = [
    pytest.param(b"/x/\xff\xfe", id="invalid-utf8"),
    pytest.param(b"/pub/\xff", id="invalid-utf8-public"),
    pytest.param(b"/a/\xc3(/b/\xe2\x28\xa1/c/\xf0\x28\x8c\xbc", id="invalid-utf8-sequences"),
    pytest.param(b"/" + b"\x80*" * 2000, id="high-bytes-and-stars"),
]


@pytest.mark.parametrize("path", RAW_PATHS)
def test_bytes_that_are_not_utf8_in_the_path(target: Target, path: bytes) -> None:
    sent = _signed()
    request = (
        b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + sent.encode() + b"\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(target.port, request)
    status_line, _, rest = answer.partition(b"\r\n")
    status = int(status_line.split()[1])
    assert 400 <= status < 500 or (b"/pub/" in path and status < 500), status_line
    assert sent.encode() not in answer
    if b"application/problem+json" in rest.partition(b"\r\n\r\n")[0].lower():
        body = json.loads(rest.partition(b"\r\n\r\n")[2])
        assert body["status"] == status


HEADER_FLOODS = [
    pytest.param(lambda t: bearer(t) * 100, 400, "credentials_malformed", id="100-authorization"),
    pytest.param(
        lambda t: [*bearer(t), ("Authorization", "Basic eDp5")], 400, None, id="two-schemes"
    ),
    pytest.param(
        lambda t: [("Authorization", "Bearer " + t + " " * 3000 + "x")], 400, None, id="padded"
    ),
    pytest.param(
        lambda t: [("Authorization", "Bearer " + "A" * 14_000)], 401, "token_too_large", id="14k"
    ),
    pytest.param(
        lambda t: [("Authorization", "Bearer " + t), ("X-Filler", "f" * 8000)] * 2,
        400,
        None,
        id="fillers",
    ),
]


@pytest.mark.parametrize(("headers", "status", "reason"), HEADER_FLOODS)
def test_huge_and_repeated_authorization_headers(
    target: Target,
    headers: Callable[[str], list[tuple[str, str]]],
    status: int,
    reason: str | None,
) -> None:
    sent = _signed(scope="any:thing abc:read")  # a token the rules would admit
    flood = headers(sent)
    before = target.calls.total()
    reply = fetch(target.port, "/items/1", headers=flood)
    problem = _well_formed_4xx(reply, target, [sent] + [v.split()[-1] for _, v in flood])
    if problem is not None:
        assert reply.status == status
        assert reason is None or problem["reason"] == reason
    assert target.calls.total() == before


def test_a_header_past_the_servers_limit_is_the_servers_4xx(target: Target) -> None:
    reply = fetch(target.port, "/items/1", headers=[("Authorization", "Bearer " + "A" * 70_000)])
    assert 400 <= reply.status < 500


# --- any Authorization value, any path ----------------------------------------------------

_SCHEMES = st.sampled_from(["Bearer", "bearer", "Basic", "Token", "", "Bearer Bearer", "DPoP"])
# Latin-1 text without CR/LF (http.client refuses those): what a header can carry.
_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=300,
)
_PATH_PARTS = st.text(alphabet="ab*%/.é~-_", max_size=40)


@settings(max_examples=40, deadline=None)
@given(scheme=_SCHEMES, value=_VALUES, tail=_PATH_PARTS)
def test_any_authorization_header_is_refused_well(
    target: Target, scheme: str, value: str, tail: str
) -> None:
    header = f"{scheme} {value}".strip()
    path = "/q/" + tail.replace("%", "%25").replace("é", "%C3%A9")
    reply = fetch(target.port, path, headers=[("Authorization", header)])
    sent = [value.strip()] if len(value.strip()) >= 12 else []
    _well_formed_4xx(reply, target, sent)


# --- a verifier that raised once (HEAD's token_cache called float() on exp) ---------------


def test_verify_never_raises_on_a_signed_token_with_a_huge_exp() -> None:
    token = jwt.encode({"sub": "u", "exp": 10**400}, SECRET, algorithm="HS256")
    outcome = JWT(algorithms=["HS256"], keys=SECRET).verify(token)
    assert outcome is not None


# --- found by these tests --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["confusion-pem-as-hmac-kid", "rs-token-with-hs-kid"])
def test_a_kid_held_for_another_algorithm_is_not_called_unknown(target: Target, name: str) -> None:
    sent = TOKENS[name]()
    reply = fetch(target.port, "/items/1", headers=bearer(sent))
    problem = _well_formed_4xx(reply, target, [sent])
    assert problem is not None
    assert problem["reason"] != "token_key_unknown", problem["detail"]
