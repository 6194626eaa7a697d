"""WSGI success path: `AuthHygieneWSGI` against the `start_response` floor.

The same three requests as the ASGI section, each answered by the bare app
and by the app behind:

- ``floor``: a middleware that only wraps ``start_response``;
- ``werkzeug_request``: the floor plus a werkzeug `Request(environ)` built
  per request (an anchor: what many WSGI middlewares do first);
- ``authhygiene``: `AuthHygieneWSGI` with the suite's options (``cors=`` on
  the CORS request and the preflight; information, as WSGI has no
  framework-neutral CORS layer to compare with).

Judged: authhygiene's added time on the plain request at most 1.5x the floor's.
"""

from __future__ import annotations

from collections.abc import Mapping

from authhygiene import AuthHygieneWSGI
from benchmarks import wsgi_kit
from benchmarks._checks import check
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.policies import EXPOSED, cors
from benchmarks.rows import Row, RowMaker, Section, Target
from benchmarks.workload import BODY_OK, ORIGIN, cors_request, plain_request, preflight_request

__all__ = ["SECTION", "build"]

SECTION = "WSGI success path"
FLOOR_TARGET = Target("<=", 1.5, "≤ 1.5x floor")
_REQUESTS = {"plain": plain_request(), "cors": cors_request(), "preflight": preflight_request()}


def _apps(ctx: Context) -> dict[str, tuple[wsgi_kit.WSGIApp, str]]:
    ok = wsgi_kit.ok_app
    return {
        "wsgi.plain.bare": (ok(), "the app alone, same-origin request"),
        "wsgi.plain.floor": (wsgi_kit.Floor(ok()), "do-nothing start_response wrapper"),
        "wsgi.plain.werkzeug_request": (
            wsgi_kit.WerkzeugRequestFloor(ok()),
            "start_response wrapper + werkzeug Request(environ)",
        ),
        "wsgi.plain.authhygiene": (AuthHygieneWSGI(ok(), **ctx.options()), "AuthHygieneWSGI"),
        "wsgi.cors.bare": (ok(), "the app alone, cross-origin request"),
        "wsgi.cors.authhygiene": (AuthHygieneWSGI(ok(), **ctx.options(cors=cors())), "cors="),
        "wsgi.preflight.bare": (ok(), "the app alone answering the preflight"),
        "wsgi.preflight.authhygiene": (
            AuthHygieneWSGI(ok(), **ctx.options(cors=cors())),
            "cors= answering the preflight",
        ),
    }


def _verify(apps: dict[str, wsgi_kit.WSGIApp]) -> dict[str, object]:
    checks: dict[str, object] = {}
    bare = wsgi_kit.exchange(apps["wsgi.plain.bare"], _REQUESTS["plain"])
    for name in ("wsgi.plain.floor", "wsgi.plain.werkzeug_request", "wsgi.plain.authhygiene"):
        answer = wsgi_kit.exchange(apps[name], _REQUESTS["plain"])
        check(answer == bare, f"{name} changed the response")
    status, headers, body = wsgi_kit.exchange(apps["wsgi.cors.authhygiene"], _REQUESTS["cors"])
    check((status, body) == (200, BODY_OK), "wsgi.cors.authhygiene changed the response")
    check(headers.get("access-control-allow-origin") == ORIGIN, "wsgi cors=: origin not allowed")
    exposed = headers.get("access-control-expose-headers", "").lower()
    check(EXPOSED[0].lower() in exposed, f"wsgi cors=: {EXPOSED[0]} not exposed")
    checks["wsgi.cors.authhygiene"] = {"status": status, "allow_origin": True, "exposed": exposed}
    name = "wsgi.preflight.authhygiene"
    status, headers, body = wsgi_kit.exchange(apps[name], _REQUESTS["preflight"])
    check(status in (200, 204), f"{name} answered {status}")
    check(body != BODY_OK, f"{name} let the preflight reach the app")
    check(headers.get("access-control-allow-origin") == ORIGIN, f"{name}: origin not allowed")
    checks[name] = {"status": status, "allow_methods": headers.get("access-control-allow-methods")}
    return checks


def build(ctx: Context) -> Section:
    """Every variant of the section, ready to run, its self-checks passed."""
    apps = _apps(ctx)
    checks = _verify({name: app for name, (app, _) in apps.items()})
    variants = tuple(
        Variant(name, what, wsgi_kit.runner(app, [_REQUESTS[name.split(".")[1]]]))
        for name, (app, what) in apps.items()
    )
    return Section(
        SECTION,
        variants,
        checks,
        rows,
        profiled=("wsgi.plain.authhygiene", "wsgi.cors.authhygiene"),
    )


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    return [
        make.added("floor: start_response wrapper", "wsgi.plain.floor", "wsgi.plain.bare"),
        make.ratio(
            "authhygiene, no Origin",
            "wsgi.plain.authhygiene",
            "wsgi.plain.bare",
            "wsgi.plain.floor",
            "wsgi.plain.bare",
            metric="added ratio vs floor",
            target=FLOOR_TARGET,
        ),
        make.added(
            "floor + werkzeug Request(environ)", "wsgi.plain.werkzeug_request", "wsgi.plain.bare"
        ),
        make.added("cors=, CORS request", "wsgi.cors.authhygiene", "wsgi.cors.bare"),
        make.added(
            "cors=, preflight",
            "wsgi.preflight.authhygiene",
            "wsgi.preflight.bare",
            note="added over the bare app answering the same OPTIONS request",
        ),
    ]
