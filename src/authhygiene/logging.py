"""Emitting the middleware's structlog events.

A library never configures logging: the app's structlog configuration
decides rendering. The event dict we pass is already free of secrets (the
core builds it from fingerprints and redacted values only).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import structlog

__all__ = ["DEFAULT_LOGGER_NAME", "default_logger", "emit", "emit_misconfig"]

DEFAULT_LOGGER_NAME = "authhygiene"

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
