"""ASGI success path: authhygiene against the floor and against Starlette's CORS layer.

Three requests (a same-origin call without ``Origin``, a cross-origin call
and its preflight), each answered by the bare app and by the app behind:

- ``floor``: a middleware that only wraps ``send`` -- the least any
  response-watching middleware costs (plain request only);
- ``authhygiene``: `AuthHygiene` with the suite's options (``cors=`` on the
  CORS request and the preflight);
- ``starlette_cors``: Starlette's `CORSMiddleware` with the same policy,
  which is what ``cors=`` replaces in a Starlette/FastAPI app;
- ``base_http``: a `BaseHTTPMiddleware` pass-through, for scale.

Judged: authhygiene's added time on the plain request at most 1.5x the
floor's; with ``cors=``, at most one third of Starlette's on the CORS
request, and on the preflight (added over the bare app answering the same
OPTIONS request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.middleware.base import BaseHTTPMiddleware

from authhygiene import AuthHygiene
from benchmarks import asgi_kit
from benchmarks._checks import check
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.policies import EXPOSED, cors, starlette_cors
from benchmarks.rows import Row, RowMaker, Section, Target
from benchmarks.workload import BODY_OK, ORIGIN, cors_request, plain_request, preflight_request

__all__ = ["SECTION", "build"]

SECTION = "ASGI success path"
FLOOR_TARGET = Target("<=", 1.5, "≤ 1.5x floor")
STARLETTE_TARGET = Target("<=", 1 / 3, "≤ 1/3 Starlette's")


async def _pass_through(request: Any, call_next: Any) -> Any:
    return await call_next(request)


def _apps(ctx: Context) -> dict[str, tuple[asgi_kit.ASGIApp, str]]:
    ok = asgi_kit.ok_app
    return {
        "asgi.plain.bare": (ok(), "the app alone, same-origin request"),
        "asgi.plain.floor": (asgi_kit.Floor(ok()), "do-nothing send wrapper"),
        "asgi.plain.authhygiene": (AuthHygiene(ok(), **ctx.options()), "AuthHygiene"),
        "asgi.plain.starlette_cors": (starlette_cors(ok()), "Starlette CORSMiddleware"),
        "asgi.plain.base_http": (
            BaseHTTPMiddleware(ok(), dispatch=_pass_through),
            "BaseHTTPMiddleware pass-through",
        ),
        "asgi.cors.bare": (ok(), "the app alone, cross-origin request"),
        "asgi.cors.authhygiene": (AuthHygiene(ok(), **ctx.options(cors=cors())), "cors="),
        "asgi.cors.starlette_cors": (starlette_cors(ok()), "Starlette CORSMiddleware"),
        "asgi.preflight.bare": (ok(), "the app alone answering the preflight"),
        "asgi.preflight.authhygiene": (
            AuthHygiene(ok(), **ctx.options(cors=cors())),
            "cors= answering the preflight",
        ),
        "asgi.preflight.starlette_cors": (
            starlette_cors(ok()),
            "Starlette CORSMiddleware answering the preflight",
        ),
    }


_REQUESTS = {"plain": plain_request(), "cors": cors_request(), "preflight": preflight_request()}


def _verify(ctx: Context, apps: dict[str, asgi_kit.ASGIApp]) -> dict[str, object]:
    """Outside the timed loops: the plain variants pass the answer through,
    the CORS layers allow the origin, and both answer the preflight
    themselves."""
    checks: dict[str, object] = {}

    def answer(name: str) -> tuple[int, dict[str, str], bytes]:
        kind = name.split(".")[1]
        return asgi_kit.response(asgi_kit.exchange(ctx.loop, apps[name], _REQUESTS[kind]))

    bare = asgi_kit.exchange(ctx.loop, apps["asgi.plain.bare"], _REQUESTS["plain"])
    for name in ("asgi.plain.floor", "asgi.plain.authhygiene"):
        sent = asgi_kit.exchange(ctx.loop, apps[name], _REQUESTS["plain"])
        check(sent == bare, f"{name} changed the response")
    for name in ("asgi.plain.starlette_cors", "asgi.plain.base_http"):
        status, _headers, body = answer(name)
        check((status, body) == (200, BODY_OK), f"{name} changed the response")
    for layer in ("authhygiene", "starlette_cors"):
        name = f"asgi.cors.{layer}"
        status, headers, body = answer(name)
        check((status, body) == (200, BODY_OK), f"{name} changed the response")
        check(headers.get("access-control-allow-origin") == ORIGIN, f"{name}: origin not allowed")
        check(headers.get("access-control-allow-credentials") == "true", f"{name}: no credentials")
        exposed = headers.get("access-control-expose-headers", "").lower()
        check(EXPOSED[0].lower() in exposed, f"{name}: {EXPOSED[0]} not exposed")
        checks[name] = {"status": status, "allow_origin": True, "exposed": exposed}
        name = f"asgi.preflight.{layer}"
        status, headers, body = answer(name)
        check(status in (200, 204), f"{name} answered {status}")
        check(body != BODY_OK, f"{name} let the preflight reach the app")
        check(headers.get("access-control-allow-origin") == ORIGIN, f"{name}: origin not allowed")
        check("GET" in headers.get("access-control-allow-methods", ""), f"{name}: GET not allowed")
        allowed = headers.get("access-control-allow-headers", "").lower()
        check("authorization" in allowed, f"{name}: Authorization not allowed")
        checks[name] = {"status": status, "allow_headers": allowed}
    return checks


def build(ctx: Context) -> Section:
    """Every variant of the section, ready to run, its self-checks passed."""
    apps = _apps(ctx)
    checks = _verify(ctx, {name: app for name, (app, _) in apps.items()})
    variants = tuple(
        Variant(name, what, asgi_kit.runner(ctx.loop, app, [_REQUESTS[name.split(".")[1]]]))
        for name, (app, what) in apps.items()
    )
    return Section(
        SECTION,
        variants,
        checks,
        rows,
        profiled=("asgi.plain.authhygiene", "asgi.cors.authhygiene", "asgi.preflight.authhygiene"),
    )


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    return [
        make.added("floor: send wrapper", "asgi.plain.floor", "asgi.plain.bare"),
        make.ratio(
            "authhygiene, no Origin",
            "asgi.plain.authhygiene",
            "asgi.plain.bare",
            "asgi.plain.floor",
            "asgi.plain.bare",
            metric="added ratio vs floor",
            target=FLOOR_TARGET,
        ),
        make.added(
            "Starlette CORSMiddleware, no Origin",
            "asgi.plain.starlette_cors",
            "asgi.plain.bare",
        ),
        make.added("BaseHTTPMiddleware pass-through", "asgi.plain.base_http", "asgi.plain.bare"),
        make.ratio(
            "cors=, CORS request",
            "asgi.cors.authhygiene",
            "asgi.cors.bare",
            "asgi.cors.starlette_cors",
            "asgi.cors.bare",
            metric="added ratio vs Starlette CORSMiddleware",
            target=STARLETTE_TARGET,
        ),
        make.added(
            "Starlette CORSMiddleware, CORS request",
            "asgi.cors.starlette_cors",
            "asgi.cors.bare",
        ),
        make.ratio(
            "cors=, preflight",
            "asgi.preflight.authhygiene",
            "asgi.preflight.bare",
            "asgi.preflight.starlette_cors",
            "asgi.preflight.bare",
            metric="added ratio vs Starlette CORSMiddleware",
            target=STARLETTE_TARGET,
            note="added over the bare app answering the same OPTIONS request",
        ),
        make.added(
            "Starlette CORSMiddleware, preflight",
            "asgi.preflight.starlette_cors",
            "asgi.preflight.bare",
        ),
    ]
