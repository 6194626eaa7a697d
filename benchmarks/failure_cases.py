"""Failure path: what authhygiene adds to a refused request, ASGI and WSGI.

The baseline is a bare app answering 401 ``text/plain`` (what a naive auth
dependency sends) to a cross-origin call carrying a Bearer JWT. Behind
authhygiene (the suite's options, ``cors=`` allowing the request's origin)
the same answer is rewritten to ``application/problem+json`` with a
challenge, ``Cache-Control: no-store`` and CORS headers, and one
`auth.failure` event is rendered as JSON and written to a real file on
/dev/null. Also judged: an app raising `AuthFailure` behind authhygiene, vs
the bare 401 app. Target: at most 12 µs added per refused request.

For information, and honesty:

- ``401_pool``: every request carries a different JWT (a pool of 4096,
  cycled; the bare baseline cycles the same pool), so that no
  per-credential cache can help;
- ``stdlib_log``: the same with structlog's stdlib-json set-up
  (`json.dumps`, a text stream) instead of the suite's orjson one.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from authhygiene import AuthHygiene, AuthHygieneWSGI
from benchmarks import asgi_kit, wsgi_kit
from benchmarks._checks import check, check_events, check_refusal, log_buffer
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.policies import cors
from benchmarks.rows import Row, RowMaker, Section, Target
from benchmarks.setup import failure_options, stdlib_json_logger
from benchmarks.workload import ORIGIN, TOKEN, Request, cors_request, token_pool

__all__ = [
    "POOL_SIZE",
    "SECTION",
    "TARGET",
    "Protocol",
    "RefusalCase",
    "auth_failure_event",
    "build",
    "protocols",
    "verify_refusal",
]

SECTION = "failure path"
TARGET = Target("<=", 12.0, "≤ 12 µs")
POOL_SIZE = 4096
# Refused requests sent to each self-check instance.
_CHECKED = 3

App = Any
Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class Protocol:
    """What differs between ASGI and WSGI for a failure benchmark."""

    name: str
    label: str
    middleware: Callable[..., App]
    unauthorized: Callable[[], App]
    raising: Callable[[], App]
    runner: Callable[[App, Sequence[Request]], Callable[[int], int]]
    exchange: Callable[[App, Request], Answer]


def protocols(ctx: Context) -> tuple[Protocol, Protocol]:
    loop = ctx.loop
    return (
        Protocol(
            "asgi",
            "ASGI",
            AuthHygiene,
            asgi_kit.unauthorized_app,
            asgi_kit.raising_app,
            lambda app, requests: asgi_kit.runner(loop, app, requests),
            lambda app, request: asgi_kit.response(asgi_kit.exchange(loop, app, request)),
        ),
        Protocol(
            "wsgi",
            "WSGI",
            AuthHygieneWSGI,
            wsgi_kit.unauthorized_app,
            wsgi_kit.raising_app,
            wsgi_kit.runner,
            wsgi_kit.exchange,
        ),
    )


@dataclass(frozen=True, slots=True)
class RefusalCase:
    """One refusing variant: its app (built per logger, so the self-check
    reads the events of an instance configured like the timed one), the
    requests it cycles through and what it must answer."""

    name: str
    what: str
    make: Callable[[Any], App]
    requests: Sequence[Request]
    status: int
    reason: str | None
    stdlib: bool = False


def _cases(proto: Protocol, pool: Sequence[Request]) -> list[RefusalCase]:
    one = [cors_request()]

    def behind(app: Callable[[], App]) -> Callable[[Any], App]:
        return lambda logger: proto.middleware(app(), **failure_options(logger, cors=cors()))

    return [
        RefusalCase(
            f"{proto.name}.401.authhygiene",
            "401 rewritten",
            behind(proto.unauthorized),
            one,
            401,
            None,
        ),
        RefusalCase(
            f"{proto.name}.raise.authhygiene",
            "AuthFailure raised by the app",
            behind(proto.raising),
            one,
            403,
            "insufficient_scope",
        ),
        RefusalCase(
            f"{proto.name}.401_pool.authhygiene",
            f"401 rewritten, {len(pool)} distinct tokens cycled",
            behind(proto.unauthorized),
            pool,
            401,
            None,
        ),
        RefusalCase(
            f"{proto.name}.401.stdlib_log",
            "401 rewritten, structlog stdlib-json logger",
            behind(proto.unauthorized),
            one,
            401,
            None,
            stdlib=True,
        ),
    ]


def verify_refusal(proto: Protocol, case: RefusalCase, timed: App) -> dict[str, object]:
    """A check instance, configured like `timed` but logging to a buffer:
    every refusal rewritten, one `auth.failure` each, no credential in the
    body or the log. Then the timed instance answers the same way."""
    if case.stdlib:
        buffer = io.BytesIO()
        logger = stdlib_json_logger(buffer)
    else:
        buffer, logger = log_buffer()
    app = case.make(logger)
    requests = [case.requests[i % len(case.requests)] for i in range(_CHECKED)]
    sent = {v.split(" ", 1)[1] for r in requests for k, v in r.headers if k == "authorization"}
    secrets = [TOKEN, *sorted(sent)]
    said: dict[str, object] = {}
    for request in requests:
        said = check_refusal(
            case.name,
            proto.exchange(app, request),
            status=case.status,
            reason=case.reason,
            origin=ORIGIN,
            secrets=secrets,
        )
    said["log_events"] = check_events(case.name, buffer, refused=len(requests), secrets=secrets)
    timed_said = check_refusal(
        case.name,
        proto.exchange(timed, requests[0]),
        status=case.status,
        reason=case.reason,
        origin=ORIGIN,
        secrets=secrets,
    )
    said["timed_instance_status"] = timed_said["status"]
    return said


def build(ctx: Context) -> Section:
    """Every variant of the section, ready to run, its self-checks passed."""
    pool = [cors_request(token) for token in token_pool(POOL_SIZE)]
    variants: list[Variant] = []
    checks: dict[str, object] = {}
    for proto in protocols(ctx):
        for bare, requests in (
            (f"{proto.name}.401.bare", [cors_request()]),
            (f"{proto.name}.401_pool.bare", pool),
        ):
            variants.append(
                Variant(
                    bare,
                    "the app alone answering 401 text/plain",
                    proto.runner(proto.unauthorized(), requests),
                )
            )
        for case in _cases(proto, pool):
            timed = case.make(ctx.stdlib_logger if case.stdlib else ctx.logger)
            checks[case.name] = verify_refusal(proto, case, timed)
            variants.append(Variant(case.name, case.what, proto.runner(timed, case.requests)))
    return Section(
        SECTION,
        tuple(variants),
        checks,
        rows,
        profiled=tuple(f"{p}.{k}.authhygiene" for p in ("asgi", "wsgi") for k in ("401", "raise")),
    )


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    out: list[Row] = []
    for proto, label in (("asgi", "ASGI"), ("wsgi", "WSGI")):
        same = (f"{proto}.401.authhygiene", f"{proto}.401.bare", "the same-token case")
        out += [
            make.added(
                f"{label}: 401 rewritten + logged",
                f"{proto}.401.authhygiene",
                f"{proto}.401.bare",
                target=TARGET,
            ),
            make.added(
                f"{label}: AuthFailure raised",
                f"{proto}.raise.authhygiene",
                f"{proto}.401.bare",
                target=TARGET,
                note="baseline: the bare app's 401",
            ),
            make.added(
                f"{label}: a different token every request",
                f"{proto}.401_pool.authhygiene",
                f"{proto}.401_pool.bare",
                versus=same,
            ),
            make.added(
                f"{label}: structlog stdlib-json logger",
                f"{proto}.401.stdlib_log",
                f"{proto}.401.bare",
                versus=same,
            ),
        ]
    return out


def auth_failure_event() -> tuple[str, dict[str, object]]:
    """The `auth.failure` event the failure variants log, as the (method,
    fields) the middleware hands to its logger: captured from a real refused
    request, so it has every field the middleware writes."""
    captured: list[tuple[str, dict[str, object]]] = []

    def capture(logger: Any, method_name: str, event_dict: Any) -> Any:
        captured.append((method_name, dict(event_dict)))
        raise structlog.DropEvent

    logger = structlog.wrap_logger(structlog.ReturnLogger(), processors=[capture])
    app = AuthHygieneWSGI(wsgi_kit.unauthorized_app(), **failure_options(logger, cors=cors()))
    wsgi_kit.exchange(app, cors_request())
    failures = [(m, e) for m, e in captured if e.get("event") == "auth.failure"]
    check(len(failures) == 1, f"expected 1 auth.failure event, got {len(failures)}")
    return failures[0]
