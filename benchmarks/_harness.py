"""Interleaved-rounds timing, in the spirit of `timeit` but with every
variant measured in every round.

A variant is a callable ``run(n) -> elapsed_ns`` that serves ``n`` requests
and times only the request loop. Each round runs every variant once, in a
shuffled order, so a drift in CPU frequency or a noisy neighbour hits all
variants alike instead of whichever happened to run last. Ratios are then
computed per round, from numbers taken seconds apart.
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["Measured", "Variant", "calibrate", "frozen_heap", "run_rounds", "summary"]


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    description: str
    run: Callable[[int], int]


@dataclass(slots=True)
class Measured:
    variant: Variant
    iterations: int
    round_ns: list[int] = field(default_factory=list)

    @property
    def per_request_ns(self) -> list[float]:
        return [elapsed / self.iterations for elapsed in self.round_ns]


def _timed(run: Callable[[int], int], n: int) -> int:
    # As timeit does: a collection in the middle of a loop would be charged
    # to whichever variant was unlucky, so collect before and disable during.
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return run(n)
    finally:
        if was_enabled:
            gc.enable()


def calibrate(variant: Variant, target_ns: int) -> int:
    """The iteration count for which one run takes about `target_ns`
    (like `timeit.Timer.autorange`, then scaled to the target). The
    probing runs double as warm-up."""
    n = 1
    while True:
        elapsed = _timed(variant.run, n)
        if elapsed >= target_ns // 10 or n >= 10_000_000:
            break
        n *= 10 if elapsed < target_ns // 100 else 2
    return max(1, math.ceil(n * target_ns / max(elapsed, 1)))


def run_rounds(
    variants: Sequence[Variant],
    iterations: dict[str, int],
    rounds: int,
    rng: random.Random,
    slices: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Measured], list[list[list[str]]]]:
    """Every round runs each variant's `iterations` once. With `slices` > 1
    a round is cut into that many passes, each running a share of every
    variant in a new shuffled order, so a burst of noise lasting a few
    milliseconds is shared by all variants of the round instead of landing
    on one of them."""
    measured = {v.name: Measured(v, iterations[v.name]) for v in variants}
    orders: list[list[list[str]]] = []
    for index in range(rounds):
        elapsed = dict.fromkeys(measured, 0)
        passes: list[list[str]] = []
        for part in range(slices):
            order = list(variants)
            rng.shuffle(order)
            passes.append([v.name for v in order])
            for variant in order:
                total = iterations[variant.name]
                share = total // slices + (1 if part < total % slices else 0)
                if share:
                    elapsed[variant.name] += _timed(variant.run, share)
        orders.append(passes)
        for name, ns in elapsed.items():
            measured[name].round_ns.append(ns)
        if progress is not None:
            progress(index + 1)
    return measured, orders


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Move everything allocated so far out of the collector's sight
    (`gc.freeze`), so the `gc.collect()` before each timed batch costs
    microseconds instead of milliseconds; undone afterwards."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def summary(values: Sequence[float]) -> dict[str, float | None]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(finite), "min": min(finite), "max": max(finite)}
