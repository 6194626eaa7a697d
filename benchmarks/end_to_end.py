"""End to end: real servers under `wrk`, bare vs wrapped in authhygiene.

In-process figures say what the middleware costs; this section says whether
anyone serving requests could notice. Four servers run side by side on
127.0.0.1, each on a free port, for the whole section:

- uvicorn, 1 worker, no access log, serving the Starlette app of
  `benchmarks.e2e_apps` bare and behind `AuthHygiene`;
- gunicorn, 1 sync worker (access log off, its default), serving the Flask
  app bare and with `AuthHygieneWSGI` around its ``wsgi_app``.

Each has a success route (``/ok``, a JSON 200) and a failure route
(``/fail``, a 401 ``text/plain`` that the wrapped flavour rewrites to
problem+json and logs). Every request carries ``Authorization: Bearer <JWT>``,
an unexpired HS256 token signed with a key drawn for this run.

Method:

- Before timing, each server is asked once per route: ``/ok`` must answer
  the same bytes bare and wrapped (``Date`` aside), ``/fail`` a 401
  ``text/plain`` bare and a 401 ``application/problem+json`` with a
  ``WWW-Authenticate`` challenge wrapped. A failed check stops the run.
- A short warm-up per server (requests alternating between both routes).
- Interleaved rounds: each round runs every (server, flavour, route) once
  for `duration_s`, in a freshly shuffled order that keeps the bare and the
  wrapped run of a (server, route) next to each other (`_round_order`), so a
  slow phase of the machine lands on bare and wrapped alike. The figure is
  the per-round ratio wrapped req/s over bare req/s for the same server and
  route, summarised by median, min and max over rounds; p99 latency (median
  over rounds) is reported beside it, and so is the server's CPU time per
  request (from /proc, user + system), which a busy machine disturbs less
  than req/s: a cross-check, not judged.
- Targets (issue 6): success route >= 0.97x bare, failure route >= 0.8x the
  bare 401's, for both servers.

Load: ``wrk -t1 -c<connections>``, 8 connections by default. One worker is
one Python thread answering one request at a time (gunicorn's sync worker one
connection at a time, uvicorn one event loop), so throughput peaks as soon as
a request is always waiting when the worker finishes one; a single
connection would leave the server idle for every loopback round trip and
wrk's turnaround. Beyond a handful, extra connections only add queueing
(p99 grows with their number, Little's law) and per-connection bookkeeping
that is not the middleware's cost. On 2 cores the server's thread takes
about one core; one wrk thread needs a fraction of the other, and more wrk
threads would compete with the server for CPU. 8 keeps the queue full with
margin for wrk being descheduled now and then.

The servers are started and stopped by `benchmarks.e2e_servers` (own
process group each, SIGTERM then SIGKILL, bounded waits); the apps live in
`benchmarks.e2e_apps`. wrk's ``-d`` takes whole seconds only, hence integer
durations. Its results come from `wrk_report.lua`'s ``done()`` as one JSON
line; the human output is never parsed. The credential reaches wrk through
its environment (readable only by its owner), never its command line
(readable by every local user), and is scrubbed from anything this module
reports.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import random
import secrets
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import jwt

from benchmarks._harness import summary
from benchmarks.e2e_servers import (
    IO_TIMEOUT_S,
    REPO_ROOT,
    Reply,
    Server,
    ServerSpec,
    fetch,
    start_server,
)

__all__ = ["FULL", "QUICK", "Preset", "WrkMissingError", "run_end_to_end"]

SECTION = "end to end"
WRK = Path("/usr/bin/wrk")
WRK_SCRIPT = Path(__file__).resolve().with_name("wrk_report.lua")
WRK_MARKER = "AUTHHYGIENE_WRK "
AUTH_ENV = "AUTHHYGIENE_BENCH_AUTHORIZATION"
PATHS_ENV = "AUTHHYGIENE_BENCH_PATHS"

SERVERS = ("uvicorn", "gunicorn")
FLAVOURS = ("bare", "authhygiene")
ROUTES = ("ok", "fail")
TARGETS = {"ok": 0.97, "fail": 0.8}
_TARGET_TEXT = {"ok": "≥ 0.97x bare", "fail": "≥ 0.8x the bare 401's"}
_ROUTE_NAME = {"ok": "success route", "fail": "failure route"}


class WrkMissingError(RuntimeError):
    """wrk is not installed where the Makefile puts it."""


@dataclass(frozen=True, slots=True)
class Preset:
    """Arguments of `run_end_to_end` (without the rng) for a named run."""

    rounds: int
    duration_s: int
    connections: int
    warmup_s: int


# 8 rounds x 8 runs x 1 s + 4 x 1 s of warm-up + start-up: about 75 s. Many
# short rounds rather than a few long ones: a ratio's noise comes from the
# machine changing speed between its two runs, not from too few requests in
# a run (1 s is over a thousand even for gunicorn), so the median of more
# ratios is steadier than that of fewer over the same time.
FULL = Preset(rounds=8, duration_s=1, connections=8, warmup_s=1)
# Exercises every code path in about 10 s; a smoke test, not a measurement.
QUICK = Preset(rounds=1, duration_s=1, connections=4, warmup_s=0)


# --------------------------------------------------------------- credential


def _make_token() -> str:
    """A JWT shaped like the ones real APIs receive, unexpired, signed with a
    throwaway key: the failure route refuses it whatever it holds."""
    now = int(time.time())
    return jwt.encode(
        {"sub": "bench-user", "iat": now, "exp": now + 3600, "scope": "items:read"},
        secrets.token_bytes(32),
        algorithm="HS256",
    )


def _scrubber(token: str) -> Callable[[str], str]:
    # The whole token and each of its signed parts (the header part is the
    # same for every HS256 JWT and says nothing).
    parts = [token, *token.split(".")[1:]]

    def scrub(text: str) -> str:
        for part in parts:
            if part:
                text = text.replace(part, "<credential>")
        return text

    return scrub


def _check(condition: bool, what: str) -> None:
    # Not an assert: a benchmark measuring the wrong thing must stop under -O too.
    if not condition:
        raise RuntimeError(f"end-to-end self-check failed: {what}")


def _verify(
    servers: dict[str, Server], authorization: str, token: str
) -> dict[str, dict[str, object]]:
    """What every server answers on each route, checked before any timing."""
    checks: dict[str, dict[str, object]] = {}
    for name in SERVERS:
        replies = {
            (flavour, route): fetch(
                servers[f"{name}.{flavour}"].port, f"/{route}", authorization=authorization
            )
            for flavour in FLAVOURS
            for route in ROUTES
        }
        bare_ok, wrapped_ok = replies["bare", "ok"], replies["authhygiene", "ok"]
        bare_fail, wrapped_fail = replies["bare", "fail"], replies["authhygiene", "fail"]

        def undated(reply: Reply) -> tuple[int, list[tuple[str, str]], bytes]:
            headers = [(k.lower(), v) for k, v in reply.headers if k.lower() != "date"]
            return reply.status, headers, reply.body

        _check(bare_ok.status == 200, f"{name} bare /ok answered {bare_ok.status}")
        _check(undated(wrapped_ok) == undated(bare_ok), f"{name} wrapped /ok differs from bare")
        _check(bare_fail.status == 401, f"{name} bare /fail answered {bare_fail.status}")
        _check(
            (bare_fail.get("content-type") or "").startswith("text/plain"),
            f"{name} bare /fail is not text/plain",
        )
        _check(wrapped_fail.status == 401, f"{name} wrapped /fail answered {wrapped_fail.status}")
        _check(
            wrapped_fail.get("content-type") == "application/problem+json",
            f"{name} wrapped /fail is not application/problem+json",
        )
        challenge = wrapped_fail.get("www-authenticate")
        _check(bool(challenge), f"{name} wrapped /fail has no WWW-Authenticate")
        for reply in replies.values():
            _check(token not in repr(reply), f"{name} echoed the credential")
        checks[name] = {
            "ok": {"status": bare_ok.status, "identical_bare_and_wrapped": True},
            "fail.bare": {
                "status": bare_fail.status,
                "content_type": bare_fail.get("content-type"),
            },
            "fail.authhygiene": {
                "status": wrapped_fail.status,
                "content_type": wrapped_fail.get("content-type"),
                "www_authenticate": challenge,
                "reason": json.loads(wrapped_fail.body).get("reason"),
            },
        }
    return checks


# ---------------------------------------------------------------------- wrk


@dataclass(frozen=True, slots=True)
class WrkRun:
    """What wrk_report.lua's ``done()`` reported for one run, plus the CPU
    time the server used meanwhile (filled in by the caller)."""

    requests: int
    duration_us: int
    bytes: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    non_2xx_3xx: int
    latency_mean_us: float
    latency_p50_us: int
    latency_p90_us: int
    latency_p99_us: int
    latency_max_us: int
    server_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def cpu_us_per_request(self) -> float | None:
        return self.server_cpu_s * 1e6 / self.requests if self.requests else None

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def as_dict(self) -> dict[str, float | None]:
        return {**asdict(self), "rps": self.rps, "cpu_us_per_request": self.cpu_us_per_request}


def _wrk_version() -> str:
    # `wrk -v` prints its banner and usage and exits non-zero.
    done = subprocess.run(
        [str(WRK), "-v"], capture_output=True, text=True, timeout=IO_TIMEOUT_S, check=False
    )
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def _wrk(
    url: str,
    *,
    duration_s: int,
    connections: int,
    authorization: str,
    scrub: Callable[[str], str],
    paths: Sequence[str] = (),
) -> WrkRun:
    env = {**os.environ, AUTH_ENV: authorization}
    env.pop(PATHS_ENV, None)
    if paths:
        env[PATHS_ENV] = ",".join(paths)
    argv = [str(WRK), "--threads", "1", "--connections", str(connections)]
    argv += ["--duration", f"{duration_s}s", "--timeout", "5s", "--script", str(WRK_SCRIPT), url]
    try:
        done = subprocess.run(
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=duration_s + 30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"wrk did not finish within {duration_s + 30} s") from None
    for line in done.stdout.splitlines():
        if line.startswith(WRK_MARKER):
            return WrkRun(**json.loads(line[len(WRK_MARKER) :]))
    error = scrub(done.stderr.strip())[-1000:]
    raise RuntimeError(f"wrk failed (exit {done.returncode}) without a report: {error}")


# ------------------------------------------------------------------- report


def _versions() -> dict[str, str | None]:
    names = "authhygiene uvicorn h11 httptools uvloop starlette gunicorn flask werkzeug"
    names += " structlog orjson pyjwt"
    found: dict[str, str | None] = {}
    for name in names.split():
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _uvicorn_choice() -> dict[str, str]:
    """What uvicorn's defaults (``--loop auto --http auto``) pick in this
    interpreter, the one the server runs: uvloop and httptools when
    importable, else asyncio and h11 (uvicorn/loops/auto.py,
    uvicorn/protocols/http/auto.py)."""
    return {
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


def _label(server: str, route: str, flavour: str) -> str:
    return f"e2e.{server}.{route}.{flavour}"


def _ms(us: float | None) -> str:
    return "n/a" if us is None else f"{us / 1000:.2f} ms"


def _ratios(
    rounds: list[dict[str, WrkRun]], numerator: str, denominator: str, field: str
) -> list[float | None]:
    """Per round: `field` of the `numerator` run over that of the `denominator`
    run; None where there is nothing to divide (kept, so rounds stay aligned,
    and JSON stays strict: no NaN)."""
    ratios: list[float | None] = []
    for runs in rounds:
        top, bottom = getattr(runs[numerator], field), getattr(runs[denominator], field)
        ratios.append(top / bottom if top is not None and bottom else None)
    return ratios


def _summary(values: list[float | None]) -> dict[str, float | None]:
    return summary([value for value in values if value is not None])


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return float(statistics.median(known)) if known else None


def _row(
    server: str, route: str, rounds: list[dict[str, WrkRun]], arguments: dict[str, int], stack: str
) -> dict[str, Any]:
    bare, wrapped = _label(server, route, "bare"), _label(server, route, "authhygiene")
    pair = {"bare": bare, "authhygiene": wrapped}

    def medians(field: str) -> dict[str, float | None]:
        return {
            flavour: _median([getattr(runs[label], field) for runs in rounds])
            for flavour, label in pair.items()
        }

    ratios = _ratios(rounds, wrapped, bare, "rps")
    cpu_ratios = _ratios(rounds, wrapped, bare, "cpu_us_per_request")
    value = _summary(ratios)
    cpu = _summary(cpu_ratios)
    rps, p99 = medians("rps"), medians("latency_p99_us")
    errors = {
        flavour: sum(runs[label].socket_errors for runs in rounds)
        for flavour, label in pair.items()
    }
    detail = (
        f"req/s bare {rps['bare'] or 0:.0f}, wrapped {rps['authhygiene'] or 0:.0f}; "
        f"p99 bare {_ms(p99['bare'])}, wrapped {_ms(p99['authhygiene'])}"
    )
    if cpu["median"] is not None:
        detail += f"; server CPU per request {cpu['median']:.2f}x bare"
    detail += (
        f" (medians of {len(rounds)} rounds x {arguments['duration_s']} s, "
        f"{arguments['connections']} connections, {stack})"
    )
    if any(errors.values()):
        detail += f"; wrk socket errors bare {errors['bare']}, wrapped {errors['authhygiene']}"
    target = TARGETS[route]
    median = value["median"]
    return {
        "section": SECTION,
        "case": f"{server}, {_ROUTE_NAME[route]}",
        "subject": wrapped,
        "baseline": bare,
        "metric": "req/s ratio",
        "unit": "x",
        "value": value,
        "target": {"op": ">=", "value": target, "text": _TARGET_TEXT[route]},
        "result": "PASS" if median is not None and median >= target else "MISS",
        "detail": detail,
        "extra": {
            "ratios": ratios,
            "rps_median": rps,
            "latency_p50_us_median": medians("latency_p50_us"),
            "latency_p99_us_median": p99,
            # Less sensitive than req/s to the server being descheduled: a
            # cross-check when the machine is busy, not judged.
            "server_cpu_us_per_request_median": medians("cpu_us_per_request"),
            "server_cpu_per_request_ratio": cpu,
            "server_cpu_per_request_ratios": cpu_ratios,
            "socket_errors": errors,
        },
    }


def _loadavg() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:
        return None


# ---------------------------------------------------------------- the run


def _whole_seconds(value: float, name: str, minimum: int) -> int:
    # wrk's --duration accepts whole seconds only.
    if value != int(value) or value < minimum:
        raise ValueError(f"{name} must be a whole number of seconds >= {minimum}, got {value}")
    return int(value)


def _round_order(rng: random.Random) -> list[tuple[str, str, str]]:
    """Every (server, route, flavour) once, in a fresh random order in which
    the bare and wrapped runs of a (server, route) follow each other (which
    one first is drawn too): the two numbers of a ratio are then taken one
    run apart, not up to seven, so a change of the machine's speed between
    them is less likely."""
    pairs = [(server, route) for server in SERVERS for route in ROUTES]
    rng.shuffle(pairs)
    order = []
    for server, route in pairs:
        flavours = list(FLAVOURS)
        rng.shuffle(flavours)
        order += [(server, route, flavour) for flavour in flavours]
    return order


def _check_run(run: WrkRun, route: str, label: str) -> None:
    _check(run.requests > 0, f"{label}: wrk completed no request")
    if route == "ok":
        _check(run.non_2xx_3xx == 0, f"{label}: {run.non_2xx_3xx} answers were not 2xx/3xx")
    else:
        _check(run.non_2xx_3xx == run.requests, f"{label}: some answers were not refusals")


def run_end_to_end(
    *,
    rounds: int,
    duration_s: float,
    connections: int,
    rng: random.Random,
    progress: Callable[[int], None] | None = None,
    warmup_s: float = 1,
) -> dict[str, Any]:
    """Serve the four apps, load them with wrk in interleaved rounds, and
    return ``{"rows": [...], "raw": {...}}``: one row per (server, route)
    judged on the median per-round req/s ratio, and every number measured.

    `progress` is called with the number of rounds done after each round.
    Raises `WrkMissingError` when wrk is not installed, `RuntimeError` when a
    server does not start or answers something other than what is measured.
    """
    if not (WRK.is_file() and os.access(WRK, os.X_OK)):
        raise WrkMissingError(
            f"wrk not found at {WRK}: run `make bench`, which installs it (apt-get install wrk)"
        )
    if rounds < 1 or connections < 1:
        raise ValueError("rounds and connections must be at least 1")
    duration = _whole_seconds(duration_s, "duration_s", 1)
    warmup = _whole_seconds(warmup_s, "warmup_s", 0)
    started = time.monotonic()
    token = _make_token()
    authorization = f"Bearer {token}"
    scrub = _scrubber(token)
    load_start = _loadavg()
    specs = [ServerSpec(server, flavour) for server in SERVERS for flavour in FLAVOURS]
    arguments = {
        "rounds": rounds,
        "duration_s": duration,
        "connections": connections,
        "warmup_s": warmup,
        "wrk_threads": 1,
    }

    with contextlib.ExitStack() as stack:
        servers = {spec.label: start_server(spec, stack, scrub) for spec in specs}
        try:
            checks = _verify(servers, authorization, token)
        except RuntimeError as error:
            printed = "\n".join(f"--- {k}:\n{v.text(scrub)}" for k, v in servers.items())
            raise RuntimeError(f"{error}; the servers printed:\n{printed}") from None

        def wrk(label: str, path: str, seconds: int, paths: Sequence[str] = ()) -> WrkRun:
            server = servers[label]
            cpu = server.cpu_s()
            run = _wrk(
                server.url + path,
                duration_s=seconds,
                connections=connections,
                authorization=authorization,
                scrub=scrub,
                paths=paths,
            )
            return replace(run, server_cpu_s=server.cpu_s() - cpu)

        warmups: dict[str, dict[str, float | None]] = {}
        if warmup:
            order = list(servers)
            rng.shuffle(order)
            for label in order:
                run = wrk(label, "/", warmup, paths=["/ok", "/fail"])
                warmups[label] = run.as_dict()

        measured: list[dict[str, WrkRun]] = []
        orders: list[list[str]] = []
        for index in range(rounds):
            cases = _round_order(rng)
            runs: dict[str, WrkRun] = {}
            for server, route, flavour in cases:
                label = _label(server, route, flavour)
                runs[label] = wrk(f"{server}.{flavour}", f"/{route}", duration)
                _check_run(runs[label], route, label)
            measured.append(runs)
            orders.append([_label(*case) for case in cases])
            if progress is not None:
                progress(index + 1)

        # Stop now (not when the stack unwinds) so what they printed is complete.
        stack.close()
        server_info = {
            label: {
                "argv": server.spec.argv(server.port),
                "port": server.port,
                "pids": sorted(server.pids),
                "output": scrub(server.printed),
            }
            for label, server in servers.items()
        }

    uvicorn = _uvicorn_choice()
    stacks = {"uvicorn": f"uvicorn {uvicorn['loop']}/{uvicorn['http']}", "gunicorn": "sync worker"}
    rows = [
        _row(server, route, measured, arguments, stacks[server])
        for server in SERVERS
        for route in ROUTES
    ]
    raw: dict[str, Any] = {
        "arguments": arguments,
        "wrk": {"path": str(WRK), "version": _wrk_version()},
        "versions": _versions(),
        "uvicorn": uvicorn,
        "servers": server_info,
        "checks": checks,
        "warmup": warmups,
        "round_orders": orders,
        "rounds": [{label: run.as_dict() for label, run in runs.items()} for runs in measured],
        "ratios": {row["subject"]: row["extra"]["ratios"] for row in rows},
        "cpus": {"count": os.cpu_count(), "usable": len(os.sched_getaffinity(0))},
        "loadavg": {"start": load_start, "end": _loadavg()},
        "elapsed_s": time.monotonic() - started,
    }
    return {"rows": rows, "raw": raw}
