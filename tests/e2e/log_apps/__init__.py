"""Apps, and the log plumbing around them, for the log, metrics and flood tests.

The apps refuse the way apps commonly do (a 401 from a framework's own
exception, no or a bare challenge) and leave the rest to the middleware. The
logs are what an operator reads: structlog with a level, an ISO timestamp
and JSON rendering, one line per event, captured either in a list (servers
in a thread of the test process) or on the stdout of a server subprocess.
No redaction processor sits in these chains: what reaches the lines is what
the middleware itself wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import structlog

__all__ = [
    "BAD_TOKEN",
    "BASIC_CREDENTIAL",
    "JWT_KEY",
    "VALID_TOKEN",
    "JsonLines",
    "configure_stdout_json",
    "environ",
    "json_logger",
    "parse_json_lines",
]

# Obviously fake: a failing assertion can never show a real secret.
VALID_TOKEN = "log-apps-valid-token-not-a-secret"
BAD_TOKEN = "log-apps-rejected-token-0001"
BASIC_CREDENTIAL = "bG9nOm5vdC1hLXNlY3JldC1wdw=="  # base64("log:not-a-secret-pw")
JWT_KEY = "log-apps-throwaway-signing-key-not-a-secret"


def _process(logger: Any, method: str, event_dict: Any) -> Any:
    event_dict["pid"] = os.getpid()
    return event_dict


def _processors() -> list[Any]:
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _process,
        structlog.processors.JSONRenderer(),
    ]


class JsonLines:
    """A structlog output logger that keeps each rendered line, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []

    def msg(self, message: str) -> None:
        with self._lock:
            self._lines.append(message)

    debug = info = warning = error = critical = exception = msg

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return parse_json_lines(self.lines(), name)


def json_logger(lines: JsonLines) -> Any:
    """The `logger=` for the middleware: JSON lines into `lines`."""
    return structlog.wrap_logger(lines, processors=_processors())


def configure_stdout_json() -> None:
    """In a server subprocess: structlog's default logger (the middleware's
    when no `logger=` is given) prints one JSON line per event to stdout."""
    structlog.configure(
        processors=_processors(),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )


def parse_json_lines(lines: Iterable[str] | str, name: str | None = None) -> list[dict[str, Any]]:
    """The JSON objects among `lines` (banners and tracebacks skipped), those
    whose event is `name` when given."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    out = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and (name is None or item.get("event") == name):
            out.append(item)
    return out


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    """Environment variables for a server subprocess started inside the
    block (it copies the environment when it starts); restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
