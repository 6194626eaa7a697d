"""Refusal flood memory: does authhygiene's memory stay flat under a flood of
refusals that never repeat?

A flood of refused requests, each with a token, a path and a user agent of
its own (`refusal_apps.flood_request`), through `AuthHygieneWSGI` and
`AuthHygiene` (the suite's options, `log_limit=None` so every refusal is
logged, JSON to a file on /dev/null): whatever authhygiene remembers per
token, per path or per user agent (caches, counters, the log limiter)
would grow with it. Each protocol runs in a child process of its own
(`benchmarks.memory_child`), the two side by side, so that nothing the
parent holds shows in its resident memory; the child reads its RSS
(``VmRSS``) before the first request and every 10,000 requests.

Verdict, per protocol: the RSS **plateaus** when its growth over the last
half of the run (from the sample at half the requests served to the last)
is at most 5% of the RSS at mid-run. The first half is left out: it holds
the warm-up (lazy imports, caches filling up to their bounds, the
allocator's arenas).

200,000 requests per protocol, unless a child would pass its time budget
(100 s, both children side by side on two CPUs: the section stays under
two minutes): it then stops at the last sample that fits, and the row says
how many it served; the verdict is judged on what was served. ``--quick``:
20,000 requests, a sample every 2,000, 15 s.

Before the flood, the same app is built in this process logging to a
buffer and answers three flood requests: 401 problem+json with a
challenge and no-store, one ``auth.failure`` each, no token in a body or
the log.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks import refusal_apps
from benchmarks._checks import check_events, check_refusal, log_buffer
from benchmarks.callgrind import REPO_ROOT
from benchmarks.refusal_apps import PROTOCOLS
from benchmarks.rows import Row, Target, single_row

__all__ = [
    "FULL",
    "QUICK",
    "SECTION",
    "TARGET",
    "FloodError",
    "Preset",
    "describe",
    "plateau",
    "run_memory",
    "self_checks",
]

SECTION = "refusal flood memory"
TARGET = Target("<=", 5.0, "≤ 5% of mid-run RSS")
_LABEL = {"asgi": "ASGI", "wsgi": "WSGI"}
_CHECKED = 3


@dataclass(frozen=True, slots=True)
class Preset:
    total: int
    every: int
    # Wall-clock budget of each child, both running side by side.
    budget_s: float

    def __str__(self) -> str:
        return (
            f"{self.total:,} refusals per protocol, RSS every {self.every:,}, "
            f"at most {self.budget_s:.0f} s"
        )


FULL = Preset(total=200_000, every=10_000, budget_s=100.0)
QUICK = Preset(total=20_000, every=2_000, budget_s=15.0)


class FloodError(RuntimeError):
    """A flood child failed."""


def self_checks() -> dict[str, object]:
    """The flood app answers three flood requests as promised, or `SelfCheckError`."""
    out: dict[str, object] = {}
    for proto in PROTOCOLS:
        name = f"memory.{proto}"
        buffer, logger = log_buffer()
        app = refusal_apps.flood_app(proto, logger)
        tokens = [refusal_apps.expired_token(i) for i in range(_CHECKED)]
        said: dict[str, object] = {}
        for i in range(_CHECKED):
            answer = refusal_apps.exchange(proto, app, refusal_apps.flood_request(proto, i))
            said = check_refusal(name, answer, status=401, reason=None, origin=None, secrets=tokens)
        said["log_events"] = check_events(name, buffer, refused=_CHECKED, secrets=tokens)
        out[name] = said
    return out


def plateau(samples: list[list[int]]) -> dict[str, Any] | None:
    """The verdict's figures: RSS at mid-run (the last sample at or before
    half the requests served) and at the end, and the growth between them
    as a percentage of the mid-run RSS. None with fewer than 3 samples
    after the first."""
    if len(samples) < 4:
        return None
    served = samples[-1][0]
    mid = max((s for s in samples if s[0] <= served / 2), key=lambda s: s[0])
    end = samples[-1]
    return {
        "mid_requests": mid[0],
        "mid_kib": mid[1],
        "end_requests": end[0],
        "end_kib": end[1],
        "growth_kib": end[1] - mid[1],
        "growth_percent": 100.0 * (end[1] - mid[1]) / mid[1],
    }


def _run_child(proto: str, preset: Preset) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.memory_child",
            proto,
            str(preset.total),
            str(preset.every),
            str(preset.budget_s),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=preset.budget_s * 3 + 60,
        check=False,
    )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or [""]
        # Named by type only: a message could quote a request.
        raise FloodError(
            f"memory child {proto} exited with {done.returncode}: {last[0].split(':', 1)[0]}"
        )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_memory(
    preset: Preset, *, jobs: int, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Both floods (side by side when two CPUs are usable); {"rows", "raw"}."""
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    parallel = max(1, min(jobs, len(PROTOCOLS)))
    # One CPU: the children run one after the other, each with half the budget.
    each = preset if parallel > 1 else Preset(preset.total, preset.every, preset.budget_s / 2)
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {pool.submit(_run_child, p, each): p for p in PROTOCOLS}
        for future in concurrent.futures.as_completed(futures):
            proto = futures[future]
            results[proto] = result = future.result()
            progress(
                f"  memory {proto}: {result['served']:,} refusals in {result['elapsed_s']:.0f} s"
            )
    raw = {
        "preset": {"total": each.total, "every": each.every, "budget_s": each.budget_s},
        "parallel": parallel,
        "elapsed_s": round(time.monotonic() - started, 1),
        "children": results,
    }
    return {"rows": rows(results), "raw": raw}


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def rows(results: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    out: list[Row] = []
    for proto in PROTOCOLS:
        result = results[proto]
        label = _LABEL[proto]
        samples = result["samples"]
        served = result["served"]
        verdict = plateau(samples)
        curve = ", ".join(_mib(kib) for _, kib in samples)
        rate = served / result["elapsed_s"] if result["elapsed_s"] else 0.0
        ran = f"{served:,} refusals in {result['elapsed_s']:.0f} s ({rate:,.0f}/s)"
        if result["stopped_by_budget"]:
            ran += (
                f", stopped by the {result['budget_s']:.0f} s budget "
                f"(of {result['total']:,} planned)"
            )
        peak = f"; peak (VmHWM) {_mib(result['hwm_kib'])} MiB" if result["hwm_kib"] else ""
        subject = f"memory.{proto}.flood"
        extra = {"samples_requests_kib": samples, "plateau": verdict, "result": dict(result)}
        out.append(
            single_row(
                SECTION,
                f"{label}: RSS at the end of the flood",
                subject=subject,
                baseline=f"memory.{proto}.start",
                metric="RSS",
                unit="MiB",
                value=samples[-1][1] / 1024,
                detail=f"{ran}; RSS MiB every {result['every']:,} requests from the "
                f"first: {curve}{peak}; a token, path and user agent of its own per request",
                extra=extra,
            )
        )
        detail = "fewer than 3 samples: not judged"
        if verdict is not None:
            detail = (
                f"{_mib(verdict['mid_kib'])} MiB after {verdict['mid_requests']:,} requests, "
                f"{_mib(verdict['end_kib'])} MiB after {verdict['end_requests']:,} "
                f"({verdict['growth_kib'] / 1024:+.1f} MiB)"
            )
        out.append(
            single_row(
                SECTION,
                f"{label}: RSS plateaus (growth over the last half)",
                subject=subject,
                baseline=f"memory.{proto}.mid",
                metric="RSS growth over the last half / mid-run RSS",
                unit="%",
                value=None if verdict is None else verdict["growth_percent"],
                target=TARGET,
                detail=detail,
                extra={"plateau": verdict},
            )
        )
    return out


def describe(preset: Preset, jobs: int) -> str:
    side = "side by side" if min(jobs, len(PROTOCOLS)) > 1 else "one after the other"
    return f"refusal flood memory: ASGI and WSGI children {side} ({preset})"
