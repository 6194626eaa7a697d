"""``python -m benchmarks.memory_child PROTO TOTAL EVERY BUDGET_S``: one
flood of "refusal flood memory", in a process of its own so that nothing
the parent holds shows in its resident memory.

It serves TOTAL refused requests through authhygiene
(`refusal_apps.flood_app`, logging JSON to a file on /dev/null), each with
its own token, path and user agent (`refusal_apps.flood_request`), reads
its resident set size (``VmRSS`` in /proc/self/status) before the first
and after every EVERY requests, and stops early at a sample when the next
EVERY requests would take it past BUDGET_S seconds. It prints one JSON
object: the samples ``[[requests, rss_kib], ...]``, the peak (``VmHWM``),
how many requests were served and in how long. Never a token.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from collections.abc import Sequence

from benchmarks.refusal_apps import PROTOCOLS, flood, flood_app, flood_request
from benchmarks.setup import json_logger

__all__ = ["main", "rss_kib"]

_USAGE = "usage: python -m benchmarks.memory_child PROTO TOTAL EVERY BUDGET_S"


def _status(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_kib() -> int:
    """The resident set size now, in KiB (the peak where /proc is missing)."""
    now = _status("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 4 or args[0] not in PROTOCOLS:
        print(_USAGE, file=sys.stderr)
        return 64
    proto, total, every, budget = args[0], int(args[1]), int(args[2]), float(args[3])
    samples: list[list[int]] = []
    started = time.monotonic()

    def mark(served: int) -> bool:
        samples.append([served, rss_kib()])
        elapsed = time.monotonic() - started
        return elapsed + elapsed / served * every <= budget

    with open(os.devnull, "wb") as sink:
        app = flood_app(proto, json_logger(sink))
        gc.collect()
        samples.append([0, rss_kib()])
        started = time.monotonic()
        stops = list(range(every, total + 1, every))
        served = flood(proto, app, lambda i: flood_request(proto, i), stops, mark)
        elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "proto": proto,
                "total": total,
                "every": every,
                "budget_s": budget,
                "served": served,
                "stopped_by_budget": served < total,
                "elapsed_s": round(elapsed, 2),
                "samples": samples,
                "hwm_kib": _status("VmHWM"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
