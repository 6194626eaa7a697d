"""Log redaction cost: what authhygiene's redaction adds to a log line that
holds no secret, against what the line costs anyway.

1. structlog: `authhygiene.logging.redact`, the processor the README puts
   last before the renderer, applied to an app's own event (``event=
   "order.created"``, an order id, a user id and plan, a path, a count, a
   float, plus the level and ISO timestamp the chain's earlier processors
   add), against rendering that event with structlog's ``JSONRenderer()``.
   Variants, each on a fresh copy of the event dict: ``copy`` (the copy
   only), ``render`` (copy + JSONRenderer), ``redact_render`` (copy + redact
   + JSONRenderer). Judged: (redact_render - render) / (render - copy),
   i.e. redact's time / the JSON rendering's time, **≤ 0.5x**.
2. stdlib logging: the `RedactingFilter` that `redact_server_logs()`
   attaches to the servers' loggers (here to a logger of the benchmark's
   own, so no server logger of this process is touched), on a clean
   access-log record shaped like uvicorn's (``'%s - "%s %s HTTP/%s" %d'``
   with its arguments), against that record's own
   ``logging.Formatter().format(record)``. Variants: ``record`` (nothing),
   ``filter``, ``format``, on the same record. Judged: (filter - record) /
   (format - record), **≤ 2x**.

For information, each again with a value that never repeats (a pool of
4096 events with their own order id, user id and path; of 4096 records with
their own client port and path): redaction remembers strings it found
clean, so a line that repeats costs less than one that does not. The pool
variants use a `Redactor()` of their own, so their strings do not evict the
default one's.

Timed like every in-process section (`_harness`): interleaved rounds,
medians of per-round ratios. Self-checks: redaction changes nothing in any
of these events or records (so the figures measure a scan, not a rewrite),
and masks a token where there is one (so it is really on).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from authhygiene.logging import RedactingFilter, Redactor, redact, redact_server_logs
from benchmarks._checks import check
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.rows import Row, RowMaker, Section, Target
from benchmarks.workload import TOKEN

__all__ = ["SECTION", "TARGET_FILTER", "TARGET_REDACT", "access_record", "app_event", "build"]

SECTION = "log redaction cost"
TARGET_REDACT = Target("<=", 0.5, "≤ 0.5x JSON render")
TARGET_FILTER = Target("<=", 2.0, "≤ 2x Formatter.format")
POOL_SIZE = 4096
_LOGGER = "benchmarks.log_redaction_cost.access"
_POOL_LOGGER = "benchmarks.log_redaction_cost.access_pool"
ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access-log call


def app_event(i: int = 48213) -> dict[str, Any]:
    """An app's own event as it reaches `redact` in the README's chain
    (after add_log_level and TimeStamper): no secret in it."""
    return {
        "event": "order.created",
        "order_id": f"ord_{i:06d}",
        "user_id": f"usr_{i * 7 % 100_000:05d}",
        "plan": "pro",
        "path": f"/api/orders/{i}",
        "items": 3 + i % 5,
        "total_eur": 12.5 + i % 100,
        "level": "info",
        "timestamp": "2026-12-06T15:04:05.123456Z",
    }


def access_record(i: int = 0, path: str = "/api/orders?page=2&sort=name") -> logging.LogRecord:
    """A uvicorn access-log record (`uvicorn.protocols.http.h11_impl`)."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "h11_impl.py",
        477,
        ACCESS_FORMAT,
        (f"203.0.113.7:{51514 + i % 10_000}", "GET", path, "1.1", 200),
        None,
    )


def _event_runner(
    events: Sequence[Mapping[str, Any]], steps: Sequence[Callable[[Any, str, Any], Any]]
) -> Callable[[int], int]:
    size = len(events)
    next_at = [0]

    def run(n: int) -> int:
        base = next_at[0]
        next_at[0] = (base + n) % size
        start = time.perf_counter_ns()
        for i in range(base, base + n):
            event = dict(events[i % size])
            for step in steps:
                event = step(None, "info", event)
        return time.perf_counter_ns() - start

    return run


def _nothing(record: logging.LogRecord) -> None:
    return None


def _record_runner(
    records: Sequence[logging.LogRecord], step: Callable[[logging.LogRecord], object]
) -> Callable[[int], int]:
    size = len(records)
    next_at = [0]

    def run(n: int) -> int:
        base = next_at[0]
        next_at[0] = (base + n) % size
        start = time.perf_counter_ns()
        for i in range(base, base + n):
            step(records[i % size])
        return time.perf_counter_ns() - start

    return run


def _detach(names: Sequence[str]) -> None:
    for name in names:
        logger = logging.getLogger(name)
        for attached in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(attached)


def _verify(
    render: Any,
    redactors: Mapping[str, Redactor],
    filters: Mapping[str, RedactingFilter],
    events: Mapping[str, Sequence[Mapping[str, Any]]],
    records: Mapping[str, Sequence[logging.LogRecord]],
) -> dict[str, object]:
    """Redaction changes nothing here, and is really on."""
    checks: dict[str, object] = {}
    for case, pool in events.items():
        redactor = redactors[case]
        for event in pool:
            plain = render(None, "info", dict(event))
            check(
                render(None, "info", redactor(None, "info", dict(event))) == plain,
                f"log redaction cost: redact changed the {case} event, which holds no secret",
            )
        masked = render(None, "info", redactor(None, "info", {**pool[0], "note": TOKEN}))
        check(TOKEN not in masked, f"log redaction cost: redact left a token in the {case} event")
        checks[f"structlog.{case}"] = {"events": len(pool), "keys": sorted(pool[0])}
    formatter = logging.Formatter()
    for case, clean in records.items():
        attached = filters[case]
        for record in clean:
            before = formatter.format(record)
            check(
                attached.filter(record), f"log redaction cost: the filter dropped a {case} record"
            )
            check(
                formatter.format(record) == before,
                f"log redaction cost: the filter changed a clean {case} record",
            )
        tokened = access_record(path=f"/api/orders?access_token={TOKEN}")
        attached.filter(tokened)
        check(
            TOKEN not in formatter.format(tokened),
            f"log redaction cost: the {case} filter left ?access_token= in the record",
        )
        checks[f"stdlib.{case}"] = {"records": len(clean), "line": formatter.format(clean[0])}
    return checks


def build(ctx: Context) -> Section:
    """Every variant of the section, its self-checks passed."""
    render = structlog.processors.JSONRenderer()
    events = {
        "same": [app_event()],
        "pool": [app_event(i) for i in range(POOL_SIZE)],
    }
    records = {
        "same": [access_record()],
        "pool": [
            access_record(i, f"/api/orders/{i}?page={1 + i % 9}&sort=name")
            for i in range(POOL_SIZE)
        ],
    }
    redactors = {"same": redact, "pool": Redactor()}
    try:
        filters = {
            "same": redact_server_logs(names=(_LOGGER,)),
            "pool": redact_server_logs(names=(_POOL_LOGGER,), redactor=redactors["pool"]),
        }
        checks = _verify(render, redactors, filters, events, records)
    except BaseException:
        _detach((_LOGGER, _POOL_LOGGER))
        raise
    formatter = logging.Formatter()
    variants: list[Variant] = []
    steps_of: dict[str, tuple[Callable[[Any, str, Any], Any], ...]] = {
        "copy": (),
        "render": (render,),
    }
    shown = {
        "copy": "dict copy",
        "render": "dict copy + JSONRenderer",
        "redact_render": "dict copy + redact + JSONRenderer",
    }
    for case, what in (("same", "the same event"), ("pool", f"{POOL_SIZE} distinct events")):
        for kind in ("copy", "render", "redact_render"):
            steps = steps_of.get(kind, (redactors[case], render))
            variants.append(
                Variant(
                    f"redaction_cost.event.{case}.{kind}",
                    f"order.created, {what}: {shown[kind]}",
                    _event_runner(events[case], steps),
                )
            )
    for case, what in (("same", "the same record"), ("pool", f"{POOL_SIZE} distinct records")):
        pool_records = records[case]
        for kind, step in (
            ("record", _nothing),
            ("filter", filters[case].filter),
            ("format", formatter.format),
        ):
            variants.append(
                Variant(
                    f"redaction_cost.access.{case}.{kind}",
                    f"uvicorn access record, {what}: {kind}",
                    _record_runner(pool_records, step),
                )
            )
    return Section(
        SECTION,
        tuple(variants),
        checks,
        rows,
        close=lambda: _detach((_LOGGER, _POOL_LOGGER)),
    )


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    out: list[Row] = []
    for case, label, target in (
        ("same", "structlog app event: redact / JSON render", TARGET_REDACT),
        ("pool", f"structlog app event, {POOL_SIZE} distinct: redact / JSON render", None),
    ):
        name = f"redaction_cost.event.{case}"
        out.append(
            make.ratio(
                label,
                f"{name}.redact_render",
                f"{name}.render",
                f"{name}.render",
                f"{name}.copy",
                metric="redact's time / JSONRenderer's",
                target=target,
            )
        )
    for case, label, target in (
        ("same", "access record: RedactingFilter / Formatter.format", TARGET_FILTER),
        ("pool", f"access record, {POOL_SIZE} distinct: RedactingFilter / format", None),
    ):
        name = f"redaction_cost.access.{case}"
        out.append(
            make.ratio(
                label,
                f"{name}.filter",
                f"{name}.record",
                f"{name}.format",
                f"{name}.record",
                metric="the filter's time / Formatter.format's",
                target=target,
            )
        )
    return out
