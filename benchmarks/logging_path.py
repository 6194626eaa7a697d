"""What the log redaction costs per log line, for information.

Two places an app can put authhygiene's redaction, each measured against the
same logging set-up without it:

- structlog: the production chain ``[add_log_level, TimeStamper(fmt="iso",
  utc=True), JSONRenderer()]`` (``baseline``) vs the same chain with
  `authhygiene.logging.redact` before the renderer (``redact``), for an app's
  own event and for the `auth.failure` event the middleware writes (captured
  from a real refused request, so it has every field the middleware logs);
- stdlib logging: a uvicorn access-log record formatted by a
  `logging.StreamHandler` (``baseline``) vs the same logger with
  `authhygiene.logging.RedactingFilter` on it (``filter``), for a request line
  whose query string is harmless and for one carrying ``?access_token=<JWT>``.

Both write to a file object that discards what it gets, so no I/O is timed.
Added time is ``redacting - baseline``, and the ratio ``redacting /
baseline``, both computed per round. There is no target: redaction runs once
per log line, not once per request, and what it is worth is not a speed.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from authhygiene.logging import RedactingFilter, redact
from benchmarks._checks import check
from benchmarks._context import Context
from benchmarks._harness import Measured, Variant
from benchmarks.failure_cases import auth_failure_event
from benchmarks.rows import Row, RowMaker, Section
from benchmarks.workload import TOKEN

__all__ = ["LOGGING_COMPARISONS", "SECTION", "LoggingComparison", "build"]

SECTION = "log redaction"

# The app's own event: ids, a user name, numbers, a path and a nested dict of
# request headers -- what `redact` walks on every line when it sits in the
# app's global chain. Nothing in it is a secret.
_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
APP_EVENT = "order.created"
APP_FIELDS: dict[str, object] = {
    "order_id": "ord_48213",
    "user": "alice",
    "items": 3,
    "path": "/api/orders",
    "took_ms": 12.5,
    "headers": {"accept": "application/json", "user-agent": _USER_AGENT},
}

# uvicorn's access-log call (`uvicorn.protocols.http.h11_impl`): the request
# line arrives as arguments, the query string inside the path.
ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'
_CLIENT = "203.0.113.7:51514"
ACCESS_PATH = "/api/orders?page=2&sort=name"
TOKEN_PATH = f"/api/orders?access_token={TOKEN}"
# A common production format for stdlib logs.
_LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Discard:
    """A text file that forgets what it is given: the benchmark times
    rendering and formatting, not I/O."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None


def _chain(redacting: bool) -> list[Any]:
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if redacting:
        processors.append(redact)
    processors.append(structlog.processors.JSONRenderer())
    return processors


def structlog_logger(stream: Any, *, redacting: bool) -> Any:
    """A bound logger as a production configuration makes one (level filter,
    cached), independent of the global structlog configuration."""
    return structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=_chain(redacting),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )


def access_logger(name: str, stream: Any, *, redacting: bool) -> logging.Logger:
    """A logger of its own with one handler, not propagating: no global
    logging configuration (pytest's capture included) sees its records,
    and no other code's filters run on them."""
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.filters.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(_LINE_FORMAT))
    logger.addHandler(handler)
    if redacting:
        logger.addFilter(RedactingFilter())
    return logger


def _structlog_runner(
    logger: Any, method: str, event: str, fields: Mapping[str, object]
) -> Callable[[int], int]:
    log = getattr(logger, method)
    kwargs = dict(fields)

    def run(n: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(n):
            log(event, **kwargs)
        return time.perf_counter_ns() - start

    return run


def _access_runner(logger: logging.Logger, path: str) -> Callable[[int], int]:
    info = logger.info

    def run(n: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(n):
            info(ACCESS_FORMAT, _CLIENT, "GET", path, "1.1", 200)
        return time.perf_counter_ns() - start

    return run


@dataclass(frozen=True, slots=True)
class LoggingComparison:
    """For information: what `subject` adds over `baseline` per log line."""

    name: str
    what: str
    baseline: str
    subject: str


LOGGING_COMPARISONS = (
    LoggingComparison(
        "structlog-app", "structlog app event", "structlog.app.baseline", "structlog.app.redact"
    ),
    LoggingComparison(
        "structlog-auth-failure",
        "structlog auth.failure event",
        "structlog.auth_failure.baseline",
        "structlog.auth_failure.redact",
    ),
    LoggingComparison(
        "stdlib-access",
        "stdlib access record (?page=2&sort=name)",
        "stdlib.access.baseline",
        "stdlib.access.filter",
    ),
    LoggingComparison(
        "stdlib-access-token",
        "stdlib access record (?access_token=<JWT>)",
        "stdlib.access_token.baseline",
        "stdlib.access_token.filter",
    ),
)


def _rendered(method: str, event: str, fields: Mapping[str, object], *, redacting: bool) -> Any:
    buffer = io.StringIO()
    getattr(structlog_logger(buffer, redacting=redacting), method)(event, **fields)
    rendered = json.loads(buffer.getvalue())
    check(isinstance(rendered.pop("timestamp", None), str), f"{event} has no ISO timestamp")
    return rendered


def _formatted(logger: logging.Logger, path: str) -> str:
    """One record through the very logger that is timed, its handler
    pointed at a buffer for the moment; the message without time and name."""
    handler = logger.handlers[0]
    if not isinstance(handler, logging.StreamHandler):
        raise RuntimeError(f"benchmark self-check failed: {logger.name} has no stream handler")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        logger.info(ACCESS_FORMAT, _CLIENT, "GET", path, "1.1", 200)
    finally:
        handler.setStream(previous)
    return buffer.getvalue().split(": ", 1)[1].rstrip("\n")


def _verify(
    auth_method: str, auth_fields: Mapping[str, object], loggers: Mapping[str, logging.Logger]
) -> dict[str, object]:
    """Check, outside the timed loops, that each pair logs the same line
    where there is nothing to hide (so the redacting variant measures the
    scan, not a rewrite) and that the token is masked where there is."""
    checks: dict[str, object] = {}
    for name, method, event, fields in (
        ("structlog.app", "info", APP_EVENT, APP_FIELDS),
        ("structlog.auth_failure", auth_method, "auth.failure", auth_fields),
    ):
        plain = _rendered(method, event, fields, redacting=False)
        redacted = _rendered(method, event, fields, redacting=True)
        changed = sorted(
            k for k in plain.keys() | redacted.keys() if plain.get(k) != redacted.get(k)
        )
        check(not changed, f"{name}: redact changed {changed} in an event without secrets")
        checks[name] = {"keys": sorted(plain), "changed_by_redact": changed}

    plain_line = _formatted(loggers["stdlib.access.baseline"], ACCESS_PATH)
    check(plain_line.endswith(f'"GET {ACCESS_PATH} HTTP/1.1" 200'), "access record misformatted")
    check(
        _formatted(loggers["stdlib.access.filter"], ACCESS_PATH) == plain_line,
        "the filter changed an access record without secrets",
    )
    checks["stdlib.access"] = {"line": plain_line}
    check(
        TOKEN in _formatted(loggers["stdlib.access_token.baseline"], TOKEN_PATH),
        "the baseline access record does not carry the token",
    )
    masked = _formatted(loggers["stdlib.access_token.filter"], TOKEN_PATH)
    check(TOKEN not in masked, "the filter left the token in the access record")
    check("access_token=[redacted]" in masked, "the filter did not mask access_token")
    checks["stdlib.access_token"] = {"filtered_line": masked}
    return checks


def _close(loggers: list[logging.Logger]) -> None:
    for logger in loggers:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.filters.clear()


def build(ctx: Context) -> Section:
    """Every logging variant, ready to run, with its self-checks passed."""
    sink = _Discard()
    auth_method, auth_fields = auth_failure_event()
    auth_event = str(auth_fields.pop("event"))
    loggers = {
        f"stdlib.{case}.{kind}": access_logger(
            f"benchmarks.logging_path.{case}.{kind}", sink, redacting=kind == "filter"
        )
        for case in ("access", "access_token")
        for kind in ("baseline", "filter")
    }
    try:
        checks = _verify(auth_method, auth_fields, loggers)
    except BaseException:
        _close(list(loggers.values()))
        raise
    variants: list[Variant] = []
    structlog_cases = (
        ("app", "info", APP_EVENT, APP_FIELDS, "the app's order.created event"),
        ("auth_failure", auth_method, auth_event, auth_fields, "the middleware's auth.failure"),
    )
    for case, method, event, fields, what in structlog_cases:
        for kind, redacting in (("baseline", False), ("redact", True)):
            chain = "chain + redact" if redacting else "production chain"
            variants.append(
                Variant(
                    f"structlog.{case}.{kind}",
                    f"{what}, {chain}, JSON to a discarding file",
                    _structlog_runner(
                        structlog_logger(sink, redacting=redacting), method, event, fields
                    ),
                )
            )
    stdlib_cases = (
        ("access", ACCESS_PATH, ACCESS_PATH),
        ("access_token", TOKEN_PATH, "/api/orders?access_token=<JWT>"),
    )
    for case, path, shown in stdlib_cases:
        for kind in ("baseline", "filter"):
            name = f"stdlib.{case}.{kind}"
            with_filter = "with RedactingFilter" if kind == "filter" else "no filter"
            variants.append(
                Variant(
                    name,
                    f"uvicorn access record for {shown}, StreamHandler, {with_filter}",
                    _access_runner(loggers[name], path),
                )
            )
    return Section(
        SECTION,
        tuple(variants),
        checks,
        rows,
        close=lambda: _close(list(loggers.values())),
    )


def rows(measured: Mapping[str, Measured]) -> list[Row]:
    make = RowMaker(SECTION, measured)
    return [
        make.added(cmp.what, cmp.subject, cmp.baseline, per="log line")
        for cmp in LOGGING_COMPARISONS
    ]
