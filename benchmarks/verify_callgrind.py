"""Section "verify instructions (callgrind)": the targets of section
"verify" on CPU instructions, which do not swing with the machine's phase
as wall time does.

The method is section 9's (`benchmarks.callgrind`): each child runs under
``valgrind --tool=callgrind --dump-before=getppid`` and brackets every
variant's COUNT calls (after WARMUP) between two ``os.getppid()`` calls, so
one dump holds exactly their instructions (`verify_callgrind_child`).
Variants of one child share its interpreter (a process per algorithm
family, not per variant: valgrind's start-up with pyjwt and cryptography
costs ~15 s); each child has its own empty loop, and every figure is over
it. Keys and tokens are this run's (`verify_issuer`), handed to the
children in a JSON file in a private temporary directory that is removed
afterwards.

Rows: per algorithm, jwt.decode / cached verify of the same token **≥ 100x**
and first verify / jwt.decode of new tokens **≤ 1.1x**; explain mode's
success path, its added instructions / the floor's **≤ 1.5x** (section 9's
ok variants, ``verify=JWT(HS256)`` added); for information, what verify=
adds to authhygiene without it, and enforce mode's added instructions.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.callgrind import (
    REPO_ROOT,
    CallgrindError,
    _env,
    _scrubbed,
    _totals,
)
from benchmarks.rows import Row, single_row
from benchmarks.verify_callgrind_child import CALLS
from benchmarks.verify_cases import CACHED_TARGET, FIRST_TARGET, FLOOR_TARGET
from benchmarks.verify_issuer import ALGORITHMS, issuers

__all__ = ["FULL", "QUICK", "SECTION", "Preset", "describe", "rows", "run_verify_instructions"]

SECTION = "verify instructions (callgrind)"


@dataclass(frozen=True, slots=True)
class Preset:
    warmup: int
    count: int

    def __str__(self) -> str:
        return f"{self.warmup} + {self.count} calls or requests per variant"


FULL = Preset(warmup=10, count=50)
QUICK = Preset(warmup=5, count=20)
# Two children of about the same weight (ES256 verifies slowest).
_JOBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hs-rs", ("empty", *(f"{c}.{a}" for a in ("HS256", "RS256") for c in CALLS))),
    (
        "es-asgi",
        (
            "empty",
            *(f"{c}.ES256" for c in CALLS),
            "asgi.bare",
            "asgi.floor",
            "asgi.plain",
            "asgi.explain",
            "asgi.enforce",
        ),
    ),
)


def _spec(path: Path, preset: Preset) -> None:
    """This run's keys and tokens, for the children (readable by us only)."""
    now = int(time.time())
    spec: dict[str, Any] = {"algorithms": {}}
    for alg, issuer in issuers().items():
        spec["algorithms"][alg] = {
            "kid": issuer.kid,
            "public": issuer.public_text(),
            "token": issuer.sign(0, now),
            "fresh": [issuer.sign(i + 1, now) for i in range(preset.warmup + preset.count)],
        }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(spec, out)


def _args(spec: Path, preset: Preset, variants: tuple[str, ...]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.verify_callgrind_child",
        str(spec),
        str(preset.warmup),
        str(preset.count),
        *variants,
    ]


def _run_job(
    valgrind: str,
    name: str,
    variants: tuple[str, ...],
    command: list[str],
    workdir: Path,
    env: Mapping[str, str],
) -> dict[str, Any]:
    out = workdir / name
    started = time.monotonic()
    done = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-before=getppid",
            "--dump-line=no",
            "--dump-instr=no",
            *command,
        ],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise CallgrindError(
            f"verify callgrind child {name} exited with {done.returncode}: {_scrubbed(done.stderr)}"
        )
    dumps = list(workdir.glob(f"{name}.*"))
    if len(dumps) != 2 * len(variants) or not out.exists():
        raise CallgrindError(
            f"verify callgrind child {name} left {len(dumps)} dumps, expected {2 * len(variants)}"
        )
    windows = {v: _totals(workdir / f"{name}.{2 * k + 2}") for k, v in enumerate(variants)}
    collected = re.search(r"Collected : (\d+)", done.stderr)
    return {
        "variants": list(variants),
        "window_instructions": windows,
        "collected_total": int(collected.group(1)) if collected else None,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def run_verify_instructions(
    preset: Preset,
    *,
    valgrind: str,
    jobs: int,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Count every variant; {"rows", "raw"}. `CallgrindError` when a child
    fails (natively first: a child that cannot run fails in a second, and
    the bytecode cache is filled) or its dumps are not as expected."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="authhygiene-verify-cg-") as tmp:
        workdir = Path(tmp)
        spec = workdir / "spec.json"
        _spec(spec, preset)
        env = _env(workdir / "pyc")
        for name, variants in _JOBS:
            done = subprocess.run(
                _args(spec, Preset(1, 1), variants),
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                raise CallgrindError(
                    f"verify child {name} failed without valgrind ({done.returncode}): "
                    f"{_scrubbed(done.stderr)}"
                )
        results: dict[str, dict[str, Any]] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {
                pool.submit(
                    _run_job, valgrind, name, variants, _args(spec, preset, variants), workdir, env
                ): name
                for name, variants in _JOBS
            }
            for future in concurrent.futures.as_completed(futures):
                name = futures[future]
                try:
                    results[name] = future.result()
                except BaseException:
                    for waiting in futures:
                        waiting.cancel()
                    raise
                progress(f"  verify callgrind {name}: {results[name]['elapsed_s']:.0f} s")
    per_call = {
        name: {v: count / preset.count for v, count in result["window_instructions"].items()}
        for name, result in results.items()
    }
    raw = {
        "preset": {"warmup": preset.warmup, "count": preset.count},
        "valgrind": valgrind,
        "jobs": jobs,
        "elapsed_s": round(time.monotonic() - started, 1),
        "children": results,
        "instructions_per_call": per_call,
    }
    return {"rows": rows(per_call, preset), "raw": raw}


def _k(value: float) -> str:
    return f"{value / 1000:,.1f} k"


def _ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom > 0 else None


def rows(per_call: Mapping[str, Mapping[str, float]], preset: Preset) -> list[Row]:
    """The section's rows from instructions per call (per child: per variant)."""
    found = {v: (job, figures) for job, figures in per_call.items() for v in figures}

    def added(variant: str, baseline: str = "empty") -> float:
        _job, figures = found[variant]
        return figures[variant] - figures.get(baseline, 0.0)

    window = f"calls {preset.warmup + 1}-{preset.warmup + preset.count}"
    out: list[Row] = []
    for alg in ALGORITHMS:
        decode, cached = added(f"decode.{alg}"), added(f"cached.{alg}")
        out.append(
            single_row(
                SECTION,
                f"cached.{alg}: jwt.decode / verify, same token",
                subject=f"decode.{alg}",
                baseline=f"cached.{alg}",
                metric="jwt.decode / cached verify, instructions",
                unit="x",
                value=_ratio(decode, cached),
                target=CACHED_TARGET,
                detail=f"{_k(decode)} vs {_k(cached)} instructions per call over the empty "
                f"loop ({window})",
                extra={"decode": decode, "cached": cached},
            )
        )
    for alg in ALGORITHMS:
        first, decode = added(f"first.{alg}"), added(f"decode_new.{alg}")
        out.append(
            single_row(
                SECTION,
                f"first.{alg}: verify / jwt.decode, new token",
                subject=f"first.{alg}",
                baseline=f"decode_new.{alg}",
                metric="first verify / jwt.decode, instructions",
                unit="x",
                value=_ratio(first, decode),
                target=FIRST_TARGET,
                detail=f"{_k(first)} vs {_k(decode)} instructions per call over the empty "
                f"loop ({window})",
                extra={"first": first, "decode": decode},
            )
        )
    floor = added("asgi.floor", "asgi.bare")
    plain = added("asgi.plain", "asgi.bare")
    explain = added("asgi.explain", "asgi.bare")
    enforce = added("asgi.enforce", "asgi.bare")
    out.append(
        single_row(
            SECTION,
            "explain mode (verify=JWT), success path",
            subject="asgi.explain",
            baseline="asgi.bare",
            metric="added instructions / floor's",
            unit="x",
            value=_ratio(explain, floor),
            target=FLOOR_TARGET,
            detail=f"added {_k(explain)} vs floor {_k(floor)} instructions per 200 "
            f"(requests {preset.warmup + 1}-{preset.warmup + preset.count})",
            extra={"added": explain, "reference_added": floor},
        )
    )
    out.append(
        single_row(
            SECTION,
            "explain mode: verify= added over AuthHygiene without it",
            subject="asgi.explain",
            baseline="asgi.plain",
            metric="added instructions",
            unit="k instr",
            value=(explain - plain) / 1000,
            detail=f"added over the bare 200: {_k(explain)} with verify=, {_k(plain)} without",
            extra={"added": explain, "reference_added": plain},
        )
    )
    versus = _ratio(enforce, floor)
    out.append(
        single_row(
            SECTION,
            "enforce mode, success path (cached token)",
            subject="asgi.enforce",
            baseline="asgi.bare",
            metric="added instructions",
            unit="k instr",
            value=enforce / 1000,
            detail=f"{'n/a' if versus is None else f'{versus:.1f}x'} the floor's added "
            f"{_k(floor)} instructions per 200",
            extra={"added": enforce, "reference_added": floor},
        )
    )
    return out


def describe(preset: Preset, jobs: int) -> str:
    return f"verify instructions: {len(_JOBS)} callgrind children, {jobs} at a time ({preset})"
