"""Emitting the middleware's structlog events, and keeping secrets out of
every other log line.

A library never configures logging: the app's structlog configuration
decides rendering. The events we emit are already free of secrets (the core
builds them from fingerprints and redacted values only). What an app logs
itself, and what servers print in their access logs, is not: `redact` is a
structlog processor for the app's own chain, and `RedactingFilter` (with
`redact_server_logs`) does the same for stdlib logging, where uvicorn,
gunicorn, werkzeug and Django's runserver print request lines with their
query strings (`?access_token=...`).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog

from authhygiene.core.redact import REDACTED, SECRET_HEADERS, SECRET_NAME_RE, scrub

__all__ = [
    "DEFAULT_LOGGER_NAME",
    "SERVER_LOGGERS",
    "RedactingFilter",
    "Redactor",
    "default_logger",
    "emit",
    "emit_misconfig",
    "flush_suppressed",
    "redact",
    "redact_server_logs",
]

DEFAULT_LOGGER_NAME = "authhygiene"
# The loggers servers write request lines and errors to.
SERVER_LOGGERS = (
    "uvicorn.access",
    "uvicorn.error",
    "gunicorn.access",
    "gunicorn.error",
    "werkzeug",
    "django.server",
    "django.request",
    "hypercorn.access",
    "hypercorn.error",
    "granian.access",
)

# Keys whose values are ours and safe although they look like secrets to
# the entropy test (a fingerprint is hex, but a `kid` or a trace id may not be).
_SAFE_KEYS = frozenset(
    {"event", "credential_fingerprint", "request_id", "kid", "trace_id", "span_id", "timestamp"}
)
_MAX_DEPTH = 8
_MAX_ITEMS = 256


@dataclass(frozen=True, slots=True)
class Redactor:
    """A structlog processor that masks secrets anywhere in an event dict.

    By name: values under keys such as `password`, `api_key`, `*_token`,
    `authorization` or `cookie`, and header pairs naming a secret header.
    By shape, in every string, nested or not, exception text included:
    JWTs, `Bearer ...`/`Basic ...`, header lines, secret-named query
    parameters, well-known API key formats and long high-entropy runs.
    `keys` adds names to mask; `secrets` adds values known to be secret.
    """

    keys: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        if not isinstance(event_dict, MutableMapping):
            return self.value(event_dict)
        exc_info = event_dict.pop("exc_info", None)
        if exc_info and "exception" not in event_dict:
            # Exception text is where tokens hide (a URL in a client error,
            # a header in a KeyError). Rendered here, so it is redacted.
            event_dict["exception"] = _format_exception(exc_info)
        for key in list(event_dict):
            event_dict[key] = self._field(str(key), event_dict[key], 0)
        return event_dict

    def value(self, value: object) -> object:
        """`value` with every secret in it masked."""
        return self._walk(value, 0)

    def secret_name(self, name: str) -> bool:
        """Whether values under this key or header name are secrets."""
        lowered = name.lower()
        return (
            lowered in SECRET_HEADERS
            or lowered in self.keys
            or (SECRET_NAME_RE.search(name) is not None and lowered not in _SAFE_KEYS)
        )

    def _field(self, key: str, value: object, depth: int) -> object:
        if self.secret_name(key):
            if value is None or isinstance(value, bool | int | float):
                return value  # `password=None`, a count: nothing to hide
            return REDACTED
        if key in _SAFE_KEYS and isinstance(value, str):
            return scrub(value, self.secrets) if key == "event" else value
        return self._walk(value, depth)

    def _walk(self, value: object, depth: int) -> object:
        if isinstance(value, str):
            return scrub(value, self.secrets)
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth >= _MAX_DEPTH:
            return "[redacted: nested too deep]"
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("latin-1")
            cleaned = scrub(text, self.secrets)
            return value if cleaned == text else cleaned
        if isinstance(value, Mapping):
            return {
                key: self._field(str(key), item, depth + 1)
                for key, item in list(value.items())[:_MAX_ITEMS]
            }
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)[:_MAX_ITEMS]
            if (
                isinstance(value, tuple)
                and len(items) == 2
                and isinstance(items[0], str | bytes)
                and self.secret_name(
                    items[0].decode("latin-1") if isinstance(items[0], bytes) else items[0]
                )
            ):
                return (items[0], REDACTED)  # a (header, value) pair
            walked = [self._walk(item, depth + 1) for item in items]
            return tuple(walked) if isinstance(value, tuple) else walked
        if isinstance(value, BaseException):
            return scrub(f"{type(value).__name__}: {value}", self.secrets)
        # Anything else is rendered with repr() later: look at that text.
        text = repr(value)
        cleaned = scrub(text, self.secrets)
        return value if cleaned == text else cleaned


redact = Redactor()
"""The default `Redactor`: put it last before the renderer in your chain."""


def _format_exception(exc_info: object) -> str:
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif not isinstance(exc_info, tuple):
        import sys

        exc_info = sys.exc_info()
    if not isinstance(exc_info, tuple) or len(exc_info) != 3 or exc_info[0] is None:
        return ""
    return "".join(traceback.format_exception(*exc_info))


class RedactingFilter(logging.Filter):
    """A stdlib logging filter that masks secrets in a record's message,
    arguments and exception text, keeping their types so the server's own
    formatter (uvicorn's `AccessFormatter` unpacks the arguments) still
    works. It never drops a record."""

    def __init__(self, name: str = "", redactor: Redactor = redact) -> None:
        super().__init__(name)
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.redactor.secrets
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg, secrets)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(
                scrub(arg, secrets) if isinstance(arg, str) else arg for arg in args
            )
        elif isinstance(args, MutableMapping):
            # gunicorn's access atoms: a dict subclass that answers "-" for
            # unknown atoms, so it is changed in place, never replaced.
            for key, value in list(args.items()):
                if isinstance(value, str):
                    name = str(key).strip("{}").rsplit("}", 1)[0]
                    args[key] = (
                        REDACTED if self.redactor.secret_name(name) else scrub(value, secrets)
                    )
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info), secrets)
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        return True


def redact_server_logs(
    names: Iterable[str] = SERVER_LOGGERS, redactor: Redactor = redact
) -> RedactingFilter:
    """Attach one `RedactingFilter` to each of the servers' loggers (once:
    calling it again adds nothing) and return it.

    A filter on a logger sees the records logged on that very logger, which
    is how uvicorn, gunicorn, werkzeug and Django write their request lines.
    Call it at import time of your app module, after the server configured
    its logging (uvicorn and gunicorn configure it before importing the app).
    """
    attached = RedactingFilter(redactor=redactor)
    for name in names:
        logger = logging.getLogger(name)
        present = [f for f in logger.filters if isinstance(f, RedactingFilter)]
        if present:
            attached = present[0]
        else:
            logger.addFilter(attached)
    return attached


def flush_suppressed() -> None:
    """Write every pending `auth.failure.suppressed` summary now, instead of
    when its window closes: call it on shutdown (a FastAPI lifespan's exit,
    gunicorn's `worker_exit` hook) or before reading the log in a script.
    It also runs at interpreter exit."""
    from authhygiene._runtime import flush_suppressed as flush

    flush()


# What to change, for the kinds whose fix is not obvious from the name.
_FIXES = {
    "preflight_refused": "the app's auth answered a CORS preflight, which never carries"
    " credentials; put the CORS layer in front of the auth, or pass cors=CORS(...) to"
    " authhygiene, which answers preflights before the app runs",
    "cors_wildcard_with_credentials": "the app answered Access-Control-Allow-Origin: * with"
    " credentials, which browsers refuse; list the exact origins of your front ends",
    "cors_any_origin_with_credentials": "the app's CORS layer allows every origin with"
    " credentials, so it reflects any site's origin and every site can read your users'"
    " responses; list the exact origins of your front ends",
    "cors_configured_twice": "both the app's own CORS layer and authhygiene's cors= are"
    " configured; keep one (authhygiene's answers preflights before the app's auth runs)",
}

_reported: set[str] = set()
_reported_lock = threading.Lock()


def default_logger() -> Any:
    """`structlog.get_logger("authhygiene")`, bound lazily to the app's config."""
    return structlog.get_logger(DEFAULT_LOGGER_NAME)


def emit(logger: Any, level: str, event: str, fields: Mapping[str, object]) -> None:
    getattr(logger, level)(event, **fields)


def emit_misconfig(logger: Any, kinds: tuple[str, ...], fields: Mapping[str, object]) -> None:
    """Log each kind of problem with the app's own answers once per process:
    the operator needs to know it exists, not every time it happens."""
    for kind in kinds:
        with _reported_lock:
            if kind in _reported:
                continue
            _reported.add(kind)
        logger.warning(
            "auth.misconfig",
            kind=kind,
            path=fields.get("path"),
            status=fields.get("app_status", fields.get("status")),
            **({"fix": _FIXES[kind]} if kind in _FIXES else {}),
        )
