"""``python -m benchmarks``: measure, print a markdown table, save raw numbers.

The exit code is 0 even when a target is missed: this is a report, and a
missed target is printed as ``MISS``. Only a benchmark that cannot run (or
whose self-checks find that it would measure the wrong thing) exits non-zero.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import importlib.metadata
import io
import json
import math
import os
import platform
import pstats
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._harness import Measured, calibrate, frozen_heap, run_rounds, summary
from benchmarks.logging_path import LOGGING_COMPARISONS, LoggingComparison, LoggingScenario
from benchmarks.logging_path import build as build_logging
from benchmarks.success_path import (
    COMPARISONS,
    FAILURE_COMPARISONS,
    Comparison,
    FailureComparison,
    Scenario,
    build,
)

__all__ = ["main"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_FULL = {"rounds": 20, "target_ms": 30.0, "slices": 1}
_QUICK = {"rounds": 3, "target_ms": 2.0, "slices": 1}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Success-path overhead of authhygiene vs a bare app and a do-nothing "
        "middleware, measured in interleaved rounds in one process.",
    )
    parser.add_argument("--quick", action="store_true", help="a few short rounds (smoke test)")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {_FULL['rounds']})")
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
    parser.add_argument("--seed", type=int, default=None, help="seed of the round shuffles")
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON file goes"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, cProfile the authhygiene success variants and print the top entries",
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
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    return args


def _us(ns: float | None) -> str:
    return "—" if ns is None else f"{ns / 1000:.3f}"


def _ratio(values: dict[str, float | None]) -> str:
    if values["median"] is None:
        return "n/a"
    return f"{values['median']:.2f}x [{values['min']:.2f}-{values['max']:.2f}]"


def _compare(cmp: Comparison, measured: dict[str, Measured]) -> dict[str, Any]:
    bare = measured[cmp.bare].per_request_ns
    floor = measured[cmp.floor].per_request_ns
    subject = measured[cmp.subject].per_request_ns
    floor_added = [f - b for f, b in zip(floor, bare, strict=True)]
    subject_added = [s - b for s, b in zip(subject, bare, strict=True)]
    # A round where the floor measured no cost at all says nothing about the
    # ratio (noise swamped it): it is kept in the raw numbers, not in the median.
    ratios = [s / f if f > 0 else math.nan for s, f in zip(subject_added, floor_added, strict=True)]
    ratio = summary(ratios)
    passed = ratio["median"] is not None and ratio["median"] <= cmp.target
    return {
        "bare": cmp.bare,
        "floor": cmp.floor,
        "subject": cmp.subject,
        "target_ratio": cmp.target,
        "per_round_floor_added_ns": floor_added,
        "per_round_subject_added_ns": subject_added,
        "per_round_ratio": [r if math.isfinite(r) else None for r in ratios],
        "rounds_without_floor_cost": sum(1 for r in ratios if not math.isfinite(r)),
        "floor_added_ns": summary(floor_added),
        "subject_added_ns": summary(subject_added),
        "ratio": ratio,
        "ratio_of_median_added": (
            _safe_ratio(summary(subject_added)["median"], summary(floor_added)["median"])
        ),
        "result": "PASS" if passed else "MISS",
    }


def _safe_ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _compare_failure(cmp: FailureComparison, measured: dict[str, Measured]) -> dict[str, Any]:
    bare = measured[cmp.bare].per_request_ns
    subject = measured[cmp.subject].per_request_ns
    return {
        "bare": cmp.bare,
        "subject": cmp.subject,
        "per_round_added_ns": [s - b for s, b in zip(subject, bare, strict=True)],
        "added_ns": summary([s - b for s, b in zip(subject, bare, strict=True)]),
        "slowdown": summary([s / b for s, b in zip(subject, bare, strict=True)]),
    }


def _compare_logging(cmp: LoggingComparison, measured: dict[str, Measured]) -> dict[str, Any]:
    baseline = measured[cmp.baseline].per_request_ns
    subject = measured[cmp.subject].per_request_ns
    added = [s - b for s, b in zip(subject, baseline, strict=True)]
    ratios = [s / b for s, b in zip(subject, baseline, strict=True)]
    return {
        "what": cmp.what,
        "baseline": cmp.baseline,
        "subject": cmp.subject,
        "per_round_added_ns": added,
        "per_round_ratio": ratios,
        "added_ns": summary(added),
        "ratio": summary(ratios),
    }


def _logging_table(measured: dict[str, Measured], logs: dict[str, dict[str, Any]]) -> str:
    head = (
        "| variant | median µs/line | min | max | added µs vs baseline | ratio vs baseline "
        "| target | result |"
    )
    lines = [head, "|" + "---|" * 8]
    for cmp in logs.values():
        for name, added, ratio, verdict in (
            (cmp["baseline"], "—", "—", "—"),
            (cmp["subject"], _us(cmp["added_ns"]["median"]), _ratio(cmp["ratio"]), "info"),
        ):
            stats = summary(measured[name].per_request_ns)
            lines.append(
                f"| {name} | {_us(stats['median'])} | {_us(stats['min'])} | {_us(stats['max'])} "
                f"| {added} | {ratio} | {verdict} | {verdict} |"
            )
    return "\n".join(lines)


def _logging_verdicts(logs: dict[str, dict[str, Any]]) -> str:
    lines = []
    for cmp in logs.values():
        ratio = cmp["ratio"]["median"]
        how = "redact" if cmp["subject"].endswith(".redact") else "RedactingFilter"
        lines.append(
            f"info: {cmp['what']}: {how} adds {_us(cmp['added_ns']['median'])} µs/line "
            f"({'n/a' if ratio is None else f'{ratio:.2f}x'} the line without it)"
        )
    return "\n".join(lines)


def _table(
    measured: dict[str, Measured],
    comparisons: dict[str, dict[str, Any]],
    failures: dict[str, dict[str, Any]],
) -> str:
    head = (
        "| variant | median µs/req | min | max | added µs vs bare | ratio vs floor "
        "| target | result |"
    )
    lines = [head, "|" + "---|" * 8]

    def row(name: str, added: str, ratio: str, target: str, result: str) -> None:
        stats = summary(measured[name].per_request_ns)
        lines.append(
            f"| {name} | {_us(stats['median'])} | {_us(stats['min'])} | {_us(stats['max'])} "
            f"| {added} | {ratio} | {target} | {result} |"
        )

    for cmp in comparisons.values():
        row(cmp["bare"], "—", "—", "—", "—")
        row(cmp["floor"], _us(cmp["floor_added_ns"]["median"]), "1.00x", "—", "—")
        row(
            cmp["subject"],
            _us(cmp["subject_added_ns"]["median"]),
            _ratio(cmp["ratio"]),
            f"≤ {cmp['target_ratio']}x",
            cmp["result"],
        )
    for fail in failures.values():
        row(fail["bare"], "—", "—", "—", "—")
        row(fail["subject"], _us(fail["added_ns"]["median"]), "—", "info", "info")
    return "\n".join(lines)


def _verdicts(comparisons: dict[str, dict[str, Any]], failures: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, cmp in comparisons.items():
        ratio = cmp["ratio"]
        median = "n/a" if ratio["median"] is None else f"{ratio['median']:.2f}x"
        verdict = cmp["result"]
        lines.append(
            f"{verdict}: {name} success path: authhygiene adds "
            f"{_us(cmp['subject_added_ns']['median'])} µs/request, the floor "
            f"{_us(cmp['floor_added_ns']['median'])} µs -> {median} the floor "
            f"(median of per-round ratios; target ≤ {cmp['target_ratio']}x)"
            + (
                f"; {cmp['rounds_without_floor_cost']} round(s) where the floor "
                "cost nothing were left out of the median"
                if cmp["rounds_without_floor_cost"]
                else ""
            )
        )
    for name, fail in failures.items():
        slowdown = fail["slowdown"]["median"]
        if name.endswith("-cors"):
            lines.append(
                f"info: {name} success path with cors=: the CORS step and the status check add "
                f"{_us(fail['added_ns']['median'])} µs/request ({slowdown:.2f}x the bare app)"
            )
            continue
        lines.append(
            f"info: {name} failure path: rewriting a 401 and logging it adds "
            f"{_us(fail['added_ns']['median'])} µs/request "
            f"({slowdown:.1f}x the bare app's 401)"
        )
    return "\n".join(lines)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _machine() -> dict[str, Any]:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": {d: _version(d) for d in ("authhygiene", "structlog", "pyjwt")},
        "git_commit": _git_commit(),
    }


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _busy_warning(before: float | None, after: float | None) -> str | None:
    """Other processes competing for the CPUs widen every spread; say so next
    to the numbers rather than leave the reader to guess."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if before is None or after is None or not cpus:
        return None
    # Our own run adds ~1 to the load average; more than half the CPUs busy
    # besides us means the rounds were contended.
    others = max(before, after - 1)
    if others <= cpus / 2:
        return None
    return (
        f"NOTE: the machine was busy (1-min load average {before:.2f} before, {after:.2f} "
        f"after, {cpus} CPUs): ratios are noisier than usual; rerun on a quiet machine."
    )


def _write_json(directory: Path, payload: dict[str, Any], stamp: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"success_path-{stamp}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def _profile(scenario: Scenario, iterations: dict[str, int]) -> str:
    out = []
    for variant in scenario.variants:
        if not variant.name.endswith(".success.authhygiene"):
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        variant.run(iterations[variant.name])
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(12)
        title = f"### cProfile: {variant.name}, {iterations[variant.name]} requests"
        out.append(f"{title}\n\n```\n{stream.getvalue()}```")
    return "\n\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    started = dt.datetime.now(dt.UTC)
    load_before = _load()
    scenario = build()
    logs_scenario: LoggingScenario | None = None
    try:
        # After build(): the once-per-process auth.misconfig stays in its self-checks.
        logs_scenario = build_logging()
        # One set of interleaved rounds: the logging pairs share every round's
        # conditions with each other and with the request variants.
        variants = scenario.variants + logs_scenario.variants
        with frozen_heap():
            target_ns = int(args.target_ms * 1_000_000)
            if args.iterations is not None:
                for variant in variants:
                    variant.run(min(args.iterations, 100))  # warm-up
                iterations = {v.name: args.iterations for v in variants}
            else:
                iterations = {v.name: calibrate(v, target_ns) for v in variants}
            print(
                f"benchmarks: {len(variants)} variants x {args.rounds} rounds "
                f"x {args.slices} slices (seed {args.seed})",
                file=sys.stderr,
            )
            measured, orders = run_rounds(
                variants,
                iterations,
                args.rounds,
                random.Random(args.seed),
                slices=args.slices,
                progress=lambda done: print(f"  round {done}/{args.rounds}", file=sys.stderr),
            )
        comparisons = {c.name: _compare(c, measured) for c in COMPARISONS}
        failures = {c.name: _compare_failure(c, measured) for c in FAILURE_COMPARISONS}
        logs = {c.name: _compare_logging(c, measured) for c in LOGGING_COMPARISONS}
        profile = _profile(scenario, iterations) if args.profile else None
    finally:
        scenario.close()
        if logs_scenario is not None:
            logs_scenario.close()

    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "benchmark": "success_path",
        "started_at": started.isoformat(),
        "arguments": {
            "quick": args.quick,
            "rounds": args.rounds,
            "target_ms": args.target_ms,
            "slices": args.slices,
            "iterations": args.iterations,
            "seed": args.seed,
        },
        "machine": {**_machine(), "load_1min_before": load_before},
        "self_checks": scenario.checks,
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
        "comparisons": comparisons,
        "failure_path": failures,
        "logging_path": {"self_checks": logs_scenario.checks, "comparisons": logs},
    }
    path = _write_json(args.results_dir, payload, stamp)

    print("## authhygiene success-path overhead\n")
    print(_table(measured, comparisons, failures))
    print()
    print(_verdicts(comparisons, failures))
    print()
    print(
        "Added = wrapped - bare, per round; ratio = authhygiene added / floor added, "
        f"per round, then median [min-max] over {args.rounds} rounds. "
        "Absolute times are for information only."
    )
    print()
    print("## log redaction cost\n")
    print(_logging_table(measured, logs))
    print()
    print(_logging_verdicts(logs))
    print()
    print(
        "Added = with redaction - baseline, per round; ratio = with / without, per round, "
        f"then median [min-max] over {args.rounds} rounds. Information only: redaction runs "
        "once per log line, not per request."
    )
    busy = _busy_warning(load_before, _load())
    if busy:
        print(busy)
    print(f"Raw numbers: {path}")
    if profile is not None:
        print()
        print(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
