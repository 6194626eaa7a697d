"""The shape cache (`Decider`) held to the general rule it stands in for.

`Decider` answers a repeated refusal from memory: it runs `refuse` once per
shape (credentials, the app's answer, what the app declared, the method) and
second, and fills in each request's own parts. That is only sound if the
memo can never answer differently from `decide`, so every test here compares
the fast path with `decide` itself rather than with expected values: on
random requests and answers drawn from realistic and hostile pools, on
repeated and sibling requests, across seconds, across many shapes sharing one
`Decider`, and from many threads at once. The rest checks what the memo
promises about itself: it skips `refuse` exactly when nothing it follows from
changed, it stays bounded, and it keeps no credential.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import random
import re
import sys
import threading
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any
from unittest import mock

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authhygiene.core import shape_cache
from authhygiene.core.cors import CORS
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import ANSWER_HEADERS_READ, Decision, Refusal, decide
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.policy import Policy
from authhygiene.core.reasons import Reason
from authhygiene.core.shape_cache import Decider

NOW = 1_800_000_000
ALLOWED = "https://app.example.com"

# --- credentials ---------------------------------------------------------------

_SIGNING_KEY = "authhygiene-tests-signing-key-0123456789abcdef"


def signed(**claims: Any) -> str:
    payload = {"sub": "user-17", "iss": "https://issuer.example", **claims}
    return jwt.encode(payload, _SIGNING_KEY, algorithm="HS256")


JWT_VALID = signed(exp=NOW + 3600, iat=NOW - 60)
JWT_EXPIRED = signed(exp=NOW - 95, iat=NOW - 3695)
JWT_EXPIRED_LONG_AGO = signed(exp=NOW - 86_400)
JWT_NOT_YET_VALID = signed(nbf=NOW + 30, exp=NOW + 3600)
# Valid at NOW, expired at NOW + 1 (RFC 7519 §4.1.4: expired when exp <= now):
# a refusal remembered for one second must not be served in the next.
JWT_EXPIRES_NEXT_SECOND = signed(exp=NOW + 1)
JWT_ALG_NONE = jwt.encode({"sub": "user-17", "exp": NOW + 3600}, None, algorithm="none")
OPAQUE = "0paqueT0kenValue-42xQ"
OTHER_OPAQUE = "an0therT0kenValue-7Rz"
PASSWORD = "correct-horse-battery"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
COOKIE = "s3ssionCookieValue77"
API_KEY = "ak_live_key_1234567890"
STRAY_KEY = "strayKeyValue-9876"

# --- policies ------------------------------------------------------------------

POLICIES = {
    name: Policy.from_options(options)
    for name, options in {
        "default": {"realm": "api"},
        "bearer-basic-full": {"realm": "api", "schemes": ("Bearer", "Basic"), "explain": "full"},
        "cors-minimal-omit": {
            "realm": "api",
            "cors": CORS(allow_origins=[ALLOWED]),
            "explain": "minimal",
            "log_omit": {"client", "user_agent"},
        },
        "proxies-compat-403": {
            "realm": "api",
            "trusted_proxies": ["10.0.0.0/8"],
            "compat_403": True,
        },
        "no-request-id-one-key-header": {
            "realm": "api",
            "request_id_header": None,
            "api_key_headers": ("x-api-key",),
        },
        "report-only": {"realm": "api", "report_only": True},
        "jwt-rs256-metadata": {
            "realm": "api",
            "token_format": "jwt",
            "algorithms": ("RS256",),
            "log_claims": ("sub",),
            "resource_metadata": "https://api.example.com/.well-known/oauth-protected-resource",
        },
    }.items()
}
DEFAULT = POLICIES["default"]

# --- pools: what a request carries ---------------------------------------------

AUTHORIZATIONS = (
    f"Bearer {JWT_VALID}",
    f"Bearer {JWT_EXPIRED}",
    f"Bearer {JWT_EXPIRED_LONG_AGO}",
    f"Bearer {JWT_NOT_YET_VALID}",
    f"Bearer {JWT_EXPIRES_NEXT_SECOND}",
    f"Bearer {JWT_ALG_NONE}",
    f"Bearer {OPAQUE}",
    f"bearer {JWT_EXPIRED}",
    f"DPoP {JWT_EXPIRED}",
    f"Basic {BASIC}",
    "Basic !!not-base64!!",
    f"Bearer Bearer {OPAQUE}",
    f'Bearer "{OPAQUE}"',
    f"Bearer {OPAQUE} trailing",
    f"Token {OPAQUE}",
    f"Bearer {OPAQUE}, Basic {BASIC}",  # two fields joined by a WSGI server
    "Bearer ",
    "Bearer",
    "",
)
COOKIES = (
    f"session={COOKIE}",
    f"theme=dark; session={COOKIE}",
    "theme=en",
    f"csrftoken=csrfCookieValue1; sessionid={COOKIE}",
)
CREDENTIAL_QUERIES = (
    f"access_token={OPAQUE}",
    f"access_token={JWT_EXPIRED}&page=2",
    "token=",
    f"api_key={API_KEY}",
    "next=%2Fitems%3Ftoken%3Dabc",
)
# Query strings without credentials: a request's own part, like its path.
FREE_QUERIES = ("", "page=2", "sort=name&limit=50", "q=shoes")
PATHS = (
    "/items",
    "/items/42",
    f"/items/{OPAQUE}",
    f"/download/{JWT_VALID}",
    "/api/v1/users/me",
    f"/share/{COOKIE}",
)
USER_AGENTS = (
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "python-requests/2.32.3",
    f"sync-client/2.1 (token {OPAQUE})",
    f"tool/1.0 {JWT_VALID}",
    f"cli/3 {PASSWORD}",
)
REQUEST_IDS = (
    "3f2b8c1e-6a4d-4f7e-9b2a-1c5d8e7f9a0b",
    "0af7651916cd43dd8448eb211c80319c",
    "req-42",
    JWT_VALID,  # credential-looking: never echoed
    f"tok-{API_KEY}",
    "has space",
)
ORIGINS = (ALLOWED, "https://evil.example", "null")
FORWARDED_FOR = ("203.0.113.7", "10.1.2.3, 198.51.100.9", "unknown, 10.0.0.2")
CLIENTS = (None, "127.0.0.1", "10.0.0.5", "203.0.113.9", "::1")
METHODS = ("GET", "POST", "OPTIONS", "HEAD")

# --- pools: what the app answers -------------------------------------------------

CHALLENGES = (
    "Bearer",
    'Bearer realm="api"',
    'Bearer realm="api", error="invalid_token", error_description="The access token expired"',
    'Bearer realm="api", error="insufficient_scope", scope="items:write"',
    f'Bearer error="invalid_token", error_description="token {OPAQUE} is revoked"',
    'Bearer realm="api", error_uri="https://docs.example.com/errors/invalid_token"',
    'Basic realm="users", charset="UTF-8"',
    'Bearer realm="unterminated',
    "APIKey",
    "Token",
)
CONTENT_TYPES = (
    "text/plain; charset=utf-8",
    "application/json",
    "application/problem+json",
    "text/html; charset=utf-8",
)
VARYS = ("Accept-Encoding", "Origin", "*")
CACHE_CONTROLS = ("public, max-age=60", "max-age=300", "no-cache", "private")
# Headers of the app's answer that a failure response only carries over or
# drops: two answers that differ only here are the same shape.
PASSTHROUGH = (
    ("set-cookie", "csrftoken=Zx81; Path=/; SameSite=Lax"),
    ("set-cookie", "theme=dark; Path=/"),
    ("etag", '"v1"'),
    ("etag", 'W/"v2"'),
    ("x-request-id", "app-req-7"),
    ("x-request-id", "6f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ("x-request-id", JWT_VALID),
    ("x-frame-options", "DENY"),
    ("content-length", "44"),
    ("server", "uvicorn"),
    ("access-control-expose-headers", "x-total-count"),
)
PASSTHROUGH_NAMES = frozenset(name for name, _ in PASSTHROUGH)
PROBLEM_BODY = json.dumps(
    {
        "type": "https://example.com/probs/auth",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Token expired",
        "instance": "/items/1",
        "trace": "t-1",
    }
).encode()
BODIES = (
    b'{"detail":"Not authenticated"}',
    b'{"detail":"Could not validate credentials"}',
    b'{"detail":"Authentication credentials were not provided."}',
    b'{"detail":"Invalid token."}',
    b'{"detail":"Given token not valid for any token type","code":"token_not_valid"}',
    b'{"detail":"You do not have permission to perform this action."}',
    b"Token has expired",
    b'{"msg":"Token has expired"}',
    b'{"msg":"Missing Authorization Header"}',
    b"Invalid basic auth credentials",
    b'{"detail":"Missing scope items:write"}',
    b'{"error":"invalid_token","error_description":"The access token expired"}',
    PROBLEM_BODY,
    b"<!DOCTYPE html><html><body><h1>Forbidden (403)</h1>"
    b"<p>CSRF verification failed. Request aborted.</p></body></html>",
    f'{{"detail":"Invalid token {OPAQUE}"}}'.encode(),
    b"",
)
FACTS: tuple[dict[str, object], ...] = (
    {},
    {"required_scope": "items:write"},
    {"required_scope": ["items:read", "items:write"]},
    {"acr_values": "phr", "max_age": 300},
    {"problem": "revoked", "jti": "j-1"},
)
DETAILS = (None, "Token revoked", f"bad token {OPAQUE}", "Not enough scope")

# --- requests as values ------------------------------------------------------------

_VIEW_FIELDS = frozenset({"method", "path", "query", "client"})
_ANSWER_FIELDS = frozenset({"status", "body"})


def _set(
    headers: tuple[tuple[str, str], ...], name: str, value: str | None
) -> tuple[tuple[str, str], ...]:
    """`name` replaced where it stands (added last when absent), or removed."""
    if value is None:
        return tuple(h for h in headers if h[0] != name)
    if not any(key == name for key, _ in headers):
        return (*headers, (name, value))
    return tuple((key, value if key == name else old) for key, old in headers)


@dataclass(frozen=True)
class Call:
    """One request and the app's answer to it, as `decide` takes them."""

    view: RequestView
    answer: AppAnswer
    declared: Declared | None = None
    now: float = NOW

    def header(self, name: str, value: str | None) -> Call:
        return replace(self, view=replace(self.view, headers=_set(self.view.headers, name, value)))

    def app(self, name: str, value: str | None) -> Call:
        answer = replace(self.answer, headers=_set(self.answer.headers, name, value))
        return replace(self, answer=answer)

    def but(self, **changes: Any) -> Call:
        view = replace(self.view, **{k: v for k, v in changes.items() if k in _VIEW_FIELDS})
        answer = replace(self.answer, **{k: v for k, v in changes.items() if k in _ANSWER_FIELDS})
        rest = {k: v for k, v in changes.items() if k in ("declared", "now")}
        return replace(self, view=view, answer=answer, **rest)


@dataclass(frozen=True)
class Case:
    """A request; a sibling of the same shape (other path, query, client,
    user agent, origin, request id and pass-through headers); and
    neighbours that each differ in one thing a refusal may follow from."""

    policy: str
    first: Call
    second: Call
    neighbours: tuple[Call, ...]


# --- the oracle ---------------------------------------------------------------------

_HEX32 = re.compile(r"[0-9a-f]{32}")
_PLACEHOLDER = "<request-id>"


def _minted(policy: Policy, call: Call, rid: str) -> bool:
    name = policy.request_id_header
    if name is None:
        return True
    return rid not in (*call.answer.get_all(name), call.view.get(name))


def comparable(policy: Policy, call: Call, decision: Decision | None) -> dict[str, Any] | None:
    """Everything a decision says, with an id we minted (random by design)
    replaced by a placeholder. A minted id must look like `uuid4().hex`."""
    if decision is None:
        return None
    rid = str(decision.log["request_id"])
    marks: list[str] = []
    if _minted(policy, call, rid):
        assert _HEX32.fullmatch(rid), rid
        minted = uuid.UUID(hex=rid)
        assert minted.version == 4
        assert minted.variant == uuid.RFC_4122
        marks = [f"urn:uuid:{minted}", rid]

    def text(value: str) -> str:
        for mark in marks:
            value = value.replace(mark, _PLACEHOLDER)
        return value

    def octets(value: bytes) -> bytes:
        for mark in marks:
            value = value.replace(mark.encode(), _PLACEHOLDER.encode())
        return value

    # Every field, so that one added to `Decision` is compared too.
    out: dict[str, Any] = {f.name: getattr(decision, f.name) for f in fields(decision)}
    out["headers"] = [(name, text(value)) for name, value in decision.headers]
    out["body"] = octets(decision.body)
    out["log"] = [(k, text(v) if isinstance(v, str) else v) for k, v in decision.log.items()]
    # The encoded headers the memo may have ready are the headers, encoded.
    raw = out.pop("raw_headers")
    if raw is not None:
        assert raw == [(n.encode("latin-1"), v.encode("latin-1")) for n, v in decision.headers]
    return out


def expected(policy: Policy, call: Call) -> dict[str, Any] | None:
    decision = decide(policy, call.view, call.answer, declared=call.declared, now=call.now)
    return comparable(policy, call, decision)


def fast_path(fast: Decider, call: Call) -> Decision | None:
    return fast(call.view, call.answer, call.declared, now=call.now)


def assert_same_as_decide(fast: Decider, call: Call) -> Decision | None:
    got = fast_path(fast, call)
    assert comparable(fast.policy, call, got) == expected(fast.policy, call)
    return got


# --- strategies ---------------------------------------------------------------------

# Hostile text: any latin-1 character (header values are latin-1 decoded),
# NUL, CR/LF and the digest's own separator included.
hostile = st.text(st.characters(max_codepoint=255), max_size=48)


def pool(values: tuple[Any, ...], wild: st.SearchStrategy[Any] | None = None) -> Any:
    """Mostly the pool's realistic values, sometimes something hostile."""
    chosen = st.sampled_from(values)
    return chosen if wild is None else st.one_of(chosen, chosen, chosen, wild)


def optional(values: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(values))


@st.composite
def own_parts(draw: st.DrawFn, preflight: str | None) -> tuple[str, str | None, list[Any]]:
    """What belongs to one request only: path, client and the per-request
    headers (user agent, request id, origin, forwarding, preflight method)."""
    headers = []
    for name, values in (
        ("user-agent", pool(USER_AGENTS, hostile)),
        ("x-request-id", pool(REQUEST_IDS, hostile)),
        ("origin", st.sampled_from(ORIGINS)),
        ("x-forwarded-for", st.sampled_from(FORWARDED_FOR)),
        ("accept", st.sampled_from(("*/*", "application/json"))),
    ):
        value = draw(st.one_of(st.none(), values))
        if value is not None:
            headers.append((name, value))
    if preflight is not None:
        # Which method a preflight asks about is the request's own part.
        headers.append(("access-control-request-method", draw(st.sampled_from(("GET", "PUT")))))
    path = draw(pool(PATHS, hostile))
    client = draw(st.sampled_from(CLIENTS))
    return path, client, headers


@st.composite
def app_answers(draw: st.DrawFn) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, the headers a refusal may read (in order) and the body."""
    status = draw(st.sampled_from((400, 401, 403, 422)))
    read = [("www-authenticate", c) for c in draw(st.lists(pool(CHALLENGES, hostile), max_size=2))]
    for name, values in (
        ("content-type", optional(CONTENT_TYPES)),
        ("content-encoding", st.sampled_from((None, None, None, "gzip"))),
        ("vary", optional(VARYS)),
        ("cache-control", optional(CACHE_CONTROLS)),
        ("access-control-allow-origin", optional(("*", ALLOWED))),
        ("access-control-allow-credentials", optional(("true",))),
    ):
        value = draw(values)
        if value is not None:
            read.append((name, value))
    read = draw(st.permutations(read))
    body = draw(pool(BODIES, st.binary(max_size=64)))
    return status, read, body


@st.composite
def interleaved(
    draw: st.DrawFn, read: list[tuple[str, str]], others: list[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    """`read` in its own order, `others` anywhere between."""
    slots = draw(st.permutations([True] * len(read) + [False] * len(others)))
    read_left, others_left = iter(read), iter(others)
    return tuple(next(read_left) if slot else next(others_left) for slot in slots)


declared_failures = st.builds(
    Declared,
    reason=st.sampled_from(list(Reason)),
    facts=st.sampled_from(FACTS),
    detail=st.one_of(st.sampled_from(DETAILS), hostile),
    source=st.sampled_from(("app:AuthFailure", "app:custom")),
)


# Every answer header the pools hold, with what it may hold instead.
ANSWER_VALUES: dict[str, tuple[str, ...]] = {
    "www-authenticate": CHALLENGES,
    "content-type": CONTENT_TYPES,
    "content-encoding": ("gzip", "identity"),
    "vary": VARYS,
    "cache-control": CACHE_CONTROLS,
    "access-control-allow-origin": ("*", ALLOWED),
    "access-control-allow-credentials": ("true", "false"),
    **{name: tuple(v for n, v in PASSTHROUGH if n == name) for name in PASSTHROUGH_NAMES},
}
# The headers a refusal may read twice as often as those it only carries over.
APP_HEADER_NAMES = tuple(
    name for name in sorted(ANSWER_VALUES) for _ in range(1 if name in PASSTHROUGH_NAMES else 2)
)


@st.composite
def app_neighbours(draw: st.DrawFn, call: Call) -> Call:
    """`call` with one header of the app's answer changed, added or removed
    (the widest input of a refusal, so each example changes one)."""
    name = draw(st.sampled_from(APP_HEADER_NAMES))
    before = call.answer.get_all(name)
    value = draw(
        st.one_of(st.none(), pool(ANSWER_VALUES[name], hostile)).filter(
            # `app` replaces every field of the name: the values must change.
            lambda value: ([] if value is None else [value] * max(len(before), 1)) != before
        )
    )
    return call.app(name, value)


@st.composite
def other_neighbours(draw: st.DrawFn, call: Call) -> Call:
    """`call` with one other input of a refusal changed: the method, whether
    it is a preflight, the app's status or body, the credentials, or what
    the app declared."""
    change = draw(
        st.sampled_from(
            ("authorization", "body", "status", "method", "declared", "key", "preflight")
        )
    )
    if change == "method":
        return call.but(method=draw(st.sampled_from((*METHODS, "PUT", "DELETE"))))
    if change == "preflight":
        asked = call.view.get("access-control-request-method")
        return call.header("access-control-request-method", None if asked else "GET")
    if change == "status":
        return call.but(status=draw(st.sampled_from((400, 401, 403, 422))))
    if change == "body":
        return call.but(body=draw(pool(BODIES, st.binary(max_size=64))))
    if change == "authorization":
        return call.header("authorization", draw(st.one_of(st.none(), pool(AUTHORIZATIONS))))
    if change == "key":
        name, values = draw(
            st.sampled_from(
                (("cookie", COOKIES), ("x-api-key", (API_KEY,)), ("api-token", (STRAY_KEY,)))
            )
        )
        return call.header(name, draw(optional(values)))
    return replace(call, declared=draw(st.one_of(st.none(), declared_failures)))


@st.composite
def cases(draw: st.DrawFn, policy: str | None = None) -> Case:
    name = policy if policy is not None else draw(st.sampled_from(sorted(POLICIES)))
    method = draw(st.sampled_from(METHODS))
    credentials = [
        ("authorization", value)
        for value in draw(st.lists(pool(AUTHORIZATIONS, hostile), max_size=2))
    ]
    for header, values in (
        ("cookie", optional(COOKIES)),
        ("x-api-key", optional((API_KEY,))),
        ("api-token", optional((STRAY_KEY,))),
    ):
        value = draw(values)
        if value is not None:
            credentials.append((header, value))
    credentials = draw(st.permutations(credentials))
    preflight = draw(st.sampled_from((None, "GET")))
    query = draw(
        st.one_of(st.sampled_from(FREE_QUERIES), st.sampled_from(CREDENTIAL_QUERIES), hostile)
    )
    status, read, body = draw(app_answers())
    declared = draw(st.one_of(st.none(), st.none(), declared_failures))

    calls = []
    for _ in range(2):
        path, client, own = draw(own_parts(preflight))
        # A credential-free query is the request's own; any other is a credential.
        own_query = draw(st.sampled_from(FREE_QUERIES)) if query in FREE_QUERIES else query
        view = RequestView(method, path, own_query, draw(interleaved(credentials, own)), client)
        passthrough = draw(st.lists(st.sampled_from(PASSTHROUGH), max_size=3))
        answer = AppAnswer(status, draw(interleaved(read, passthrough)), body)
        calls.append(Call(view, answer, declared))
    neighbours = (draw(app_neighbours(calls[0])), draw(other_neighbours(calls[0])))
    return Case(name, calls[0], calls[1], neighbours)


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- 1. the oracle ---------------------------------------------------------------


@examples(400)
@given(case=cases())
def test_fast_path_equals_decide(case: Case) -> None:
    """The memo is only an optimisation: a first request (miss), the same
    again (hit), a sibling of the same shape whose own parts differ (hit,
    with its own path, query, client, id and pass-through headers filled
    in), neighbours that differ in one input of the refusal (interleaved,
    so a key that leaves that input out serves the wrong refusal), later in
    the same second, and in the next second (a token's times are read
    against the clock) all get exactly what `decide` gives."""
    policy = POLICIES[case.policy]
    fast = Decider(policy)
    first, second = case.first, case.second
    app_neighbour, other_neighbour = case.neighbours
    minted = []
    for call in (
        first,
        first,
        second,
        app_neighbour,
        other_neighbour,
        second,
        app_neighbour,
        other_neighbour,
        first.but(now=NOW + 0.5),
        first.but(now=NOW + 1),
        second.but(now=NOW + 1),
        app_neighbour.but(now=NOW + 1),
        first.but(now=NOW + 1.25),
    ):
        got = assert_same_as_decide(fast, call)
        if got is not None and _minted(policy, call, str(got.log["request_id"])):
            minted.append(got.log["request_id"])
    # A remembered refusal never hands out a remembered id.
    assert len(set(minted)) == len(minted)


def _last_header_absorbs_body(answer: AppAnswer, size: int) -> AppAnswer | None:
    """The same bytes with the boundary between the last header's value and
    the body moved: a different answer that concatenates alike."""
    ascii_prefix = len(answer.body) - len(answer.body.lstrip(bytes(range(32, 127))))
    size = min(size, ascii_prefix)
    if not answer.headers or size == 0:
        return None
    *rest, (name, value) = answer.headers
    moved = answer.body[:size].decode("ascii")
    return replace(answer, headers=(*rest, (name, value + moved)), body=answer.body[size:])


@examples(120)
@given(data=st.data())
def test_one_decider_over_many_shapes(data: st.DataObject) -> None:
    """Shapes share one `Decider`: no request is answered with another
    shape's refusal, including an answer whose bytes only moved between its
    last header and its body (a key that joins the parts without marking
    where the body starts would take the two for one)."""
    name = data.draw(st.sampled_from(sorted(POLICIES)))
    fast = Decider(POLICIES[name])
    for case in data.draw(st.lists(cases(name), min_size=2, max_size=4)):
        assert_same_as_decide(fast, case.first)
        size = data.draw(st.integers(1, 24))
        moved = _last_header_absorbs_body(case.second.answer, size)
        if moved is not None:
            assert_same_as_decide(fast, replace(case.second, answer=moved))
        assert_same_as_decide(fast, case.second)


# Answers that differ, yet whose header values and body concatenate to the
# same text: the refusal of one must never be served for the other.
@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            AppAnswer(401, (("content-type", "text/plain"),), b"Token has expired"),
            AppAnswer(401, (("content-type", "text/plainToken has expired"),), b""),
            id="content-type-runs-into-body",
        ),
        pytest.param(
            AppAnswer(
                401, (("www-authenticate", 'Bearer realm="api"'),), b', error="invalid_token"'
            ),
            AppAnswer(
                401, (("www-authenticate", 'Bearer realm="api", error="invalid_token"'),), b""
            ),
            id="challenge-runs-into-body",
        ),
        pytest.param(
            AppAnswer(403, (("cache-control", "no-store"),), b'{"detail":"Not authenticated"}'),
            AppAnswer(403, (("cache-control", 'no-store{"detail":"Not authenticated"}'),), b""),
            id="cache-control-runs-into-body",
        ),
    ],
)
def test_answers_that_concatenate_alike_are_different_shapes(
    first: AppAnswer, second: AppAnswer
) -> None:
    """The key must mark where the body starts: otherwise an app's header
    that ends where another answer's body begins shares its refusal."""
    view = RequestView("GET", "/items", "", (("authorization", f"Bearer {OPAQUE}"),), "10.0.0.5")
    one, other = Call(view, first), Call(view, second)
    # The two answers are refused differently: the row can tell.
    assert expected(DEFAULT, one) != expected(DEFAULT, other)
    fast = Decider(DEFAULT)
    assert_same_as_decide(fast, one)
    assert_same_as_decide(fast, other)


# --- 2. the answer headers a refusal reads ----------------------------------------------


@contextmanager
def answer_reads() -> Iterator[set[str]]:
    """Every header name anyone asks an `AppAnswer` for, while it lasts."""
    asked: set[str] = set()
    original = AppAnswer.get_all

    def get_all(self: AppAnswer, name: str) -> list[str]:
        asked.add(name)
        return original(self, name)

    with mock.patch.object(AppAnswer, "get_all", get_all):
        yield asked


def _readable(policy: Policy) -> set[str]:
    own = (policy.request_id_header,) if policy.request_id_header else ()
    return {*ANSWER_HEADERS_READ, *own}


@examples(200)
@given(case=cases())
def test_decide_reads_only_the_declared_answer_headers(case: Case) -> None:
    """The cache key holds the answer's `ANSWER_HEADERS_READ` and nothing
    else of its headers: a header the rule starts reading without being
    listed there would make the cache serve refusals that are out of date."""
    policy = POLICIES[case.policy]
    with answer_reads() as asked:
        for call in (case.first, case.second, *case.neighbours):
            decide(policy, call.view, call.answer, declared=call.declared, now=NOW)
    assert asked <= _readable(policy)


@pytest.mark.parametrize(
    ("policy", "call"),
    [
        pytest.param(
            name,
            Call(
                RequestView(
                    method,
                    "/items",
                    query,
                    tuple((k, v) for k, v in (("authorization", auth), ("origin", ALLOWED)) if v),
                    "10.0.0.5",
                ),
                AppAnswer(
                    status,
                    (
                        ("www-authenticate", 'Bearer realm="api"'),
                        ("content-type", "application/problem+json"),
                        ("vary", "Accept"),
                        ("cache-control", "public, max-age=60"),
                        ("access-control-allow-origin", "*"),
                        ("access-control-allow-credentials", "true"),
                        *PASSTHROUGH,
                    ),
                    body,
                ),
                declared,
            ),
            id=f"{name}-{label}",
        )
        for name in sorted(POLICIES)
        for label, method, query, auth, status, body, declared in (
            ("missing", "GET", "", "", 401, b"", None),
            ("expired-jwt", "POST", "", f"Bearer {JWT_EXPIRED}", 401, PROBLEM_BODY, None),
            ("query-token", "GET", f"access_token={OPAQUE}", "", 401, BODIES[0], None),
            ("preflight", "OPTIONS", "", "", 403, BODIES[5], None),
            ("basic-422", "GET", "", f"Basic {BASIC}", 422, BODIES[7], None),
            (
                "declared-scope",
                "GET",
                "",
                f"Bearer {JWT_VALID}",
                403,
                b"",
                Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": "items:write"}),
            ),
        )
    ],
)
def test_answer_headers_read_table(policy: str, call: Call) -> None:
    """The same guard on hand-picked answers that carry every header kind at
    once, under every policy: and the rule does read through `get_all`, so
    the guard is not vacuous."""
    chosen = POLICIES[policy]
    with answer_reads() as asked:
        decide(chosen, call.view, call.answer, declared=call.declared, now=NOW)
    assert asked <= _readable(chosen)
    assert "www-authenticate" in asked


# --- 3. when the general rule runs again --------------------------------------------------

BASE = Call(
    RequestView(
        "GET",
        "/items/7",
        "page=1",
        (
            ("authorization", f"Bearer {JWT_EXPIRED}"),
            ("user-agent", "curl/8.5.0"),
            ("x-request-id", "req-1"),
        ),
        "203.0.113.9",
    ),
    AppAnswer(
        401,
        (
            ("www-authenticate", 'Bearer realm="api"'),
            ("content-type", "application/json"),
            ("set-cookie", "csrftoken=Zx81; Path=/"),
            ("etag", '"v1"'),
        ),
        b'{"detail":"Could not validate credentials"}',
    ),
)
SCOPED = BASE.but(declared=Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": "items:read"}))
PREFLIGHT = BASE.but(method="OPTIONS").header("access-control-request-method", "GET")


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per run of the rule behind the memo: building an entry
    (`refuse`), or deciding a shape seen for the first time (`decide`)."""
    runs: list[None] = []

    def counting(original: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            runs.append(None)
            return original(*args, **kwargs)

        return run

    monkeypatch.setattr(shape_cache, "refuse", counting(shape_cache.refuse))
    monkeypatch.setattr(shape_cache, "decide", counting(shape_cache.decide))
    return runs


@pytest.mark.parametrize(
    ("first", "second", "runs_again"),
    [
        # What a refusal follows from: the general rule runs again.
        pytest.param(BASE, BASE.but(now=NOW + 1), True, id="next-second"),
        pytest.param(BASE, BASE.header("authorization", f"Bearer {OPAQUE}"), True, id="token"),
        pytest.param(
            BASE,
            BASE.header("authorization", f"Bearer {JWT_EXPIRED_LONG_AGO}"),
            True,
            id="token-same-kind",
        ),
        pytest.param(BASE, BASE.header("authorization", f"Basic {BASIC}"), True, id="scheme"),
        pytest.param(BASE, BASE.header("cookie", f"session={COOKIE}"), True, id="cookie"),
        pytest.param(BASE, BASE.header("x-api-key", API_KEY), True, id="api-key"),
        pytest.param(BASE, BASE.header("api-token", STRAY_KEY), True, id="stray-key-header"),
        pytest.param(BASE, BASE.but(query=f"access_token={OPAQUE}"), True, id="query-token"),
        pytest.param(BASE, BASE.but(status=403), True, id="app-status"),
        pytest.param(BASE, BASE.but(body=b'{"detail":"Token has expired"}'), True, id="app-body"),
        pytest.param(
            BASE,
            BASE.app("www-authenticate", 'Bearer realm="api", error="invalid_token"'),
            True,
            id="app-challenge",
        ),
        pytest.param(BASE, BASE.app("content-type", "text/plain"), True, id="app-content-type"),
        pytest.param(BASE, BASE.app("content-encoding", "gzip"), True, id="app-encoding"),
        pytest.param(BASE, BASE.app("vary", "Accept-Encoding"), True, id="app-vary"),
        pytest.param(BASE, BASE.app("cache-control", "public"), True, id="app-cache-control"),
        pytest.param(BASE, BASE.app("access-control-allow-origin", "*"), True, id="app-cors"),
        pytest.param(BASE, BASE.but(declared=Declared(Reason.TOKEN_REVOKED)), True, id="declared"),
        pytest.param(
            SCOPED,
            SCOPED.but(declared=Declared(Reason.INSUFFICIENT_SCOPE, {"required_scope": "x:y"})),
            True,
            id="declared-facts",
        ),
        pytest.param(
            SCOPED,
            SCOPED.but(
                declared=Declared(Reason.STEP_UP_REQUIRED, {"required_scope": "items:read"})
            ),
            True,
            id="declared-reason",
        ),
        pytest.param(
            SCOPED,
            SCOPED.but(
                declared=Declared(
                    Reason.INSUFFICIENT_SCOPE, {"required_scope": "items:read"}, "Read only"
                )
            ),
            True,
            id="declared-detail",
        ),
        pytest.param(BASE, BASE.but(method="POST"), True, id="method"),
        pytest.param(BASE.but(method="OPTIONS"), PREFLIGHT, True, id="becomes-preflight"),
        # A request's own parts: filled in, the rule is not run again.
        pytest.param(BASE, BASE, False, id="same-request"),
        pytest.param(BASE, BASE.but(now=NOW + 0.75), False, id="same-second"),
        pytest.param(BASE, BASE.app("set-cookie", "theme=dark"), False, id="app-set-cookie"),
        pytest.param(BASE, BASE.app("etag", '"v2"'), False, id="app-etag"),
        pytest.param(BASE, BASE.app("etag", None), False, id="app-etag-gone"),
        pytest.param(BASE, BASE.app("x-request-id", "app-req-9"), False, id="app-request-id"),
        pytest.param(BASE, BASE.but(path="/orders/9"), False, id="path"),
        pytest.param(BASE, BASE.header("user-agent", "Firefox/126.0"), False, id="user-agent"),
        pytest.param(BASE, BASE.but(client="198.51.100.4"), False, id="client"),
        pytest.param(BASE, BASE.but(client=None), False, id="no-client"),
        pytest.param(BASE, BASE.header("x-request-id", "req-2"), False, id="request-id"),
        pytest.param(BASE, BASE.but(query="page=2&sort=name"), False, id="free-query"),
        pytest.param(BASE, BASE.but(query=""), False, id="no-query"),
        pytest.param(BASE, BASE.header("origin", ALLOWED), False, id="origin"),
        pytest.param(BASE, BASE.header("x-forwarded-for", "203.0.113.7"), False, id="forwarded"),
        pytest.param(
            PREFLIGHT,
            PREFLIGHT.header("access-control-request-method", "PUT"),
            False,
            id="preflight-asks-another-method",
        ),
    ],
)
def test_when_the_rule_runs_again(
    refusals: list[None], first: Call, second: Call, runs_again: bool
) -> None:
    """A repeat costs a lookup only when nothing the refusal follows from
    changed; anything that may change it must run the rule again. Either
    way the answer is `decide`'s."""
    fast = Decider(DEFAULT)
    # Decided by the rule the first time, remembered the second.
    assert_same_as_decide(fast, first)
    assert_same_as_decide(fast, first)
    assert len(refusals) == 2
    assert_same_as_decide(fast, second)
    assert len(refusals) == 2 + runs_again


def _held(fast: Decider) -> dict[bytes, object]:
    """The Decider's table of entries."""
    return fast._entries  # type: ignore[return-value]


def _shapes(count: int) -> list[Call]:
    return [BASE.header("authorization", f"Bearer opaque-{i:02d}-Tok3nValue") for i in range(count)]


@pytest.mark.parametrize("entries", [1, 4, 8])
def test_eviction_keeps_the_newest_shapes(refusals: list[None], entries: int) -> None:
    """A client may send any number of shapes: the memo holds at most
    `entries`, the newest, and an evicted shape is simply decided again."""
    fast = Decider(DEFAULT, entries=entries)
    shapes = _shapes(10)
    for call in shapes:
        assert_same_as_decide(fast, call)
        assert_same_as_decide(fast, call)  # remembered from its second time
    assert len(_held(fast)) <= entries
    before = len(refusals)
    for call in shapes[-entries:]:
        assert_same_as_decide(fast, call)
    assert len(refusals) == before
    assert_same_as_decide(fast, shapes[0])
    assert len(refusals) == before + 1
    assert len(_held(fast)) <= entries


def test_a_shape_seen_once_is_not_remembered(refusals: list[None]) -> None:
    """A fleet's own tokens, a scanner's new one each time: a shape is
    decided by the rule and only noted (its keyed digest), remembered from
    its second time; the notes are bounded."""
    fast = Decider(DEFAULT)
    for call in _shapes(3):
        assert_same_as_decide(fast, call)
    assert len(refusals) == 3
    assert not fast._entries
    for _ in range(shape_cache._SEEN_ENTRIES + 10):
        fast._seen_before(os.urandom(16), 0)
    assert len(fast._seen) <= shape_cache._SEEN_ENTRIES


@pytest.mark.parametrize(("gap", "remembered"), [(0, True), (1, True), (2, False), (60, False)])
def test_a_shape_is_remembered_only_when_it_comes_back_soon(gap: int, remembered: bool) -> None:
    """An entry is good for its second only: a shape seen again seconds
    later (a pool of tokens cycled) is decided by the rule again."""
    fast = Decider(DEFAULT)
    key = os.urandom(16)
    assert not fast._seen_before(key, 100)
    assert fast._seen_before(key, 100 + gap) is remembered


def test_a_decider_that_holds_nothing_still_decides() -> None:
    """`entries=0` (no memo) still answers every request as `decide`."""
    fast = Decider(DEFAULT, entries=0)
    for call in _shapes(3):
        assert_same_as_decide(fast, call)
        assert_same_as_decide(fast, call)


# --- 4. nothing secret is kept -------------------------------------------------------------

# Never followed: they are shared by the whole process (module caches,
# classes), not held by the Decider.
_NOT_OWNED = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
)


def reachable(root: object, limit: int = 200_000) -> list[object]:
    """Every object the Decider holds, however deep."""
    seen = {id(root)}
    stack = [root]
    found: list[object] = []
    while stack:
        obj = stack.pop()
        found.append(obj)
        for ref in gc.get_referents(obj):
            if id(ref) not in seen and not isinstance(ref, _NOT_OWNED):
                seen.add(id(ref))
                stack.append(ref)
        assert len(found) < limit, "the walk did not end: is the Decider bounded?"
    return found


def _request(
    headers: tuple[tuple[str, str], ...],
    *,
    path: str = "/items",
    query: str = "",
    body: bytes = b'{"detail":"Could not validate credentials"}',
) -> Call:
    return Call(
        RequestView("GET", path, query, headers, "203.0.113.9"),
        AppAnswer(
            401,
            (("www-authenticate", 'Bearer realm="api"'), ("content-type", "application/json")),
            body,
        ),
    )


@pytest.mark.parametrize(
    ("call", "secrets"),
    [
        pytest.param(
            _request(
                (("authorization", f"Bearer {OPAQUE}"), ("user-agent", f"client/1 ({OPAQUE})")),
                path=f"/items/{OPAQUE}",
                body=f'{{"detail":"Invalid token {OPAQUE}"}}'.encode(),
            ),
            (OPAQUE,),
            id="bearer-in-header-path-agent-and-app-words",
        ),
        pytest.param(
            _request(
                (("authorization", f"Bearer {JWT_EXPIRED}"), ("user-agent", f"tool {JWT_EXPIRED}")),
                query=f"access_token={JWT_EXPIRED}",
            ),
            (JWT_EXPIRED,),
            id="jwt-in-header-query-and-agent",
        ),
        pytest.param(
            _request((("user-agent", "curl/8.5.0"),), query=f"access_token={OPAQUE}&page=2"),
            (OPAQUE,),
            id="token-only-in-query",
        ),
        pytest.param(
            _request(
                (("authorization", f"Basic {BASIC}"), ("user-agent", f"cli/3 {PASSWORD}")),
                path=f"/users/{PASSWORD}",
            ),
            (BASIC, PASSWORD),
            id="basic-password",
        ),
        pytest.param(
            _request((("cookie", f"theme=dark; session={COOKIE}"),), path=f"/share/{COOKIE}"),
            (COOKIE,),
            id="session-cookie",
        ),
        pytest.param(
            _request((("x-api-key", API_KEY), ("user-agent", f"sdk {API_KEY}"))),
            (API_KEY,),
            id="api-key",
        ),
        pytest.param(
            _request((("api-token", STRAY_KEY),), path=f"/keys/{STRAY_KEY}"),
            (STRAY_KEY,),
            id="stray-key-header",
        ),
        pytest.param(
            _request((("authorization", f"Bearer {OPAQUE}"),), query=f"q={OPAQUE}"),
            (OPAQUE,),
            id="token-under-a-plain-query-name",
        ),
    ],
)
def test_nothing_secret_is_kept(call: Call, secrets: tuple[str, ...]) -> None:
    """The memo outlives the request: after refusing it (and a sibling of
    the same shape, so every per-shape table fills), no string or bytes the
    Decider holds contains a credential the request carried, and its log
    shows none that `decide`'s log does not."""
    fast = Decider(DEFAULT)
    sibling = call.header("user-agent", f"other/2 {secrets[0]}").but(client="10.0.0.7")
    decisions = [assert_same_as_decide(fast, c) for c in (call, call, sibling, sibling)]
    reference = decide(DEFAULT, call.view, call.answer, now=NOW)
    assert reference is not None
    shown_by_decide = {s for s in secrets if any(s in str(v) for v in reference.log.values())}
    for decision in decisions:
        assert decision is not None
        shown = {s for s in secrets if any(s in str(v) for v in decision.log.values())}
        assert shown <= shown_by_decide

    held = reachable(fast)
    # The walk does reach the memo: a remembered refusal is among what it found.
    assert any(isinstance(obj, Refusal) for obj in held)
    leaked = [
        obj
        for obj in held
        if (isinstance(obj, str) and any(s in obj for s in secrets))
        or (isinstance(obj, bytes | bytearray) and any(s.encode() in obj for s in secrets))
    ]
    assert not leaked, f"the Decider holds {len(leaked)} object(s) with a credential"


# --- 5. threads ----------------------------------------------------------------------------


def _thread_calls() -> list[Call]:
    """20 shapes, each in two requests of its own parts."""
    calls = []
    for i in range(20):
        auth = (
            f"Bearer {JWT_EXPIRED}",
            f"Bearer {OPAQUE}",
            f"Basic {BASIC}",
            f"Bearer Bearer {OPAQUE}",
            "",
        )[i % 5]
        body = BODIES[i % len(BODIES)]
        status = (401, 403)[i // 10]
        headers = (("authorization", auth),) if auth else ()
        for variant in range(2):
            own = (
                ("user-agent", f"agent/{variant}"),
                ("x-request-id", f"req-{i}-{variant}"),
                *((("origin", ALLOWED),) if variant else ()),
            )
            view = RequestView(
                "GET", f"/items/{i}/{variant}", "", headers + own, f"10.9.0.{variant}"
            )
            answer = AppAnswer(
                status, (("content-type", "application/json"), ("etag", f'"{variant}"')), body
            )
            calls.append(Call(view, answer))
    return calls


def test_threads_share_one_decider() -> None:
    """8 threads, 500 requests each, 20 shapes in 8 entries: constant
    eviction while others read. Nothing raises and every answer is still
    `decide`'s."""
    policy = DEFAULT
    fast = Decider(policy, entries=8)
    calls = _thread_calls()
    wanted = [expected(policy, call) for call in calls]
    problems: list[str] = []
    start = threading.Barrier(8)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(500):
            index = rng.randrange(len(calls))
            try:
                got = comparable(policy, calls[index], fast_path(fast, calls[index]))
            except Exception as exc:  # reported below, after every thread ends
                problems.append(f"call {index} raised {type(exc).__name__}")
                return
            if got != wanted[index]:
                problems.append(f"call {index} differs from decide")
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: interleave lookups and evictions
    try:
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert problems == []
    assert len(_held(fast)) <= 8
