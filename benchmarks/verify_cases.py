"""Section "verify", in-process: `authhygiene.verify.JWT` against pyjwt's
own `jwt.decode`, and `verify=` on the middleware's success path.

Per algorithm (HS256, RS256 2048, ES256 P-256; `verify_issuer`), four loops,
each calling one function per token, timed like every in-process variant
(interleaved rounds) and compared with the same loop calling a function
that does nothing (``verify.empty``):

- ``decode.ALG``: ``jwt.decode`` of the same token, every call;
- ``cached.ALG``: ``JWT.verify`` of that token, every call: after the first
  verify, a keyed SHA-256 of the token and a dict lookup (`token_cache`);
- ``decode_new.ALG``: ``jwt.decode`` of a token never sent before, every call;
- ``first.ALG``: ``JWT.verify`` of those tokens with the cache on, so the
  figure includes hashing and storing each one. Each batch gets a new
  verifier (an empty cache), made before the clock starts; the tokens are
  signed beforehand, and the pool grows when a batch needs more.

Judged: jwt.decode / cached verify **≥ 100x**; first verify / jwt.decode
**≤ 1.1x** (each over the empty loop, per round).

The middleware (ASGI, `asgi_kit`): the suite's plain request carrying a
token the verifier accepts, answered by the bare app, behind the floor (a
send wrapper), behind ``AuthHygiene(realm="api")`` without a verifier,
behind ``AuthHygiene(realm="api", verify=JWT(...))`` in explain mode (the
default: a 2xx passes without anything being verified) and in enforce mode
(every request verified before the app, here from the cache, and the
identity handed to the app in a new scope). Judged: explain mode's added
time **≤ 1.5x** the floor's; for information, what verify= adds to
AuthHygiene without it (nothing, if the success path is untouched), and
enforce mode's added time.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jwt

from authhygiene import AuthHygiene
from authhygiene.verify import Rejected, Verified
from benchmarks import asgi_kit
from benchmarks._checks import check, log_buffer
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant, summary
from benchmarks.rows import Row, RowMaker, Section, Target
from benchmarks.setup import failure_options
from benchmarks.verify_issuer import ALGORITHMS, Issuer, decoder, issuers, verifier
from benchmarks.workload import BODY_OK, Request, plain_request

__all__ = [
    "CACHED_TARGET",
    "FIRST_TARGET",
    "FLOOR_TARGET",
    "SECTION",
    "TokenPool",
    "build",
]

SECTION = "verify"
CACHED_TARGET = Target(">=", 100.0, "≥ 100x")
FIRST_TARGET = Target("<=", 1.1, "≤ 1.1x jwt.decode")
FLOOR_TARGET = Target("<=", 1.5, "≤ 1.5x floor")

Call = Callable[[str], object]
# Per batch of n calls: the function to call and the n tokens to call it with.
Batch = Callable[[int], tuple[Call, Sequence[str]]]


class TokenPool:
    """Distinct tokens of one issuer, signed before they are needed: a
    batch of n takes the first n, and the pool grows (outside any timed
    loop) when n is more than it holds."""

    def __init__(self, issuer: Issuer, now: int) -> None:
        self.issuer, self.now = issuer, now
        self.tokens: list[str] = []

    def first(self, n: int) -> Sequence[str]:
        while len(self.tokens) < n:
            self.tokens.append(self.issuer.sign(len(self.tokens) + 1, self.now))
        return self.tokens[:n]


def _noop(token: str) -> None:
    return None


def _loop(batch: Batch) -> Callable[[int], int]:
    """``run(n)``: n calls, one per token, timed around the loop only."""

    def run(n: int) -> int:
        call, tokens = batch(n)
        start = time.perf_counter_ns()
        for token in tokens:
            call(token)
        return time.perf_counter_ns() - start

    return run


def _same(call: Call, token: str) -> Batch:
    return lambda n: (call, [token] * n)


def _fresh(make: Callable[[], Call], pool: TokenPool) -> Batch:
    return lambda n: (make(), pool.first(n))


def _calls(issuer: Issuer, now: int) -> tuple[dict[str, tuple[str, Batch]], dict[str, object]]:
    """One algorithm's four loops, checked: the verifier and jwt.decode
    accept the token with the same claims and refuse another audience; a
    repeated token is answered from the cache; the pool's tokens are distinct."""
    alg = issuer.alg
    decode = decoder(alg, issuer.public)
    cached = verifier(alg, issuer.public, issuer.kid)
    token = issuer.sign(0, now)
    first = cached.verify(token)
    check(isinstance(first, Verified), f"verify.cached.{alg} did not verify")
    claims = dict(first.claims) if isinstance(first, Verified) else {}
    check(claims == decode(token), f"verify.decode.{alg} and the verifier read other claims")
    check(cached.verify(token) is first, f"verify.cached.{alg} is not answered from the cache")
    other = issuer.sign(0, now, audience="https://other.example")
    refused = cached.verify(other)
    check(
        isinstance(refused, Rejected) and refused.reason.value == "token_audience_mismatch",
        f"verify.cached.{alg} does not check the audience",
    )
    try:
        decode(other)
    except jwt.InvalidAudienceError:
        audience_checked = True
    else:
        audience_checked = False
    check(audience_checked, f"verify.decode.{alg} does not check the audience")
    pool = TokenPool(issuer, now)
    tokens = pool.first(4)
    check(len(set(tokens)) == len(tokens) and token not in tokens, "pool tokens repeat")
    fresh = verifier(alg, issuer.public, issuer.kid)
    kept = [fresh.verify(t) for t in tokens]
    check(
        all(isinstance(k, Verified) for k in kept),
        f"verify.first.{alg}: a new token did not verify",
    )
    check(fresh.verify(tokens[0]) is kept[0], f"verify.first.{alg} does not store what verified")
    calls: dict[str, tuple[str, Batch]] = {
        f"verify.decode.{alg}": (f"jwt.decode, {alg}, the same token", _same(decode, token)),
        f"verify.cached.{alg}": (f"JWT.verify, {alg}, the same token", _same(cached.verify, token)),
        f"verify.decode_new.{alg}": (
            f"jwt.decode, {alg}, a new token every call",
            _fresh(lambda: decode, pool),
        ),
        f"verify.first.{alg}": (
            f"JWT.verify, {alg}, a new token every call (cache on, a new verifier per batch)",
            _fresh(lambda: verifier(alg, issuer.public, issuer.kid).verify, pool),
        ),
    }
    return calls, {"alg": alg, "claims": sorted(claims), "token_chars": len(token)}


def _problem(messages: Sequence[asgi_kit.Message]) -> tuple[int, dict[str, Any]]:
    status, headers, body = asgi_kit.response(messages)
    if not headers.get("content-type", "").startswith("application/problem+json"):
        return status, {}
    problem: dict[str, Any] = json.loads(body)
    return status, problem


def _middleware(
    ctx: Context, issuer: Issuer, now: int
) -> tuple[dict[str, tuple[asgi_kit.ASGIApp, str]], dict[str, object], Request]:
    """The success-path apps (an HMAC issuer's token), checked: explain and
    the floor send exactly the bare app's messages; enforce answers the
    app's 200; verify= is on (a token signed with another key: explain mode
    names the bad signature of the app's 401, enforce mode refuses it
    before the app)."""
    alg = issuer.alg

    def jwt_() -> Any:
        return verifier(alg, issuer.public, issuer.kid)

    ok = asgi_kit.ok_app
    apps: dict[str, tuple[asgi_kit.ASGIApp, str]] = {
        "verify.asgi.bare": (ok(), "the app alone, a valid token"),
        "verify.asgi.floor": (asgi_kit.Floor(ok()), "do-nothing send wrapper"),
        "verify.asgi.plain": (AuthHygiene(ok(), **ctx.options()), "AuthHygiene without verify="),
        "verify.asgi.explain": (
            AuthHygiene(ok(), **ctx.options(verify=jwt_())),
            f"AuthHygiene(verify=JWT({alg})), explain mode",
        ),
        "verify.asgi.enforce": (
            AuthHygiene(ok(), **ctx.options(verify=jwt_(), mode="enforce")),
            f"AuthHygiene(verify=JWT({alg}), mode='enforce'), the token cached",
        ),
    }
    request = plain_request(issuer.sign(0, now))
    bare = asgi_kit.exchange(ctx.loop, apps["verify.asgi.bare"][0], request)
    for name in ("verify.asgi.floor", "verify.asgi.plain", "verify.asgi.explain"):
        sent = asgi_kit.exchange(ctx.loop, apps[name][0], request)
        check(sent == bare, f"{name} changed the response")
    status, _headers, body = asgi_kit.response(
        asgi_kit.exchange(ctx.loop, apps["verify.asgi.enforce"][0], request)
    )
    check((status, body) == (200, BODY_OK), f"verify.asgi.enforce answered {status}")

    stranger = _stranger(issuer)
    forged = plain_request(stranger.sign(0, now))
    _buffer, logger = log_buffer()
    explained = AuthHygiene(asgi_kit.unauthorized_app(), **failure_options(logger, verify=jwt_()))
    status, problem = _problem(asgi_kit.exchange(ctx.loop, explained, forged))
    check(
        status == 401 and problem.get("reason") == "token_signature_invalid",
        "verify.asgi.explain: verify= does not explain a bad signature",
    )
    enforcing = AuthHygiene(ok(), **failure_options(logger, verify=jwt_(), mode="enforce"))
    status, problem = _problem(asgi_kit.exchange(ctx.loop, enforcing, forged))
    check(
        status == 401 and problem.get("reason") == "token_signature_invalid",
        "verify.asgi.enforce does not refuse a bad signature",
    )
    checks: dict[str, object] = {
        "explain_same_messages": True,
        "enforce_status": 200,
        "forged_refused": True,
    }
    return apps, checks, request


def _stranger(issuer: Issuer) -> Issuer:
    """An HMAC issuer with the same kid and another secret: its tokens must
    fail the signature check."""
    secret = secrets.token_bytes(32)
    return Issuer(issuer.alg, issuer.kid, secret, secret)


def build(ctx: Context) -> Section:
    """Every variant of the section, ready to run, its self-checks passed."""
    now = int(time.time())
    keys = issuers()
    variants: list[Variant] = [
        Variant("verify.empty", "a call to a function that does nothing", _loop(_same(_noop, "")))
    ]
    checks: dict[str, object] = {}
    for alg in ALGORITHMS:
        calls, checks[alg] = _calls(keys[alg], now)
        variants += [Variant(name, what, _loop(batch)) for name, (what, batch) in calls.items()]
    apps, checks["asgi"], request = _middleware(ctx, keys["HS256"], now)
    variants += [
        Variant(name, what, asgi_kit.runner(ctx.loop, app, [request]))
        for name, (app, what) in apps.items()
    ]
    return Section(
        SECTION,
        tuple(variants),
        checks,
        rows,
        profiled=(
            "verify.cached.HS256",
            "verify.first.HS256",
            "verify.first.RS256",
            "verify.asgi.explain",
            "verify.asgi.enforce",
        ),
    )


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    out: list[Row] = []
    for alg in ALGORITHMS:
        out.append(
            make.ratio(
                f"cached.{alg}: jwt.decode / verify, same token",
                f"verify.decode.{alg}",
                "verify.empty",
                f"verify.cached.{alg}",
                "verify.empty",
                metric="jwt.decode / cached verify",
                target=CACHED_TARGET,
                note="each over a loop calling a function that does nothing",
            )
        )
    for alg in ALGORITHMS:
        out.append(
            make.ratio(
                f"first.{alg}: verify / jwt.decode, new token",
                f"verify.first.{alg}",
                "verify.empty",
                f"verify.decode_new.{alg}",
                "verify.empty",
                metric="first verify / jwt.decode",
                target=FIRST_TARGET,
                note="a token never sent before every call, the cache on",
            )
        )
    out.append(
        make.ratio(
            "explain mode (verify=JWT), success path",
            "verify.asgi.explain",
            "verify.asgi.bare",
            "verify.asgi.floor",
            "verify.asgi.bare",
            metric="added ratio vs floor",
            target=FLOOR_TARGET,
        )
    )
    out.append(
        make.added(
            "explain mode: verify= added over AuthHygiene without it",
            "verify.asgi.explain",
            "verify.asgi.plain",
            note="the same request, both in explain mode",
        )
    )
    versus_floor = summary(
        make.added_ratio(
            "verify.asgi.enforce", "verify.asgi.bare", "verify.asgi.floor", "verify.asgi.bare"
        )
    )["median"]
    shown = "n/a" if versus_floor is None else f"{versus_floor:.1f}x"
    out.append(
        make.added(
            "enforce mode, success path (cached token)",
            "verify.asgi.enforce",
            "verify.asgi.bare",
            note=f"{shown} the floor's added time",
        )
    )
    return out
