"""Anchors: what everyday operations on the failure path cost, for scale.

Information only, so that a reader can set our added µs against them:
encoding a problem body with `json.dumps` and with `orjson.dumps`, and
rendering the `auth.failure` event to JSON with the suite's structlog
logger (orjson, `BytesLogger`) and with structlog's stdlib-json set-up
(`json.dumps`, `PrintLogger`), both writing to a real file on /dev/null.
Each is timed in a loop against the same loop calling a function that does
nothing, so the figure is the operation's own cost per call.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from authhygiene import AuthHygieneWSGI
from benchmarks import wsgi_kit
from benchmarks._checks import check, events, log_buffer
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.failure_cases import auth_failure_event
from benchmarks.policies import cors
from benchmarks.rows import Row, RowMaker, Section
from benchmarks.setup import failure_options
from benchmarks.workload import TOKEN, cors_request

__all__ = ["SECTION", "build"]

SECTION = "anchors"
HAS_ORJSON = importlib.util.find_spec("orjson") is not None


def _loop(call: Callable[[], object]) -> Callable[[int], int]:
    def run(n: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        return time.perf_counter_ns() - start

    return run


def _noop() -> None:
    return None


def _problem() -> dict[str, Any]:
    """The problem body the failure path sends, from a real refusal."""
    _buffer, logger = log_buffer()
    app = AuthHygieneWSGI(wsgi_kit.unauthorized_app(), **failure_options(logger, cors=cors()))
    _status, _headers, body = wsgi_kit.exchange(app, cors_request())
    problem: dict[str, Any] = json.loads(body)
    return problem


def build(ctx: Context) -> Section:
    """Every variant of the section, ready to run, its self-checks passed."""
    problem = _problem()
    method, fields = auth_failure_event()
    event = str(fields.pop("event"))
    calls: dict[str, tuple[str, Callable[[], object]]] = {
        "anchor.empty": ("a call to a function that does nothing", _noop),
        "anchor.json_dumps": ("json.dumps(problem body)", lambda: json.dumps(problem)),
    }
    if HAS_ORJSON:
        import orjson

        check(orjson.loads(orjson.dumps(problem)) == problem, "orjson round trip")
        calls["anchor.orjson_dumps"] = ("orjson.dumps(problem body)", lambda: orjson.dumps(problem))
    check(json.loads(json.dumps(problem)) == problem, "json round trip")
    for name, logger, what in (
        ("anchor.structlog_setup", ctx.logger, "the suite's structlog logger"),
        ("anchor.structlog_stdlib", ctx.stdlib_logger, "structlog's stdlib-json set-up"),
    ):
        call = functools.partial(getattr(logger, method), event, **fields)
        calls[name] = (f"auth.failure rendered by {what}", call)
    buffer, logger = log_buffer()
    getattr(logger, method)(event, **fields)
    rendered = events(buffer)
    check(len(rendered) == 1 and rendered[0].get("event") == "auth.failure", "event not rendered")
    check(TOKEN not in buffer.getvalue().decode(), "the event carries the credential")
    checks = {"problem_keys": sorted(problem), "event_keys": sorted(rendered[0])}
    variants = tuple(Variant(name, what, _loop(call)) for name, (what, call) in calls.items())
    return Section(SECTION, variants, checks, rows)


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    cases = [
        ("json.dumps, problem body", "anchor.json_dumps"),
        ("orjson.dumps, problem body", "anchor.orjson_dumps"),
        ("structlog JSON event, suite's logger", "anchor.structlog_setup"),
        ("structlog JSON event, stdlib json", "anchor.structlog_stdlib"),
    ]
    return [
        make.added(case, name, "anchor.empty", per="call")
        for case, name in cases
        if name in measured
    ]
