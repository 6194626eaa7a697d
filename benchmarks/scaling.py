"""Scaling: how authhygiene's added time grows with configuration and input (ASGI).

- exact-match origins in ``cors=``: 1, 10, 1000 (the request's origin listed
  last, so a scan would pay for all), on the CORS request and the
  preflight. Judged: added(1000) at most 1.25x added(1) -- an exact origin
  is a set lookup, its cost must not grow with the list;
- configured schemes: 1 (Bearer) and 3 (Bearer, Basic, ApiKey), failure path;
- request header count: 9, 40, 100, success and failure path;
- token size: the usual ~0.2 KB JWT, ~1 KB and ~8 KB, failure path.

The smallest case of each family is a variant of another section where it
is the same set-up (1 origin, 9 headers, the usual token); every row's
detail gives its added time over the smallest case's, per round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from authhygiene import AuthHygiene
from benchmarks import asgi_kit
from benchmarks._checks import check
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.failure_cases import RefusalCase, protocols, verify_refusal
from benchmarks.policies import cors
from benchmarks.rows import Row, RowMaker, Section, Target
from benchmarks.setup import failure_options
from benchmarks.workload import (
    ORIGIN,
    TOKEN,
    Request,
    cors_request,
    padded,
    plain_request,
    preflight_request,
    sized_token,
)

__all__ = ["ORIGIN_COUNTS", "SECTION", "build"]

SECTION = "scaling"
ORIGIN_COUNTS = (1, 10, 1000)
HEADER_COUNTS = (9, 40, 100)
TOKEN_SIZES = {"1k": 1024, "8k": 8192}
SCHEMES = {1: ("Bearer",), 3: ("Bearer", "Basic", "ApiKey")}
ORIGINS_TARGET = Target("<=", 1.25, "≤ 1.25x 1 origin")


def _refusing(ctx: Context, **extra: Any) -> Callable[[Any], Any]:
    return lambda logger: AuthHygiene(
        asgi_kit.unauthorized_app(), **failure_options(logger, cors=cors(), **extra)
    )


def build(ctx: Context) -> Section:
    """Every variant of the section, ready to run, its self-checks passed."""
    asgi = protocols(ctx)[0]
    loop = ctx.loop
    variants: list[Variant] = []
    checks: dict[str, object] = {}

    def add(name: str, what: str, app: Any, request: Request) -> None:
        variants.append(Variant(name, what, asgi_kit.runner(loop, app, [request])))

    def refusal(name: str, what: str, request: Request, **extra: Any) -> None:
        case = RefusalCase(name, what, _refusing(ctx, **extra), [request], 401, None)
        timed = case.make(ctx.logger)
        checks[name] = verify_refusal(asgi, case, timed)
        add(name, what, timed, request)

    for count in ORIGIN_COUNTS[1:]:
        for kind, request in (("cors", cors_request()), ("preflight", preflight_request())):
            name = f"scaling.origins{count}.{kind}"
            app = AuthHygiene(asgi_kit.ok_app(), **ctx.options(cors=cors(count)))
            start = asgi_kit.exchange(loop, app, request)[0]
            allowed = dict(start["headers"]).get(b"access-control-allow-origin")
            check(allowed == ORIGIN.encode(), f"{name} did not allow the origin")
            add(name, f"cors= with {count} exact origins, {kind}", app, request)

    for count, schemes in SCHEMES.items():
        name = f"scaling.schemes{count}.401"
        refusal(name, f"401 rewritten, schemes={schemes}", cors_request(), schemes=schemes)
        challenge = str(checks[name]["www_authenticate"])  # type: ignore[index]
        check(all(s in challenge for s in schemes), f"{name}: a scheme has no challenge")

    for count in HEADER_COUNTS[1:]:
        plain = padded(plain_request(), count)
        add(f"scaling.headers{count}.plain.bare", "the app alone", asgi_kit.ok_app(), plain)
        app = AuthHygiene(asgi_kit.ok_app(), **ctx.options())
        sent = asgi_kit.exchange(loop, app, plain)
        check(sent == asgi_kit.exchange(loop, asgi_kit.ok_app(), plain), "success changed")
        add(f"scaling.headers{count}.plain.authhygiene", f"{count} headers", app, plain)
        refused = padded(cors_request(), count)
        add(f"scaling.headers{count}.401.bare", "401 alone", asgi.unauthorized(), refused)
        refusal(f"scaling.headers{count}.401.authhygiene", f"401, {count} headers", refused)

    for label, size in TOKEN_SIZES.items():
        request = cors_request(sized_token(size))
        add(f"scaling.token{label}.401.bare", "401 alone", asgi.unauthorized(), request)
        refusal(f"scaling.token{label}.401.authhygiene", f"401, ~{label}B JWT", request)

    return Section(SECTION, tuple(variants), checks, rows)


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    out: list[Row] = []
    for kind, label in (("cors", "CORS request"), ("preflight", "preflight")):
        first = (f"asgi.{kind}.authhygiene", f"asgi.{kind}.bare")
        out.append(make.added(f"1 origin, {label}", *first, versus=(*first, "1 origin")))
        for count in ORIGIN_COUNTS[1:]:
            subject = f"scaling.origins{count}.{kind}"
            if count == ORIGIN_COUNTS[-1]:
                out.append(
                    make.ratio(
                        f"{count} origins, {label}",
                        subject,
                        first[1],
                        *first,
                        metric="added ratio vs 1 origin",
                        target=ORIGINS_TARGET,
                    )
                )
            else:
                out.append(
                    make.added(
                        f"{count} origins, {label}", subject, first[1], versus=(*first, "1 origin")
                    )
                )
    one_scheme = ("scaling.schemes1.401", "asgi.401.bare", "1 scheme")
    for count, schemes in SCHEMES.items():
        out.append(
            make.added(
                f"{count} scheme(s) ({', '.join(schemes)}), 401",
                f"scaling.schemes{count}.401",
                "asgi.401.bare",
                versus=one_scheme,
            )
        )
    for kind, label, first in (
        ("plain", "success", ("asgi.plain.authhygiene", "asgi.plain.bare")),
        ("401", "401", ("asgi.401.authhygiene", "asgi.401.bare")),
    ):
        smallest = (*first, f"{HEADER_COUNTS[0]} headers")
        out.append(make.added(f"{HEADER_COUNTS[0]} headers, {label}", *first, versus=smallest))
        for count in HEADER_COUNTS[1:]:
            out.append(
                make.added(
                    f"{count} headers, {label}",
                    f"scaling.headers{count}.{kind}.authhygiene",
                    f"scaling.headers{count}.{kind}.bare",
                    versus=smallest,
                )
            )
    usual = ("asgi.401.authhygiene", "asgi.401.bare", "the usual token")
    out.append(
        make.added("usual JWT (~0.2 KB), 401", *usual[:2], versus=usual, note=f"{len(TOKEN)} chars")
    )
    for label in TOKEN_SIZES:
        out.append(
            make.added(
                f"JWT ~{label[:-1]} KB, 401",
                f"scaling.token{label}.401.authhygiene",
                f"scaling.token{label}.401.bare",
                versus=usual,
            )
        )
    return out
