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
import re
import threading
import traceback
import weakref
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from authhygiene.core.credentials import key_like_user
from authhygiene.core.events import Event
from authhygiene.core.misconfig import MISCONFIG
from authhygiene.core.redact import (
    REDACTED,
    SECRET_WORD_RE,
    remember,
    scrub,
    secret_name,
)

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

# Keys whose values are ids by nature: spared the entropy test (a `kid` or a
# trace id looks random), never the other checks.
_ID_KEYS = frozenset(
    {"credential_fingerprint", "request_id", "kid", "trace_id", "span_id", "timestamp"}
)
# structlog's own bookkeeping in `ProcessorFormatter` chains: later
# processors (`add_logger_name`, `ExtraAdder`) read the LogRecord here.
_STRUCTLOG_KEYS = frozenset({"_record", "_from_structlog"})
_MAX_DEPTH = 8
# Caches hold at most _CLEAN_CACHE x _CLEAN_MAX_CHARS characters each.
_CLEAN_CACHE = 2048
_CLEAN_MAX_CHARS = 512
# A secret name is judged by its end; a longer name's start is no matter.
_KEY_NAME_CHARS = 256


@dataclass(frozen=True, slots=True)
class Redactor:
    """A structlog processor that masks secrets anywhere in an event dict.

    By name: values under keys such as `password`, `api_key`, `*_token`,
    `accessToken`, `authorization` or `cookie`, and (header, value) pairs
    naming a secret header, as tuples, lists or ASGI byte pairs. By shape,
    in every string, nested or not, exception text included: JWTs,
    `Bearer ...`/`Basic ...`, header lines, secret-named query parameters,
    well-known API key formats and long high-entropy runs. `keys` adds names
    to mask (any case); `secrets` adds values known to be secret.
    """

    keys: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()
    # Strings already found clean: log lines repeat their event names,
    # paths and user agents, and a dict lookup costs far less than a scan.
    # Only clean text is kept, and at most _CLEAN_CACHE strings.
    _clean: dict[str, None] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", frozenset(key.lower() for key in self.keys))

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        if not isinstance(event_dict, MutableMapping):
            return self.value(event_dict)
        exc_info = event_dict.pop("exc_info", None)
        if exc_info and "exception" not in event_dict:
            # Exception text is where tokens hide (a URL in a client error,
            # a header in a KeyError). Rendered here, so it is redacted.
            text = _format_exception(exc_info)
            if text:
                event_dict["exception"] = text
        field_ = self._field
        for key, value in event_dict.items():
            # Values are replaced in place; no key is added or removed here.
            if key not in _STRUCTLOG_KEYS:
                event_dict[key] = field_(key if key.__class__ is str else _name(key), value, 0)
        return event_dict

    def value(self, value: object) -> object:
        """`value` with every secret in it masked."""
        return self._walk(value, 0)

    def secret_name(self, name: str) -> bool:
        """Whether values under this key or header name are secrets."""
        return _key_kind(name) == _SECRET or (bool(self.keys) and name.lower() in self.keys)

    def _text(self, text: str, *, entropy: bool = True) -> str:
        if self.secrets or len(text) > _CLEAN_MAX_CHARS or not entropy:
            return scrub(text, self.secrets, entropy=entropy)
        if text in self._clean:
            return text
        cleaned = scrub(text)
        if cleaned == text:
            _remember(self._clean, text)
        return cleaned

    def _field(self, key: str, value: object, depth: int) -> object:
        # The hot path of every log line: cached key kinds, exact type tests.
        kind = _KEY_KINDS.get(key)
        if kind is None:
            kind = _key_kind(key)
        if kind == _SECRET or (self.keys and key.lower() in self.keys):
            if value is None or value.__class__ is bool:
                return value  # `password=None`, `api_key=False`: nothing to hide
            # A number under a secret name is a PIN, an OTP or a numeric
            # token; a count has a name of its own (`token_count`).
            return REDACTED
        if value.__class__ is str:
            return self._text(value, entropy=kind != _ID)
        if value is None or value.__class__ in _SCALARS:
            return value
        return self._walk(value, depth)

    def _walk(self, value: object, depth: int) -> object:
        if isinstance(value, str):
            return self._text(value)
        if value is None or isinstance(value, bool | int | float | logging.LogRecord):
            return value
        if depth >= _MAX_DEPTH:
            return "[redacted: nested too deep]"
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("latin-1")
            cleaned = scrub(text, self.secrets)
            return value if cleaned == text else cleaned
        if isinstance(value, Mapping):
            return {key: self._field(_name(key), item, depth + 1) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            if (
                isinstance(value, tuple | list)
                and len(items) == 2
                and isinstance(items[0], str | bytes)
                and isinstance(items[1], str | bytes)
                and self.secret_name(_name(items[0]))
            ):
                pair = [items[0], REDACTED]  # a (header, value) pair
                return tuple(pair) if isinstance(value, tuple) else pair
            walked = [self._walk(item, depth + 1) for item in items]
            return tuple(walked) if isinstance(value, tuple) else walked
        if isinstance(value, BaseException):
            return scrub(f"{type(value).__name__}: {value}", self.secrets)
        # Anything else is rendered with repr() later: look at that text.
        text = repr(value)
        cleaned = scrub(text, self.secrets)
        return value if cleaned == text else cleaned


_PLAIN, _SECRET, _ID = 0, 1, 2
_SCALARS = frozenset({int, float, bool})


# Key kinds by key: log lines repeat their keys. Keys may be a client's
# header names (a logged headers dict): bounded in bytes, long keys not kept.
_KEY_KINDS: dict[str, int] = {}
_KEY_CHARS = 64


def _key_kind(name: str) -> int:
    """Whether a key's values are secrets, ids (spared the entropy test) or
    plain; cached, as log lines repeat their keys."""
    known = _KEY_KINDS.get(name)
    if known is not None:
        return known
    if name.lower() in _ID_KEYS:
        kind = _ID
    else:
        kind = _SECRET if secret_name(name[-_KEY_NAME_CHARS:]) else _PLAIN
    remember(_KEY_KINDS, name, kind, len(name), max_chars=_KEY_CHARS, entries=_CLEAN_CACHE)
    return kind


def _remember(cache: dict[str, None], text: str) -> None:
    """Keep clean `text` in a cache bounded in bytes and entries."""
    remember(cache, text, None, len(text), max_chars=_CLEAN_MAX_CHARS, entries=_CLEAN_CACHE)


def _name(key: object) -> str:
    """A key as text: ASGI headers are bytes."""
    return key.decode("latin-1") if isinstance(key, bytes) else str(key)


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


# printf-style placeholders (`%s`, `%(name)s`, `%-5d`), kept out of the
# scrubbed template: "password=%s" must stay a template.
_PLACEHOLDER_RE = re.compile(
    r"%(?:\([^)]*\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]"
)


class RedactingFilter(logging.Filter):
    """A stdlib logging filter that masks secrets in a record's message,
    arguments and exception text, keeping their types so the server's own
    formatter (uvicorn's `AccessFormatter` unpacks the arguments) still
    works. It never drops a record."""

    def __init__(self, name: str = "", redactor: Redactor = redact) -> None:
        super().__init__(name)
        self.redactor = redactor
        # Templates found clean with their placeholders hidden (not the same
        # test as a plain string's, so not the redactor's cache).
        self._clean_templates: dict[str, None] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.redactor.secrets
        if isinstance(record.msg, str):
            # Without arguments the message is text, not a template.
            record.msg = self._template(record.msg) if record.args else scrub(record.msg, secrets)
        elif isinstance(record.msg, Mapping | list | tuple):
            record.msg = self.redactor.value(record.msg)  # masked by key too
        else:
            # An exception or a dict logged as the message renders with str().
            text = str(record.msg)
            cleaned = scrub(text, secrets)
            if cleaned != text:
                record.msg = cleaned
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(self._argument(arg) for arg in args)
        elif isinstance(args, MutableMapping):
            # gunicorn's access atoms: a dict subclass that answers "-" for
            # unknown atoms, so it is changed in place, never replaced.
            for key, value in list(args.items()):
                # `{authorization}i` is gunicorn's atom for a request header.
                name = str(key).strip("{").rsplit("}", 1)[0]
                if isinstance(value, str) and (
                    self.redactor.secret_name(name)
                    # `u` is the Basic user-id: one shaped like a key is the
                    # credential itself (`curl -u KEY:`).
                    or (name == "u" and key_like_user(value))
                ):
                    args[key] = REDACTED
                else:
                    args[key] = self._argument(value)
        self._whole_message(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info), secrets)
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        return True

    def _template(self, template: str) -> str:
        if template in self._clean_templates:
            return template  # a server's constant format string, seen before
        cleaned = _scrub_template(template, self.redactor.secrets)
        if cleaned == template and not self.redactor.secrets and len(template) <= _CLEAN_MAX_CHARS:
            _remember(self._clean_templates, template)
        return cleaned

    def _argument(self, arg: object) -> object:
        if arg is None or arg.__class__ in _SCALARS:
            return arg  # `%d` must still get a number
        text = arg if isinstance(arg, str) else str(arg)
        cleaned = self.redactor._text(text)
        return arg if cleaned == text else cleaned

    def _whole_message(self, record: logging.LogRecord) -> None:
        """A secret split between template and argument ("password=%s" with
        the password as argument) shows only in the formatted message; only
        a template that names something secret can split one."""
        if not record.args or not isinstance(record.msg, str) or not _may_join(record.msg):
            return
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return
        cleaned = scrub(message, self.redactor.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()


_MAY_JOIN: dict[str, bool] = {}


def _may_join(template: str) -> bool:
    known = _MAY_JOIN.get(template)
    if known is None:
        known = "%" in template and bool(SECRET_WORD_RE.search(template))
        remember(_MAY_JOIN, template, known, len(template), max_chars=_CLEAN_MAX_CHARS)
    return known


def _scrub_template(template: str, secrets: tuple[str, ...]) -> str:
    if "%" not in template:
        return scrub(template, secrets)
    # Each placeholder becomes "<NUL index>" while the template is scrubbed:
    # "<" ends every credential shape, and no template holds a NUL.
    placeholders: list[str] = []

    def hide(match: re.Match[str]) -> str:
        placeholders.append(match.group(0))
        return f"<\x00{len(placeholders) - 1}>"

    hidden = _PLACEHOLDER_RE.sub(hide, template)
    cleaned = scrub(hidden, secrets)
    if cleaned == hidden:
        return template
    restored = re.sub(r"<\x00(\d+)>", lambda m: placeholders[int(m.group(1))], cleaned)
    # A shape that swallowed a placeholder would leave the arguments
    # unmatched: keep the template, and let the check of the formatted
    # message mask the secret instead.
    return restored if restored.count("%") == template.count("%") else template


def redact_server_logs(
    *also: str | logging.Logger,
    names: Iterable[str] = SERVER_LOGGERS,
    redactor: Redactor = redact,
) -> RedactingFilter:
    """Attach one `RedactingFilter` to each of the servers' loggers (once:
    calling it again adds nothing) and return it.

    A filter on a logger sees the records logged on that very logger, which
    is how uvicorn, gunicorn, werkzeug and Django write their request lines.
    Call it at import time of your app module, after the server configured
    its logging (uvicorn and gunicorn configure it before importing the app).
    Name the app's own loggers too: Flask logs an unhandled exception, with
    its text, on `app.logger`, so call `redact_server_logs(app.logger)`.
    """
    attached: RedactingFilter | None = None
    loggers = [logging.getLogger(name) for name in names]
    loggers += [
        item if isinstance(item, logging.Logger) else logging.getLogger(item) for item in also
    ]
    for logger in loggers:
        for present in logger.filters:
            if isinstance(present, RedactingFilter):
                attached = present
                break
    if attached is None:
        attached = RedactingFilter(redactor=redactor)
    attached.redactor = redactor  # the latest call's keys and secrets
    for logger in loggers:
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(attached)
    return attached


class PendingCounts(Protocol):
    """What holds `auth.failure.suppressed` counts not yet written (the
    middleware's flood gate, `_runtime`)."""

    def flush(self) -> None: ...


# Every holder of counts not yet written: registered by the runtime when a
# count starts waiting, so that this module needs nothing of the runtime.
_PENDING: weakref.WeakSet[PendingCounts] = weakref.WeakSet()


def wait_for_flush(pending: PendingCounts) -> None:
    """Register counts that `flush_suppressed` must write."""
    _PENDING.add(pending)


def flush_suppressed() -> None:
    """Write every pending `auth.failure.suppressed` summary now, instead of
    when its window closes: call it on shutdown (a FastAPI lifespan's exit,
    gunicorn's `worker_exit` hook) or before reading the log in a script.
    It also runs at interpreter exit."""
    for pending in list(_PENDING):
        pending.flush()


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
    if _reported.issuperset(kinds):
        return  # the common case, every time after the first: no lock taken
    for kind in kinds:
        with _reported_lock:
            if kind in _reported:
                continue
            _reported.add(kind)
        # The table's fix, for the kinds whose fix is not obvious from the name.
        row = MISCONFIG.get(kind)
        extra: dict[str, object] = {} if row is None or row.fix is None else {"fix": row.fix}
        if "error" in fields:
            extra["error"] = fields["error"]  # a type name, never a message
        logger.warning(
            Event.MISCONFIG.value,
            kind=kind,
            path=fields.get("path"),
            status=fields.get("app_status", fields.get("status")),
            **extra,
        )
