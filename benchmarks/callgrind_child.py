"""``python -m benchmarks.callgrind_child PROTO WARMUP COUNT VARIANT...``:
variants of "refusal instructions (callgrind)", run under valgrind by
`benchmarks.callgrind`.

For each VARIANT in turn it builds the variant (`benchmarks.refusal_apps`),
logging JSON to a file on /dev/null, makes its WARMUP + COUNT requests,
serves the first WARMUP, calls ``os.getppid()``, serves COUNT more and calls
``os.getppid()`` again. Run with ``--dump-before=getppid``, callgrind dumps
its counters at each of these calls, so dump 2k + 2 holds exactly the
instructions of the k-th variant's COUNT requests: start-up, imports,
building, warm-up and exit are left out. Nothing else calls getppid (the
parent checks that there are exactly two dumps per variant, and the final
one). A full run gives each variant a process of its own.

It prints nothing: a token must never leave.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from benchmarks.refusal_apps import PROTOCOLS, VARIANTS, build, requests_for, serve
from benchmarks.setup import json_logger

__all__ = ["main"]

_USAGE = "usage: python -m benchmarks.callgrind_child PROTO WARMUP COUNT VARIANT..."


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if (
        len(args) < 4
        or args[0] not in PROTOCOLS
        or not all(a.isdigit() for a in args[1:3])
        or not set(args[3:]) <= set(VARIANTS)
    ):
        print(_USAGE, file=sys.stderr)
        return 64
    proto, warmup, count, variants = args[0], int(args[1]), int(args[2]), args[3:]
    with open(os.devnull, "wb") as sink:
        logger = json_logger(sink)
        for variant in variants:
            app = build(proto, variant, logger)
            requests = requests_for(proto, variant, warmup + count)
            serve(proto, variant, app, requests, (warmup, warmup + count), mark=os.getppid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
