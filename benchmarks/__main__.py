"""``python -m benchmarks``: measure every section, print one table, save the files.

The self-checks of every selected section first (nothing is measured when
one fails), then the in-process sections (their variants all timed in the
same interleaved rounds), then the parts that run on their own (section
"verify"'s JWKS refetch and its instruction counts, the refusal
instructions counted under callgrind, a refusal flood's memory), then the
end-to-end section (real servers under wrk), so that no two of them compete
for the CPUs. ``--only SECTION`` (repeatable) runs a selection.

The exit code is 0 even when a target is missed: this is a report, and a
missed target is printed as ``MISS``. It is non-zero (2) only when a
self-check finds that a variant does not answer what it claims to, i.e.
the run would measure the wrong thing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import (
    anchors,
    asgi_cases,
    callgrind,
    chart,
    failure_cases,
    log_redaction_cost,
    logging_path,
    memory,
    report,
    scaling,
    throttle_cases,
    verify_callgrind,
    verify_cases,
    verify_jwks,
    wsgi_cases,
)
from benchmarks._checks import SelfCheckError
from benchmarks._context import Context, open_context
from benchmarks._harness import calibrate, frozen_heap, run_rounds, summary
from benchmarks.machine import busy_warning, load, machine
from benchmarks.profiling import PROFILERS, profile
from benchmarks.rows import Row, Section

__all__ = ["main"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_FULL = {"rounds": 20, "target_ms": 25.0, "slices": 1}
_QUICK = {"rounds": 3, "target_ms": 2.0, "slices": 1}
# In this order: the scaling section reads variants of the ASGI and failure sections.
BUILDERS: tuple[Callable[[Context], Section], ...] = (
    asgi_cases.build,
    wsgi_cases.build,
    failure_cases.build,
    scaling.build,
    anchors.build,
    logging_path.build,
    log_redaction_cost.build,
)
# What `--only` selects. "in-process" is the first six sections above (they
# read each other's variants); "redaction-cost" is the last one; "verify"
# has in-process variants of its own and parts that run after the rounds
# (`_verify_jwks`, `_verify_instructions`); "throttle" starts a redis-server
# of its own for its variants.
SECTIONS = ("in-process", "redaction-cost", "verify", "throttle", "instructions", "memory", "e2e")
_SELECTED_BUILDERS: dict[str, tuple[Callable[[Context], Section], ...]] = {
    "in-process": BUILDERS[:-1],
    "redaction-cost": BUILDERS[-1:],
    "verify": (verify_cases.build,),
    "throttle": (throttle_cases.build,),
}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="authhygiene's overhead against a bare app, a do-nothing middleware and "
        "its peers, in-process (interleaved rounds) and end to end (uvicorn/gunicorn + wrk).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few short rounds and the end-to-end quick preset: a smoke test, not a "
        "measurement (does not write latest.*)",
    )
    parser.add_argument("--rounds", type=int, help=f"in-process rounds (default {_FULL['rounds']})")
    parser.add_argument(
        "--target-ms",
        type=float,
        help=f"wall time of one variant's batch in a round (default {_FULL['target_ms']})",
    )
    parser.add_argument(
        "--slices",
        type=int,
        help=f"passes each round is cut into, re-shuffled each time (default {_FULL['slices']})",
    )
    parser.add_argument(
        "--iterations", type=int, help="requests per batch for every variant (skips calibration)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of every shuffle")
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where every file goes"
    )
    parser.add_argument(
        "--no-e2e", action="store_true", help="skip the end-to-end section (servers + wrk)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        metavar="SECTION",
        help="run only this section (repeatable): in-process (the success, failure, scaling, "
        "anchors and log redaction sections), redaction-cost (log redaction cost), "
        "verify (JWT verify vs jwt.decode, verify= on the success path, a slow JWKS "
        "refetch, their instruction counts), throttle (throttle= with a local redis-server: "
        "Redis calls per success, failure and blocked request, counting vs a PING, the 429), "
        "instructions (refusal instructions, "
        "callgrind), memory (refusal flood memory), e2e (end to end); default: all",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, profile the authhygiene success and failure variants",
    )
    parser.add_argument(
        "--profile-with",
        choices=PROFILERS,
        default=None,
        help="the profiler of --profile (default cprofile; implies --profile)",
    )
    args = parser.parse_args(argv)
    defaults = _QUICK if args.quick else _FULL
    if args.rounds is None:
        args.rounds = defaults["rounds"]
    if args.target_ms is None:
        args.target_ms = float(defaults["target_ms"])
    if args.slices is None:
        args.slices = defaults["slices"]
    if min(args.rounds, args.slices, args.iterations or 1) < 1:
        parser.error("--rounds, --slices and --iterations must be at least 1")
    if args.profile_with is not None:
        args.profile = True
    else:
        args.profile_with = PROFILERS[0]
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    chosen = set(args.only or SECTIONS)
    if args.no_e2e:
        chosen.discard("e2e")
    args.sections = [name for name in SECTIONS if name in chosen]
    return args


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _child_checks(args: argparse.Namespace) -> dict[str, Any]:
    """The child-process sections' self-checks, before anything is timed;
    `SelfCheckError` stops the run. For each: its findings, or why it is
    skipped."""
    checks: dict[str, Any] = {}
    if "verify" in args.sections:
        checks["verify_jwks"] = {}  # its checks run in every window
        try:
            checks["verify_instructions"] = {"valgrind": callgrind.find_valgrind()}
        except callgrind.ValgrindMissingError as error:
            checks["verify_instructions"] = {"skipped": str(error)}
    if "instructions" in args.sections:
        try:
            valgrind = callgrind.find_valgrind()
        except callgrind.ValgrindMissingError as error:
            checks["instructions"] = {"skipped": str(error)}
        else:
            checks["instructions"] = {"valgrind": valgrind, "checks": callgrind.self_checks()}
    if "memory" in args.sections:
        checks["memory"] = {"checks": memory.self_checks()}
    return checks


def _instructions(args: argparse.Namespace, checked: dict[str, Any]) -> tuple[list[Row], Any]:
    """Section "refusal instructions (callgrind)", or why it did not run."""
    if "skipped" in checked:
        _say(f"benchmarks: refusal instructions skipped: {checked['skipped']}")
        return [], checked
    preset = callgrind.QUICK if args.quick else callgrind.FULL
    _say(callgrind.describe(preset, _cpus()))
    result = callgrind.run_instructions(
        preset, valgrind=checked["valgrind"], jobs=_cpus(), progress=_say
    )
    return list(result["rows"]), {**result["raw"], "self_checks": checked["checks"]}


def _verify_jwks(args: argparse.Namespace, checked: dict[str, Any]) -> tuple[list[Row], Any]:
    """Section "verify": known-kid latency while a JWKS refetch is held."""
    preset = verify_jwks.QUICK if args.quick else verify_jwks.FULL
    _say(verify_jwks.describe(preset))
    result = verify_jwks.run_jwks(preset, progress=_say)
    return list(result["rows"]), dict(result["raw"])


def _verify_instructions(
    args: argparse.Namespace, checked: dict[str, Any]
) -> tuple[list[Row], Any]:
    """Section "verify instructions (callgrind)", or why it did not run."""
    if "skipped" in checked:
        _say(f"benchmarks: verify instructions skipped: {checked['skipped']}")
        return [], checked
    preset = verify_callgrind.QUICK if args.quick else verify_callgrind.FULL
    _say(verify_callgrind.describe(preset, _cpus()))
    result = verify_callgrind.run_verify_instructions(
        preset, valgrind=checked["valgrind"], jobs=_cpus(), progress=_say
    )
    return list(result["rows"]), dict(result["raw"])


def _memory(args: argparse.Namespace, checked: dict[str, Any]) -> tuple[list[Row], Any]:
    """Section "refusal flood memory"."""
    preset = memory.QUICK if args.quick else memory.FULL
    _say(memory.describe(preset, _cpus()))
    result = memory.run_memory(preset, jobs=_cpus(), progress=_say)
    return list(result["rows"]), {**result["raw"], "self_checks": checked["checks"]}


def _in_process(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any] | None, str | None]:
    """Build every selected section (self-checks included), time all their
    variants in the same rounds, and turn the rounds into rows."""
    builders = [b for name in args.sections for b in _SELECTED_BUILDERS.get(name, ())]
    if not builders:
        return [], None, None
    with open_context() as ctx, contextlib.ExitStack() as stack:
        sections: list[Section] = []
        for build in builders:
            section = build(ctx)
            stack.callback(section.close)
            sections.append(section)
        variants = [v for s in sections for v in s.variants]
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise SelfCheckError("benchmark self-check failed: two variants share a name")
        with frozen_heap():
            if args.iterations is not None:
                for variant in variants:
                    variant.run(min(args.iterations, 100))  # warm-up
                iterations = dict.fromkeys(names, args.iterations)
            else:
                target_ns = int(args.target_ms * 1_000_000)
                iterations = {v.name: calibrate(v, target_ns) for v in variants}
            _say(
                f"benchmarks: {len(variants)} in-process variants x {args.rounds} rounds "
                f"x {args.slices} slices (seed {args.seed})"
            )
            measured, orders = run_rounds(
                variants,
                iterations,
                args.rounds,
                random.Random(args.seed),
                slices=args.slices,
                progress=lambda done: _say(f"  round {done}/{args.rounds}"),
            )
        rows = [row for s in sections for row in s.rows(measured)]
        profiled = None
        if args.profile:
            targets = [name for s in sections for name in s.profiled]
            profiled = profile(variants, targets, iterations, args.profile_with)
    raw = {
        "self_checks": {s.name: s.checks for s in sections},
        "round_orders": orders,
        "variants": {
            name: {
                "description": m.variant.description,
                "iterations": m.iterations,
                "round_elapsed_ns": m.round_ns,
                "per_round_ns_per_request": m.per_request_ns,
                "ns_per_request": summary(m.per_request_ns),
            }
            for name, m in measured.items()
        },
    }
    return rows, raw, profiled


def _end_to_end(args: argparse.Namespace, seed: int) -> tuple[list[Row], dict[str, Any]]:
    """The other section: real servers under wrk (see `benchmarks.end_to_end`)."""
    from benchmarks import end_to_end

    preset = end_to_end.QUICK if args.quick else end_to_end.FULL
    _say(f"end to end: {preset} (seed {seed})")
    try:
        result = end_to_end.run_end_to_end(
            rounds=preset.rounds,
            duration_s=preset.duration_s,
            connections=preset.connections,
            warmup_s=preset.warmup_s,
            rng=random.Random(seed),
            progress=lambda done: _say(f"  end-to-end round {done}/{preset.rounds}"),
        )
    except end_to_end.WrkMissingError as error:
        return [], {"skipped": str(error)}
    return list(result["rows"]), dict(result["raw"])


def _notes(argv: Sequence[str], payload: dict[str, Any]) -> list[str]:
    info = payload["machine"]
    commit = (info["git_commit"] or "unknown")[:12]
    notes = [
        f"Command: `{' '.join(['.venv/bin/python -m benchmarks', *argv])}`",
        f"Run: {payload['started_at']}, {payload['elapsed_s']:.0f} s; commit {commit}; "
        f"{info['platform']}, Python {info['python'].split()[0]}, "
        f"{info['cpus_usable']} usable CPUs; "
        f"orjson used: {'yes' if info['orjson_used'] else 'no'}.",
    ]
    for key, title in (
        ("verify_jwks", "verify, JWKS refetch"),
        ("verify_instructions", "verify instructions"),
        ("instructions", "refusal instructions"),
        ("memory", "refusal flood memory"),
    ):
        part = payload[key]
        if part is None:
            continue
        if "skipped" in part:
            notes.append(f"NOTE: {title} skipped: {part['skipped']}")
        elif "error" in part:
            notes.append(f"NOTE: {title} stopped: {part['error']}")
    in_process = payload["in_process"] or {}
    throttle = in_process.get("self_checks", {}).get(throttle_cases.SECTION, {})
    if "skipped" in throttle:
        notes.append(f"NOTE: throttle skipped: {throttle['skipped']}")
    times = ", ".join(f"{name} {took:.0f} s" for name, took in payload["section_s"].items())
    notes.append(f"Time per part: {times}.")
    e2e = payload["end_to_end"]
    if e2e is None:
        why = "--no-e2e" if payload["arguments"]["no_e2e"] else "--only"
        notes.append(f"End to end: not run ({why}).")
    elif "skipped" in e2e:
        notes.append(f"NOTE: end to end skipped: {e2e['skipped']}")
    elif "error" in e2e:
        notes.append(f"NOTE: end to end stopped: {e2e['error']}")
    warning = busy_warning(payload["machine"]["load_1min_before"], load())
    if warning:
        notes.append(warning)
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    load_before = load()
    section_s: dict[str, float] = {}
    try:
        child_checks = _child_checks(args)
        mark = time.monotonic()
        rows, in_process, profiled = _in_process(args)
        if in_process is not None:
            section_s["in-process"] = time.monotonic() - mark
    except SelfCheckError as error:
        _say(f"benchmarks: stopped before timing anything: {error}")
        return 2
    failed = False
    children: dict[str, Any] = dict.fromkeys(
        ("verify_jwks", "verify_instructions", "instructions", "memory")
    )
    for key, run, errors in (
        ("verify_jwks", _verify_jwks, SelfCheckError),
        ("verify_instructions", _verify_instructions, callgrind.CallgrindError),
        ("instructions", _instructions, callgrind.CallgrindError),
        ("memory", _memory, memory.FloodError),
    ):
        if key not in child_checks:
            continue
        mark = time.monotonic()
        try:
            section_rows, children[key] = run(args, child_checks[key])
        except (errors, subprocess.SubprocessError, OSError, ValueError) as error:
            failed = True
            children[key] = {"error": str(error)}
            _say(f"benchmarks: {key} stopped: {error}")
        else:
            rows += section_rows
        section_s[key] = time.monotonic() - mark
    e2e_seed = random.Random(args.seed).randrange(2**32)
    end_to_end: dict[str, Any] | None = None
    if "e2e" in args.sections:
        mark = time.monotonic()
        try:
            e2e_rows, end_to_end = _end_to_end(args, e2e_seed)
        except RuntimeError as error:  # a server or check failed (its message is scrubbed)
            failed = True
            end_to_end = {"error": str(error)}
            _say(f"benchmarks: end to end stopped: {error}")
        else:
            rows += e2e_rows
        section_s["e2e"] = time.monotonic() - mark

    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    payload: dict[str, Any] = {
        "benchmark": "authhygiene",
        "started_at": started.isoformat(timespec="seconds"),
        "elapsed_s": time.monotonic() - clock,
        "arguments": {
            "argv": argv,
            "quick": args.quick,
            "rounds": args.rounds,
            "target_ms": args.target_ms,
            "slices": args.slices,
            "iterations": args.iterations,
            "no_e2e": args.no_e2e,
            "sections": args.sections,
            "profile": args.profile_with if args.profile else None,
        },
        "seeds": {
            "in_process": args.seed,
            "end_to_end": e2e_seed if "e2e" in args.sections else None,
        },
        "machine": {**machine(), "load_1min_before": load_before, "load_1min_after": load()},
        "rows": rows,
        "section_s": {name: round(took, 1) for name, took in section_s.items()},
        "in_process": in_process,
        "verify_jwks": children["verify_jwks"],
        "verify_instructions": children["verify_instructions"],
        "instructions": children["instructions"],
        "memory": children["memory"],
        "end_to_end": end_to_end,
    }
    title = f"authhygiene benchmarks ({stamp}{', quick' if args.quick else ''})"
    notes = _notes(argv, payload)
    written = report.write_results(
        args.results_dir,
        stamp,
        payload,
        draw=lambda path: chart.draw(rows, path, title=title),
        latest_markdown=None
        if args.quick
        else report.document(rows, title=title, notes=notes, chart="latest.png"),
    )
    print(report.document(rows, title=title, notes=notes), end="")
    print(f"Raw numbers: {written['json']}")
    print(f"Chart: {written.get('png', 'not drawn (matplotlib is not installed)')}")
    latest = [str(path) for kind, path in written.items() if kind.startswith("latest_")]
    if latest:
        print(f"Also written: {', '.join(latest)}")
    else:
        print("latest.* left as they were (--quick)")
    if profiled is not None:
        print()
        print(profiled)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
