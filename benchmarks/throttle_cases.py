"""Section "throttle": what ``throttle=Throttle(storage="redis://...")``
costs, against a redis-server this section starts (`throttle_redis`), ASGI
(the throttle awaits redis-py's asyncio client) and WSGI (its sync client).

Three Throttles, each under a key prefix of its own (a block announced
under a prefix is heard by every Throttle of that prefix):

- ``bench-count``: both limits at 1,000,000 a minute (the most a limit may
  say), never reached: every failure is counted, none is blocked. The
  success variants use it too (nothing is blocked in it);
- ``bench-block-asgi``, ``bench-block-wsgi``: ``per_credential="1/day"``
  (``per_client`` never reached): the first failure of a credential fills
  its key and blocks it for the rest of the run.

Variants (``throttle.PROTO.*``; the suite's plain request, the app's 401
rewritten with the suite's options), timed in the interleaved rounds:

- ``401.bare``, ``401.floor``: the app answering 401 text/plain, alone and
  behind a middleware that only wraps send / start_response;
- ``401.authhygiene``: behind authhygiene without ``throttle=`` (the refusal);
- ``401.counted``: the same with the count Throttle: each failure counted
  in Redis (one EVALSHA of one script that counts the client key and the
  credential key and reads both windows back);
- ``429.blocked``: behind authhygiene with the block Throttle, the
  request's credential blocked: refused 429 before the app;
- ``ping.redis``, ``ping.pipeline``, ``ping.empty``: redis-py's PING, a
  pipeline of four PINGs (one round trip too), and the same loop calling
  a function that does nothing, with the client kind the throttle uses
  (asyncio for ASGI, sync for WSGI; the throttle's deadline, no retry);
- ``ok.bare``, ``ok.floor``: a JSON 200 alone, behind the floor;
- ``ok.throttle``: behind authhygiene with the count Throttle (nothing blocked);
- ``ok.while_blocked``: behind authhygiene with the block Throttle, with
  another credential than the blocked one (the request's keys are
  computed and looked up while anything is blocked).

Counted before the rounds, un-timed, with Redis's own counters
(`ServerStats`: ``INFO commandstats stats`` before and after) and the
requests redis-py sent (`round_trips`): 1000 successes through each ok
variant with a Throttle; 300 counted failures; the failure that fills a
key (one, after a warm-up failure of another credential has opened the
client's connection); 300 blocked requests.

Judged: 0 Redis commands per success; at most 1 round trip per counted
failure; the counted failure's added time over the refusal without
throttle at most 1.5x a PING round trip; a blocked request's added time
over the bare app answering it at most 1.5x the floor's; 0 Redis commands
per blocked request. For information: a pipeline of four PINGs over one,
the commands a counted failure runs, the round trips of the failure that
fills a key, the refusal's own added time, the 429 against it, the
success path with a Throttle, and what the check before the app adds to
a request while a key is blocked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from authhygiene import AuthHygiene, AuthHygieneWSGI, Throttle
from authhygiene.throttle.redis_store import client_options
from benchmarks import asgi_kit, throttle_redis, wsgi_kit
from benchmarks._checks import SelfCheckError, check, check_refusal
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.rows import Row, RowMaker, Section, Target, single_row
from benchmarks.workload import TOKEN, Request, plain_request, token_pool

__all__ = [
    "BLOCKED",
    "FAILURES",
    "FLOOR_TARGET",
    "PING_TARGET",
    "SECTION",
    "SUCCESSES",
    "build",
]

SECTION = "throttle"
ZERO_TARGET = Target("<=", 0.0, "0 commands")
TRIP_TARGET = Target("<=", 1.0, "≤ 1 round trip")
PING_TARGET = Target("<=", 1.5, "≤ 1.5x PING")
FLOOR_TARGET = Target("<=", 1.5, "≤ 1.5x floor")
# The most a limit may say: never reached by the requests of a run.
NEVER = "1000000/minute"
# Requests of each count pass (un-timed, before the rounds).
SUCCESSES = 1000
FAILURES = 300
BLOCKED = 300
# The throttle's default deadline, for the PING clients too.
_TIMEOUT = 0.25
_LISTEN_S = 10.0

App = Any
Answer = tuple[int, dict[str, str], bytes]
Run = Callable[[int], int]


@dataclass(frozen=True, slots=True)
class _Pings:
    """Timed loops with a redis-py client of the kind the throttle uses
    (its deadline, no retry), and what closes it."""

    ping: Run  # one PING, one round trip
    pipeline: Run  # four PINGs in one pipeline: one round trip
    empty: Run  # the same loop calling a function that does nothing
    close: Callable[[], None]


@dataclass(frozen=True, slots=True)
class _Protocol:
    name: str
    label: str
    middleware: Callable[..., App]
    floor: Callable[[App], App]
    ok: Callable[[], App]
    unauthorized: Callable[[], App]
    runner: Callable[[App, Sequence[Request]], Run]
    answer: Callable[[App, Request], Answer]
    pings: Callable[[str], _Pings]


def _asgi_pings(ctx: Context, url: str) -> _Pings:
    import redis.asyncio

    client: Any = redis.asyncio.Redis.from_url(url, **client_options(_TIMEOUT))

    async def pipeline() -> object:
        return await client.pipeline(transaction=False).ping().ping().ping().ping().execute()

    async def nothing() -> None:
        return None

    def loop_of(call: Callable[[], Awaitable[object]]) -> Run:
        async def batch(n: int) -> int:
            start = time.perf_counter_ns()
            for _ in range(n):
                await call()
            return time.perf_counter_ns() - start

        return lambda n: ctx.loop.run_until_complete(batch(n))

    check(ctx.loop.run_until_complete(client.ping()) is True, "the asyncio PING client")
    check(ctx.loop.run_until_complete(pipeline()) == [True] * 4, "the asyncio PING pipeline")
    return _Pings(
        loop_of(client.ping),
        loop_of(pipeline),
        loop_of(nothing),
        lambda: ctx.loop.run_until_complete(client.aclose()),
    )


def _wsgi_pings(url: str) -> _Pings:
    import redis

    client: Any = redis.Redis.from_url(url, **client_options(_TIMEOUT))

    def pipeline() -> object:
        return client.pipeline(transaction=False).ping().ping().ping().ping().execute()

    def nothing() -> None:
        return None

    def loop_of(call: Callable[[], object]) -> Run:
        def run(n: int) -> int:
            start = time.perf_counter_ns()
            for _ in range(n):
                call()
            return time.perf_counter_ns() - start

        return run

    check(client.ping() is True, "the sync PING client")
    check(pipeline() == [True] * 4, "the sync PING pipeline")
    return _Pings(loop_of(client.ping), loop_of(pipeline), loop_of(nothing), client.close)


def _protocols(ctx: Context) -> tuple[_Protocol, _Protocol]:
    loop = ctx.loop
    return (
        _Protocol(
            "asgi",
            "ASGI",
            AuthHygiene,
            asgi_kit.Floor,
            asgi_kit.ok_app,
            asgi_kit.unauthorized_app,
            lambda app, requests: asgi_kit.runner(loop, app, requests),
            lambda app, request: asgi_kit.response(asgi_kit.exchange(loop, app, request)),
            lambda url: _asgi_pings(ctx, url),
        ),
        _Protocol(
            "wsgi",
            "WSGI",
            AuthHygieneWSGI,
            wsgi_kit.Floor,
            wsgi_kit.ok_app,
            wsgi_kit.unauthorized_app,
            wsgi_kit.runner,
            wsgi_kit.exchange,
            _wsgi_pings,
        ),
    )


@dataclass(slots=True)
class _Counts:
    """One count pass: what the server ran, the requests redis-py sent."""

    requests: int
    delta: throttle_redis.Delta
    trips: int

    def per_request(self, value: int) -> float:
        return value / self.requests

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "round_trips": self.trips, **self.delta.as_dict()}


class _Counter:
    def __init__(self, stats: throttle_redis.ServerStats) -> None:
        self.stats = stats

    def __call__(self, run: Run, requests: int) -> _Counts:
        with self.stats.measure() as delta, throttle_redis.round_trips() as trips:
            run(requests)
        return _Counts(requests, delta, trips[0])


def _listening(gate: Any, what: str) -> None:
    """The Throttle's listener reached Redis (the fleet's hash key read):
    from now on only the requests talk to Redis."""
    check(gate.fleet is not None, f"{what}: no fleet")
    gate.warm()  # what a process's first request does: start listening
    check(gate.fleet.listening.wait(_LISTEN_S), f"{what}: not listening")


def _check_counter(counter: _Counter, pings: _Pings, kind: str) -> dict[str, object]:
    """What the counts count, with the client kind this protocol's throttle
    uses: a PING is one round trip, a pipeline of four is one too, and the
    server saw those PINGs and nothing else, writing once per round trip."""
    single = counter(pings.ping, 5)
    check(single.trips == 5, f"{kind}: {single.trips} round trips counted for 5 PINGs")
    check(single.delta.calls == {"ping": 5}, f"{kind}: the server saw other commands than 5 PINGs")
    piped = counter(pings.pipeline, 2)
    check(piped.trips == 2, f"{kind}: {piped.trips} round trips counted for 2 pipelines")
    check(piped.delta.calls == {"ping": 8}, f"{kind}: the server saw other commands than 8 PINGs")
    check(piped.delta.writes == 2, f"{kind}: the server wrote {piped.delta.writes} times for 2")
    return {"pings": single.as_dict(), "pipelines": piped.as_dict()}


@dataclass(slots=True)
class _Built:
    variants: list[Variant]
    checks: dict[str, object]
    counts: dict[str, dict[str, _Counts]]
    gates: list[Any]


def _build_protocol(
    ctx: Context,
    proto: _Protocol,
    url: str,
    count: Throttle,
    counter: _Counter,
    stack: contextlib.ExitStack,
    built: _Built,
) -> None:
    name = f"throttle.{proto.name}"
    request = plain_request()
    warm_token, other_token = token_pool(2)
    secrets = [TOKEN, warm_token, other_token]
    block = Throttle(
        per_client=NEVER,
        per_credential="1/day",
        storage=url,
        key_prefix=f"bench-block-{proto.name}",
    )
    behind = proto.middleware
    apps: dict[str, tuple[App, str, Request]] = {
        f"{name}.401.bare": (proto.unauthorized(), "the app alone answering 401", request),
        f"{name}.401.floor": (proto.floor(proto.unauthorized()), "floor, 401 app", request),
        f"{name}.401.authhygiene": (
            behind(proto.unauthorized(), **ctx.options()),
            "401 rewritten, no throttle=",
            request,
        ),
        f"{name}.401.counted": (
            behind(proto.unauthorized(), **ctx.options(throttle=count)),
            "401 rewritten, the failure counted in Redis",
            request,
        ),
        f"{name}.429.blocked": (
            behind(proto.unauthorized(), **ctx.options(throttle=block)),
            "credential blocked: 429 before the app",
            request,
        ),
        f"{name}.ok.bare": (proto.ok(), "the app alone answering 200", request),
        f"{name}.ok.floor": (proto.floor(proto.ok()), "floor, 200 app", request),
        f"{name}.ok.throttle": (
            behind(proto.ok(), **ctx.options(throttle=count)),
            "200 behind authhygiene with a Redis Throttle, nothing blocked",
            request,
        ),
        f"{name}.ok.while_blocked": (
            behind(proto.ok(), **ctx.options(throttle=block)),
            "200 behind authhygiene with a Redis Throttle, another credential blocked",
            plain_request(other_token),
        ),
    }
    counted_gate = apps[f"{name}.401.counted"][0].runtime.throttle
    block_gate = apps[f"{name}.429.blocked"][0].runtime.throttle
    built.gates += [gate for gate in (counted_gate, block_gate) if gate not in built.gates]
    _listening(counted_gate, "the count Throttle")
    _listening(block_gate, f"{name}'s block Throttle")
    pings = proto.pings(url)
    stack.callback(pings.close)
    checks: dict[str, object] = {"round_trip_counter": _check_counter(counter, pings, name)}

    def answer(variant: str) -> Answer:
        app, _what, sent = apps[variant]
        return proto.answer(app, sent)

    # The refusal without and with counting (the first counted failure
    # loads the scripts into the server).
    for variant in (f"{name}.401.authhygiene", f"{name}.401.counted"):
        said = answer(variant)
        found = check_refusal(variant, said, status=401, reason=None, origin=None, secrets=secrets)
        checks[variant] = {**found, "ratelimit": said[1].get("ratelimit")}
        check(
            ("ratelimit" in said[1]) is variant.endswith("counted"),
            f"{variant}: RateLimit fields {'missing' if variant.endswith('counted') else 'sent'}",
        )
    # The request's credential blocked: a warm-up failure of another one
    # opens the client's connection (and fills that key), then its own.
    blocked = apps[f"{name}.429.blocked"][0]
    proto.runner(blocked, [plain_request(warm_token)])(1)
    fill = counter(proto.runner(blocked, [request]), 1)
    check(fill.delta.calls.get("publish") == 1, f"{name}: the filled key was not announced")
    said = answer(f"{name}.429.blocked")
    found = check_refusal(
        f"{name}.429.blocked",
        said,
        status=429,
        reason="too_many_failures",
        origin=None,
        secrets=secrets,
    )
    check("retry-after" in said[1], f"{name}.429.blocked has no Retry-After")
    checks[f"{name}.429.blocked"] = {**found, "retry_after": said[1]["retry-after"]}
    check(block_gate.busy(), f"{name}: nothing blocked in the block Throttle")
    bare = answer(f"{name}.ok.bare")
    for variant in (f"{name}.ok.floor", f"{name}.ok.throttle", f"{name}.ok.while_blocked"):
        check(answer(variant) == bare, f"{variant} changed the response")
    bare_401 = answer(f"{name}.401.bare")
    check(answer(f"{name}.401.floor") == bare_401, f"{name}.401.floor changed the response")

    runs = {variant: proto.runner(app, [sent]) for variant, (app, _what, sent) in apps.items()}
    descriptions = {variant: what for variant, (_app, what, _sent) in apps.items()}
    runs[f"{name}.ping.redis"] = pings.ping
    runs[f"{name}.ping.pipeline"] = pings.pipeline
    runs[f"{name}.ping.empty"] = pings.empty
    client = "asyncio" if proto.name == "asgi" else "sync"
    descriptions[f"{name}.ping.redis"] = f"redis-py PING ({client} client)"
    descriptions[f"{name}.ping.pipeline"] = f"redis-py pipeline of 4 PINGs ({client} client)"
    descriptions[f"{name}.ping.empty"] = "the PING loop calling a function that does nothing"

    counts = {
        "success": counter(runs[f"{name}.ok.throttle"], SUCCESSES),
        "success_while_blocked": counter(runs[f"{name}.ok.while_blocked"], SUCCESSES),
        "failure": counter(runs[f"{name}.401.counted"], FAILURES),
        "fill": fill,
        "blocked": counter(runs[f"{name}.429.blocked"], BLOCKED),
    }
    check(
        counts["failure"].delta.calls.get("evalsha", 0) >= FAILURES,
        f"{name}.401.counted: the failures were not counted in Redis",
    )
    checks["counts"] = {kind: found.as_dict() for kind, found in counts.items()}
    built.checks[proto.name] = checks
    built.counts[proto.name] = counts
    built.variants += [Variant(v, descriptions[v], run) for v, run in runs.items()]


def _versions(stats: throttle_redis.ServerStats) -> dict[str, object]:
    """What the Redis figures depend on: the server, the client, and whether
    the client parses replies with hiredis (C) or in Python."""
    import importlib.util

    import redis

    return {
        "redis_server": stats.version(),
        "redis_py": redis.__version__,
        "hiredis": importlib.util.find_spec("hiredis") is not None,
    }


def build(ctx: Context) -> Section:
    """Every variant of the section, its self-checks passed and its Redis
    calls counted; without variants or rows (its checks say why) when there
    is no redis-server or redis client to run."""
    try:
        binary = throttle_redis.find_redis_server()
        import limits  # noqa: F401
        import redis
    except throttle_redis.RedisMissingError as error:
        return Section(SECTION, (), {"skipped": str(error)}, lambda measured: [])
    except ImportError as error:
        why = f"{error.name} is not installed (pip install 'authhygiene[redis]')"
        return Section(SECTION, (), {"skipped": why}, lambda measured: [])
    stack = contextlib.ExitStack()
    built = _Built([], {}, {}, [])
    try:
        server = stack.enter_context(throttle_redis.running_redis(binary))
        stats = throttle_redis.ServerStats(server.url)
        stack.callback(stats.close)
        # The stack unwinds backwards: the listeners stop before the server.
        stack.callback(lambda: [gate.close() for gate in built.gates])
        counter = _Counter(stats)
        versions = _versions(stats)
        built.checks["redis"] = versions
        count = Throttle(
            per_client=NEVER, per_credential=NEVER, storage=server.url, key_prefix="bench-count"
        )
        for proto in _protocols(ctx):
            _build_protocol(ctx, proto, server.url, count, counter, stack, built)
    except SelfCheckError:
        stack.close()
        raise
    except (RuntimeError, OSError, redis.RedisError) as error:
        # A redis-server that did not start or answer: nothing is measured.
        stack.close()
        raise SelfCheckError(f"benchmark self-check failed: throttle: {error}") from error
    except BaseException:
        stack.close()
        raise
    counts = built.counts
    parser = "hiredis" if versions["hiredis"] else "Python, no hiredis"
    return Section(
        SECTION,
        tuple(built.variants),
        built.checks,
        lambda measured: rows(measured, counts, parser),
        profiled=tuple(
            f"throttle.{p}.{kind}"
            for p in ("asgi", "wsgi")
            for kind in ("401.counted", "429.blocked")
        ),
        close=stack.close,
    )


def _calls(counts: _Counts) -> str:
    """Calls per request, by command."""
    per = ", ".join(
        f"{name} {counts.per_request(n):.2f}" for name, n in sorted(counts.delta.calls.items())
    )
    return per or "none"


def _protocol_rows(
    make: RowMaker, proto: str, counts: Mapping[str, _Counts], parser: str
) -> list[Row]:
    name, label = f"throttle.{proto}", proto.upper()
    ok, ok_blocked = counts["success"], counts["success_while_blocked"]
    failure, fill, blocked = counts["failure"], counts["fill"], counts["blocked"]
    scripts_us = failure.per_request(failure.delta.usec.get("evalsha", 0))
    return [
        single_row(
            SECTION,
            f"{label}: Redis commands per success",
            subject=f"{name}.ok.throttle",
            baseline="INFO commandstats",
            metric="Redis commands per success",
            unit="commands",
            value=(ok.delta.commands + ok_blocked.delta.commands)
            / (ok.requests + ok_blocked.requests),
            target=ZERO_TARGET,
            detail=(
                f"{ok.requests} successes with nothing blocked: {ok.delta.commands} commands, "
                f"{ok.trips} round trips; {ok_blocked.requests} while another credential is "
                f"blocked: {ok_blocked.delta.commands} commands, {ok_blocked.trips} round trips "
                "(INFO commandstats before and after, the INFO taken out)"
            ),
            extra={"success": ok.as_dict(), "success_while_blocked": ok_blocked.as_dict()},
        ),
        single_row(
            SECTION,
            f"{label}: round trips per counted failure",
            subject=f"{name}.401.counted",
            baseline="requests redis-py sent",
            metric="round trips per failure",
            unit="round trips",
            value=failure.per_request(failure.trips),
            target=TRIP_TARGET,
            detail=(
                f"{failure.requests} failures: {failure.trips} requests sent by redis-py, each "
                f"waiting for its replies; the server wrote "
                f"{failure.per_request(failure.delta.writes):.2f} batches of replies per failure"
            ),
            extra=failure.as_dict(),
        ),
        make.ratio(
            f"{label}: counted failure, added / PING",
            f"{name}.401.counted",
            f"{name}.401.authhygiene",
            f"{name}.ping.redis",
            f"{name}.ping.empty",
            metric="added ratio vs a PING round trip",
            target=PING_TARGET,
            note="the 401 counted in Redis over the same 401 without throttle=; "
            f"a PING over the empty loop; replies parsed by {parser}",
        ),
        make.ratio(
            f"{label}: pipeline of 4 PINGs / PING",
            f"{name}.ping.pipeline",
            f"{name}.ping.empty",
            f"{name}.ping.redis",
            f"{name}.ping.empty",
            metric="added ratio vs a PING round trip",
            note="one round trip each: what redis-py's pipeline of four costs over one "
            "command, before any script runs",
        ),
        single_row(
            SECTION,
            f"{label}: Redis commands per counted failure",
            subject=f"{name}.401.counted",
            baseline="INFO commandstats",
            metric="Redis commands per failure",
            unit="commands",
            value=failure.per_request(failure.delta.commands),
            detail=(
                f"per failure: {_calls(failure)} (the client sends the EVALSHA; the others "
                f"are the script's own); the server ran the scripts for {scripts_us:.1f} µs "
                "per failure (commandstats usec)"
            ),
            extra=failure.as_dict(),
        ),
        single_row(
            SECTION,
            f"{label}: round trips, the failure that fills a key",
            subject=f"{name}.429.blocked",
            baseline="requests redis-py sent",
            metric="round trips",
            unit="round trips",
            value=float(fill.trips),
            detail=f"the count, then the announcement; commands: {_calls(fill)}",
            extra=fill.as_dict(),
        ),
        make.added(
            f"{label}: the refusal without throttle=",
            f"{name}.401.authhygiene",
            f"{name}.401.bare",
            note="the 401 rewritten and logged, over the bare app's 401",
        ),
        make.ratio(
            f"{label}: blocked, 429 before the app",
            f"{name}.429.blocked",
            f"{name}.401.bare",
            f"{name}.401.floor",
            f"{name}.401.bare",
            metric="added ratio vs floor",
            target=FLOOR_TARGET,
            note="over the bare app answering the same request; the 429 is a refusal "
            "like any other (problem+json, logged)",
        ),
        make.ratio(
            f"{label}: blocked 429 / the refusal without throttle=",
            f"{name}.429.blocked",
            f"{name}.401.bare",
            f"{name}.401.authhygiene",
            f"{name}.401.bare",
            metric="added ratio vs the 401 rewritten",
        ),
        single_row(
            SECTION,
            f"{label}: Redis commands per blocked request",
            subject=f"{name}.429.blocked",
            baseline="INFO commandstats",
            metric="Redis commands per blocked request",
            unit="commands",
            value=blocked.per_request(blocked.delta.commands),
            target=ZERO_TARGET,
            detail=(
                f"{blocked.requests} requests refused 429: {blocked.delta.commands} commands, "
                f"{blocked.trips} round trips"
            ),
            extra=blocked.as_dict(),
        ),
        make.ratio(
            f"{label}: success, nothing blocked",
            f"{name}.ok.throttle",
            f"{name}.ok.bare",
            f"{name}.ok.floor",
            f"{name}.ok.bare",
            metric="added ratio vs floor",
            note="throttle= with a Redis storage",
        ),
        make.added(
            f"{label}: the check before the app while a key is blocked",
            f"{name}.ok.while_blocked",
            f"{name}.ok.throttle",
            note="a success with another credential while one is blocked, over one with "
            "nothing blocked: its keys computed (keyed hashes) and looked up",
        ),
    ]


def rows(
    measured: Mapping[str, Measured], counts: Mapping[str, Mapping[str, _Counts]], parser: str
) -> list[Row]:
    make = RowMaker(SECTION, measured)
    return [
        row
        for proto in ("asgi", "wsgi")
        for row in _protocol_rows(make, proto, counts[proto], parser)
    ]
