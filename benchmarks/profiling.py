"""``--profile``: where the authhygiene variants spend their time.

After the timed rounds, each profiled variant (the success and failure
variants of authhygiene) serves its batch again under a profiler:
cProfile by default (deterministic, every call counted, but slows small
functions down), or pyinstrument (``--profile-with pyinstrument``, from
PyPI: sampling, so the proportions are closer to the real ones).
Profiles name functions, never arguments: no credential can appear.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Mapping, Sequence

from benchmarks._harness import Variant

__all__ = ["PROFILERS", "profile"]

PROFILERS = ("cprofile", "pyinstrument")
# A sampling profiler needs a longer run than one timed batch to say much.
_SAMPLED_BATCHES = 10


def _cprofile(variant: Variant, n: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    variant.run(n)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(15)
    return stream.getvalue()


def _pyinstrument(variant: Variant, n: int) -> str:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0001)
    profiler.start()
    variant.run(n)
    profiler.stop()
    return profiler.output_text(unicode=True, color=False)


def profile(
    variants: Sequence[Variant], names: Sequence[str], iterations: Mapping[str, int], tool: str
) -> str:
    """A markdown section per profiled variant."""
    by_name = {v.name: v for v in variants}
    out = []
    for name in names:
        variant = by_name[name]
        if tool == "pyinstrument":
            n = iterations[name] * _SAMPLED_BATCHES
            text = _pyinstrument(variant, n)
        else:
            n = iterations[name]
            text = _cprofile(variant, n)
        out.append(f"### {tool}: {name} ({variant.description}), {n} requests\n\n```\n{text}```")
    return "\n\n".join(out)
