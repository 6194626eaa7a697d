"""``python -m benchmarks.verify_callgrind_child SPEC WARMUP COUNT VARIANT...``:
variants of "verify instructions (callgrind)", run under valgrind by
`benchmarks.verify_callgrind`.

SPEC is a JSON file the parent wrote (a private temporary directory): per
algorithm its kid, its verifying key as text, one token and WARMUP + COUNT
distinct ones. For each VARIANT in turn the child builds it, serves WARMUP
calls or requests, calls ``os.getppid()``, serves COUNT more and calls it
again: with ``--dump-before=getppid``, callgrind's dump 2k + 2 holds the
instructions of the k-th variant's COUNT calls and nothing else (as
`benchmarks.callgrind_child` does). Afterwards, each variant is checked
once more (a verify verified, a decode decoded, the app answered 200); a
variant that did not exits with 3.

Variants: ``empty`` (a function that does nothing), ``decode.ALG`` and
``cached.ALG`` (the same token every call), ``decode_new.ALG`` and
``first.ALG`` (a new token every call; one verifier, cache on),
``asgi.bare``, ``asgi.floor``, ``asgi.plain`` (authhygiene without
verify=), ``asgi.explain``, ``asgi.enforce`` (the HS256 token in section
9's success request; `benchmarks.refusal_apps`).

It prints nothing but the name of a variant that failed: a token must
never leave.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from authhygiene.verify import Verified
from benchmarks.verify_issuer import ALGORITHMS, decoder, public_key, verifier

__all__ = ["ASGI", "CALLS", "VARIANTS", "main"]

CALLS = ("decode", "cached", "decode_new", "first")
ASGI = ("asgi.bare", "asgi.floor", "asgi.plain", "asgi.explain", "asgi.enforce")
VARIANTS = ("empty", *(f"{c}.{a}" for a in ALGORITHMS for c in CALLS), *ASGI)
_USAGE = "usage: python -m benchmarks.verify_callgrind_child SPEC WARMUP COUNT VARIANT..."


def _noop(token: str) -> None:
    return None


def _serve(call: Callable[[str], object], tokens: Sequence[str], warmup: int) -> None:
    head, tail = list(tokens[:warmup]), list(tokens[warmup:])
    for token in head:
        call(token)
    os.getppid()
    for token in tail:
        call(token)
    os.getppid()


def _call(
    spec: dict[str, Any], variant: str, total: int
) -> tuple[Callable[[str], object], list[str]]:
    if variant == "empty":
        some = spec["algorithms"][ALGORITHMS[0]]
        return _noop, [some["token"]] * total
    kind, alg = variant.split(".")
    given = spec["algorithms"][alg]
    key = public_key(alg, given["public"])
    same = kind in ("decode", "cached")
    tokens = [given["token"]] * total if same else list(given["fresh"][:total])
    if kind.startswith("decode"):
        return decoder(alg, key), tokens
    return verifier(alg, key, given["kid"]).verify, tokens


def _asgi(spec: dict[str, Any], variant: str, warmup: int, count: int, logger: Any) -> bool:
    from authhygiene import AuthHygiene
    from benchmarks import refusal_apps
    from benchmarks.setup import failure_options

    given = spec["algorithms"]["HS256"]
    key = public_key("HS256", given["public"])
    app: Any = refusal_apps.asgi_ok
    if variant == "asgi.floor":
        app = refusal_apps.AsgiFloor(app)
    elif variant == "asgi.plain":
        app = AuthHygiene(app, **failure_options(logger, metrics=False))
    elif variant != "asgi.bare":
        mode = "enforce" if variant == "asgi.enforce" else "explain"
        jwt_ = verifier("HS256", key, given["kid"])
        app = AuthHygiene(app, **failure_options(logger, metrics=False, verify=jwt_, mode=mode))
    request = refusal_apps.scope(given["token"])
    stops = (warmup, warmup + count)
    refusal_apps.serve("asgi", "ok.authhygiene", app, [request], stops, mark=os.getppid)
    status, _headers, body = refusal_apps.exchange("asgi", app, request)
    return status == 200 and body == refusal_apps.BODY_OK


def _checked(call: Callable[[str], object], variant: str, token: str) -> bool:
    outcome = call(token)
    if variant == "empty":
        return outcome is None
    if variant.startswith("decode"):
        return isinstance(outcome, dict) and outcome.get("sub") is not None
    return isinstance(outcome, Verified)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if (
        len(args) < 4
        or not all(a.isdigit() for a in args[1:3])
        or not set(args[3:]) <= set(VARIANTS)
    ):
        print(_USAGE, file=sys.stderr)
        return 64
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    warmup, count, variants = int(args[1]), int(args[2]), args[3:]
    from benchmarks.setup import json_logger

    with open(os.devnull, "wb") as sink:
        logger = json_logger(sink)
        for variant in variants:
            if variant in ASGI:
                ok = _asgi(spec, variant, warmup, count, logger)
            else:
                call, tokens = _call(spec, variant, warmup + count)
                if len(tokens) < warmup + count:
                    print(f"{variant}: too few tokens", file=sys.stderr)
                    return 64
                _serve(call, tokens, warmup)
                ok = _checked(call, variant, tokens[-1])
            if not ok:
                print(f"{variant} did not answer as it claims", file=sys.stderr)
                return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
