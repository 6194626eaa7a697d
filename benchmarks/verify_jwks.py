"""Section "verify", JWKS: a slow refetch of the issuer's keys must not
delay the requests whose key is known.

A JWKS server on 127.0.0.1 (the standard library's threading HTTP server,
in a thread of this process, like the tests' uvicorn one: it serves the JWK
Set it is given, and can hold each answer for a while) and, per round, a
new ``JWT(algorithms=["RS256"], jwks_url=..., cache_seconds=0)`` whose keys
are fetched once first (kid ``rsa-1``). Then THREADS threads verify tokens
signed with the known kid, each paced at one call every PERIOD (phases
spread; about a quarter of one CPU in all), timing every call; with the
cache off, every call picks its key from the fetched set.

The server now serves ``rsa-1`` and ``rsa-2``, each answer held DELAY
seconds. After a quiet FLANK, one more thread verifies a token signed with
``rsa-2``: unknown, so it refetches and waits for the held answer; a quiet
FLANK follows. Known-kid calls started while it waited are "during"; those
of the two flanks, right before and after, are the baseline (the same
load, seconds apart, so a change of the machine's phase hits both). Per
round: p99(during) / p99(flanks). Judged **≤ 1.5x** (median over rounds).

Self-checks, every round: every known-kid call verified; the unknown-kid
call waited at least 90% of DELAY and then verified (the refetch happened
and the window is the one it claims); the server saw exactly one request
besides the first fetch.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jwt.algorithms import RSAAlgorithm

from authhygiene.verify import JWT, Verified
from benchmarks._checks import check
from benchmarks._harness import frozen_heap
from benchmarks.rows import Row, RowMaker, Target
from benchmarks.verify_issuer import AUDIENCE, ISSUER, Issuer

__all__ = ["FULL", "QUICK", "SECTION", "TARGET", "Preset", "describe", "run_jwks"]

SECTION = "verify"
TARGET = Target("<=", 1.5, "≤ 1.5x without")
_STOP_S = 5.0


@dataclass(frozen=True, slots=True)
class Preset:
    rounds: int
    delay_s: float
    threads: int
    period_s: float
    # Quiet stretches counted before the refetch and after it, each.
    flank_s: float = 1.0
    # Known-kid calls run this long before anything is counted.
    settle_s: float = 0.1

    def __str__(self) -> str:
        return (
            f"{self.rounds} round(s), refetch held {self.delay_s:g} s between two quiet "
            f"{self.flank_s:g} s, {self.threads} threads at one call per "
            f"{self.period_s * 1000:g} ms each"
        )


FULL = Preset(rounds=3, delay_s=2.0, threads=8, period_s=0.004)
QUICK = Preset(rounds=1, delay_s=2.0, threads=8, period_s=0.004)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.body = b'{"keys": []}'
        self.delay_s = 0.0
        self.requests = 0

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/.well-known/jwks.json"

    def serve(self, *keys: Issuer, delay_s: float = 0.0) -> None:
        jwks = {"keys": [_jwk(key) for key in keys]}
        with self.lock:
            self.body = json.dumps(jwks).encode()
            self.delay_s = delay_s


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests += 1
            body, delay = self.server.body, self.server.delay_s
        if delay:
            time.sleep(delay)  # the slow issuer: this thread only
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # nothing on stderr


def _jwk(issuer: Issuer) -> dict[str, object]:
    jwk = RSAAlgorithm.to_jwk(issuer.public, as_dict=True)
    return {**jwk, "kid": issuer.kid, "use": "sig", "alg": issuer.alg}


@contextlib.contextmanager
def _serving() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, name="bench-jwks", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(_STOP_S)


def _rsa_issuers() -> tuple[Issuer, Issuer]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    made = []
    for kid in ("rsa-1", "rsa-2"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        made.append(Issuer("RS256", kid, key, key.public_key()))
    return made[0], made[1]


@dataclass(slots=True)
class _Calls:
    """One thread's known-kid calls: (start, seconds) each, and failures."""

    timed: list[tuple[float, float]]
    failed: int = 0


def _paced(
    verify: Callable[[str], object],
    token: str,
    start_at: float,
    period: float,
    stop: threading.Event,
) -> _Calls:
    calls = _Calls([])
    next_at = start_at
    clock = time.perf_counter
    while not stop.is_set():
        now = clock()
        if next_at > now:
            time.sleep(next_at - now)
        began = clock()
        outcome = verify(token)
        ended = clock()
        calls.timed.append((began, ended - began))
        if not isinstance(outcome, Verified):
            calls.failed += 1
        # Behind schedule (a long call): go on from now, no burst to catch up.
        next_at = max(next_at + period, ended)
    return calls


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _counted(results: list[_Calls], spans: list[tuple[float, float]]) -> list[float]:
    """The calls started within one of `spans`, in ms."""
    return [
        seconds * 1000
        for calls in results
        for (at, seconds) in calls.timed
        if any(low <= at < high for low, high in spans)
    ]


def _summary(ms: list[float], seconds: float) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "calls": len(ms),
        "p50_ms": _p(ms, 50),
        "p99_ms": _p(ms, 99),
        "max_ms": max(ms),
    }


def _round(server: _Server, known: Issuer, unknown: Issuer, preset: Preset) -> dict[str, Any]:
    """One round (see the module); what it measured, in ms."""
    now = int(time.time())
    server.serve(known)
    verifier = JWT(
        algorithms=["RS256"], jwks_url=server.url(), audience=AUDIENCE, issuer=ISSUER,
        cache_seconds=0,
    )  # fmt: skip
    check(isinstance(verifier.verify(known.sign(0, now)), Verified), "JWKS: first fetch failed")
    fetched = server.requests
    tokens = [known.sign(i + 1, now) for i in range(preset.threads)]
    stranger = unknown.sign(0, now)
    server.serve(known, unknown, delay_s=preset.delay_s)
    start = time.perf_counter() + 0.05
    stop = threading.Event()
    results: list[_Calls] = [_Calls([]) for _ in tokens]

    def load(k: int) -> None:
        phase = start + k * preset.period_s / len(tokens)
        results[k] = _paced(verifier.verify, tokens[k], phase, preset.period_s, stop)

    threads = [
        threading.Thread(target=load, args=(k,), name=f"bench-verify-{k}")
        for k in range(len(tokens))
    ]
    for thread in threads:
        thread.start()
    try:
        quiet_from = start + preset.settle_s
        time.sleep(max(0.0, quiet_from + preset.flank_s - time.perf_counter()))
        began = time.perf_counter()
        outcome = verifier.verify(stranger)
        ended = time.perf_counter()
        time.sleep(preset.flank_s)
        quiet_to = time.perf_counter()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10 * _STOP_S)
    check(not any(t.is_alive() for t in threads), "JWKS: a verifying thread did not stop")
    check(isinstance(outcome, Verified), "JWKS: the unknown kid did not verify after a refetch")
    check(
        ended - began >= 0.9 * preset.delay_s,
        "JWKS: the unknown-kid call did not wait for the held refetch",
    )
    check(sum(r.failed for r in results) == 0, "JWKS: a known-kid call did not verify")
    check(
        server.requests - fetched == 1,
        f"JWKS: the server saw {server.requests - fetched} requests, not the one refetch",
    )
    during = _counted(results, [(began, ended)])
    quiet = _counted(results, [(quiet_from, began), (ended, quiet_to)])
    check(min(len(during), len(quiet)) >= 100, "JWKS: too few calls counted")
    return {
        "refetch": _summary(during, ended - began),
        "quiet": _summary(quiet, (began - quiet_from) + (quiet_to - ended)),
        "unknown_kid_waited_ms": (ended - began) * 1000,
    }


def run_jwks(preset: Preset, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Every round; {"rows", "raw"}. `SelfCheckError` when a round is not
    what it claims to be."""
    known, unknown = _rsa_issuers()
    rounds: list[dict[str, Any]] = []
    # As for the in-process rounds: what exists now is out of the collector's
    # sight, so a collection during a round costs what the round allocated.
    with _serving() as server, frozen_heap():
        for index in range(preset.rounds):
            rounds.append(_round(server, known, unknown, preset))
            progress(f"  JWKS round {index + 1}/{preset.rounds}")
    return {"rows": rows(rounds, preset), "raw": {"preset": str(preset), "rounds": rounds}}


def rows(rounds: list[dict[str, Any]], preset: Preset) -> list[Row]:
    make = RowMaker(SECTION, {})
    quiet = [r["quiet"]["p99_ms"] for r in rounds]
    during = [r["refetch"]["p99_ms"] for r in rounds]
    waited = [r["unknown_kid_waited_ms"] for r in rounds]
    calls = statistics.median(r["refetch"]["calls"] for r in rounds)
    p50 = statistics.median(r["refetch"]["p50_ms"] for r in rounds)
    quiet_p50 = statistics.median(r["quiet"]["p50_ms"] for r in rounds)
    subject, baseline = "verify.jwks.refetch", "verify.jwks.quiet"
    return [
        make.row(
            f"JWKS refetch held {preset.delay_s:g} s: known-kid p99 / p99 without",
            subject=subject,
            baseline=baseline,
            metric="p99 ratio",
            unit="x",
            per_round=[d / q for d, q in zip(during, quiet, strict=True)],
            target=TARGET,
            detail=f"p99 {statistics.median(during):.2f} ms during the refetch vs "
            f"{statistics.median(quiet):.2f} ms before and after it; p50 {p50:.2f} vs "
            f"{quiet_p50:.2f} ms; {calls:.0f} calls during ({preset})",
        ),
        make.row(
            "JWKS: known-kid p99 without a refetch",
            subject=baseline,
            baseline=baseline,
            metric="p99 latency",
            unit="ms",
            per_round=quiet,
            detail=f"JWT(jwks_url=..., cache_seconds=0).verify, RS256; p50 {quiet_p50:.2f} ms",
        ),
        make.row(
            "JWKS: the unknown-kid call waited",
            subject=subject,
            baseline=baseline,
            metric="latency",
            unit="ms",
            per_round=waited,
            detail="a token with a new kid: the refetch, held by the server, then verified",
        ),
    ]


def describe(preset: Preset) -> str:
    return f"verify, JWKS refetch: {preset}"
