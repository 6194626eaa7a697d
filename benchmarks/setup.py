"""What every benchmark that refuses a request configures the same way: the
logger the failure variants write their `auth.failure` event with, and the
middleware's options.

The logger is structlog's own recommendation for production speed
(structlog's "Performance" docs): a `BytesLogger` on a real file, rendering
with `JSONRenderer(serializer=orjson.dumps)` when orjson is installed, else
the stdlib `json.dumps` through `PrintLogger`, and the bound logger cached on
first use (`cache_logger_on_first_use=True`). `log_limit=None` writes every
event: a flood's suppression path would be cheaper and flatter the figures.
"""

from __future__ import annotations

import importlib.util
from typing import Any, BinaryIO

import structlog

__all__ = ["HAS_ORJSON", "REALM", "failure_options", "json_logger", "stdlib_json_logger"]

REALM = "api"
HAS_ORJSON = importlib.util.find_spec("orjson") is not None


def stdlib_json_logger(stream: BinaryIO) -> Any:
    """structlog's default JSON set-up: `json.dumps`, text written to `stream`."""
    import io

    text = io.TextIOWrapper(stream, encoding="utf-8", write_through=True)
    return structlog.wrap_logger(
        structlog.PrintLogger(text),
        processors=[structlog.processors.JSONRenderer()],
        cache_logger_on_first_use=True,
    )


def json_logger(stream: BinaryIO) -> Any:
    """A structlog logger rendering one JSON line per event to `stream`
    (a binary file), independent of the global structlog configuration."""
    if not HAS_ORJSON:
        return stdlib_json_logger(stream)
    import orjson

    return structlog.wrap_logger(
        structlog.BytesLogger(stream),
        processors=[structlog.processors.JSONRenderer(serializer=orjson.dumps)],
        cache_logger_on_first_use=True,
    )


def failure_options(logger: Any, **extra: Any) -> dict[str, Any]:
    """The options of every authhygiene variant in the suite."""
    return {"realm": REALM, "logger": logger, "log_limit": None, **extra}
