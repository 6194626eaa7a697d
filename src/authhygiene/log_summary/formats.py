"""One log line as an event dict, in whichever rendering structlog wrote it.

structlog renders an event in one of these ways, and a log may mix them
(one service in JSON, another still on the default), so each line is read
on its own. A line is a recognised prefix (`prefixes`: a container
runtime's, syslog's, stdlib logging's; nothing else), then the rendering,
which its first character names:

- ``{``: JSON (`structlog.processors.JSONRenderer`), one object.
- ``[level]``: console (`structlog.dev.ConsoleRenderer`, structlog's
  default): ``2026-12-07 06:19:21 [warning  ] auth.failure     alg=HS256
  status=401``: the time (read as a prefix), the level in brackets, the
  event padded, an optional ``[logger]``, then the other keys. The event is
  that column, never a pair: words before the pairs belong to it, so a
  message holding ``event=...`` names no other event. ANSI colours (on for
  a terminal) are stripped. A traceback follows on lines of its own (see
  `exception_start`).
- a key: key=value (`structlog.processors.KeyValueRenderer`,
  ``event='auth.failure'`` among the pairs) or logfmt
  (`structlog.processors.LogfmtRenderer`, ``event=auth.failure``), each read
  by its own quoting rules (`pairs`). The line is the one that reads it
  whole. When both do and read it differently, the line is ambiguous and
  no event: a client can choose values that read as pairs under the other
  renderer's rules (a bare ``'`` in logfmt, ``b="`` inside a repr), and
  with sorted keys, values on both sides of ``event`` can make a whole
  line read so. A logfmt reading whose name starts with ``'`` is a repr:
  no name logfmt writes.

A line whose rendering repeats a key is no event either: a renderer writes
a dict, so the second one was written by someone else. Free text before the
rendering (``INFO:app:login failed for bob event=...``, an exception's
``ValueError: ... event=...``, ``user typed {"event": ...}``) is no prefix,
so it makes no event; nor does a line that starts with a space (a
traceback's or a message's indented line).

When the event has no time of its own, the prefix's last time is used.
Values come back typed as the JSON rendering has them where the text says
so: quoted text is a string, ``True``/``False`` (logfmt: ``true``/``false``)
a bool, ``None`` (logfmt: nothing) None, a number an int or float when it
reads back exactly as written (``007`` stays text), a list, dict, tuple or
object repr None (nothing is counted from it, as from a JSON list),
anything else a string. LogfmtRenderer writes a list as its text: it is
read as text.

Bounded and linear, whatever the line holds (the reader has already cut it
at `MAX_LINE_BYTES`); see `pairs` and `prefixes`. Nothing here raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from authhygiene.log_summary.pairs import (
    MAX_PAIRS,
    console_pairs,
    key_value_pairs,
    logfmt_pairs,
)
from authhygiene.log_summary.prefixes import read_prefix

__all__ = [
    "EVENT_KEYS",
    "MAX_PAIRS",
    "TIME_KEYS",
    "Format",
    "Parsed",
    "event_name",
    "exception_line",
    "exception_start",
    "parse_line",
    "plain",
]

# Where an event's name and time are read from, first found wins.
EVENT_KEYS = ("event", "message", "msg")
TIME_KEYS = ("timestamp", "@timestamp", "time", "ts")


class Format(StrEnum):
    """The renderings a line is read in; the value is the `--json` key."""

    JSON = "json"
    CONSOLE = "console"
    KEY_VALUE = "key_value"  # KeyValueRenderer and LogfmtRenderer

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {Format.JSON: "JSON", Format.CONSOLE: "console", Format.KEY_VALUE: "key=value"}


@dataclass(frozen=True, slots=True)
class Parsed:
    format: Format
    event: dict[str, object]


def parse_line(text: str) -> Parsed | None:
    """The event on one line, or None when the line holds none."""
    line = plain(text).rstrip(" ")
    prefix = read_prefix(line)
    body = line[prefix.end :]
    if body.startswith("{"):
        return _json(body, prefix.time)
    if body.startswith("["):
        return _console(body, prefix.time)
    return _key_value(body, prefix.time)


# ANSI SGR sequences (colours, bold, dim): ConsoleRenderer's, colorama's.
_SGR_RE = re.compile(r"\x1b\[[0-9;]{0,32}+m")


def plain(text: str) -> str:
    """`text` without colour codes, line ending or byte-order mark."""
    if "\x1b" in text:
        text = _SGR_RE.sub("", text)
    return text.rstrip("\r\n").removeprefix("\ufeff")


def _json(body: str, time: str | None) -> Parsed | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    # An object without an event name is still JSON: an event of no name.
    return Parsed(Format.JSON, _timed(value, time)) if isinstance(value, dict) else None


_FAILURE = "auth.failure"


def event_name(event: Mapping[str, object]) -> str | None:
    """The event's name: `event`, else `message`, else `msg`."""
    for key in EVENT_KEYS:
        value = event.get(key)
        if isinstance(value, str):
            return value
    return None


# --- console ---------------------------------------------------------------

_LEVEL_RE = re.compile(r"\[(?P<level>[a-z]{3,9}+) {0,16}+\]")
_LEVELS = frozenset(
    {"critical", "exception", "error", "warn", "warning", "info", "debug", "notset", "fatal"}
)


def _console(body: str, time: str | None) -> Parsed | None:
    """`[level] event [logger] pairs`, or None."""
    level = _LEVEL_RE.match(body)
    if level is None or level["level"] not in _LEVELS:
        return None
    tail = console_pairs(body[level.end() :])
    if tail.repeated:
        return None
    name, logger = _event_column(tail.column)
    if not name:
        return None
    # ConsoleRenderer takes these keys out of the pairs into its columns:
    # the columns say what they are.
    event = tail.pairs
    event["event"] = name
    event["level"] = level["level"]
    if logger is not None:
        event["logger"] = logger
    return Parsed(Format.CONSOLE, _timed(event, time))


def _event_column(column: str) -> tuple[str, str | None]:
    """The event (padded) and the `[logger]` after it, when there is one."""
    start = column.rfind("[")
    logger = column[start + 1 : -1] if start > 0 and column.endswith("]") else ""
    if logger and column[start - 1].isspace() and not any(c.isspace() or c in "[]" for c in logger):
        return column[:start].rstrip(), logger
    return column, None


# --- key=value and logfmt ----------------------------------------------------


def _key_value(body: str, time: str | None) -> Parsed | None:
    event = _believed(key_value_pairs(body), logfmt_pairs(body))
    if event is None or event_name(event) is None:
        return None
    return Parsed(Format.KEY_VALUE, _timed(event, time))


def _believed(
    by_repr: dict[str, object] | None, by_logfmt: dict[str, object] | None
) -> dict[str, object] | None:
    """Which reading of a bare key=value line to believe, or None when the
    line reads as two different events."""
    if by_logfmt is not None and (event_name(by_logfmt) or "").startswith("'"):
        by_logfmt = None  # a repr()'d name (`event='auth.failure'`): KeyValueRenderer's
    if by_repr is None or event_name(by_repr) is None:
        # Every KeyValueRenderer line names its event: this is none.
        return by_logfmt
    if by_logfmt is None or by_logfmt == by_repr:
        return by_repr
    # Both renderers' rules read the whole line, as different events: one
    # of them was chosen by whoever wrote a value in it.
    return _agreed(by_repr, by_logfmt)


def _agreed(one: dict[str, object], other: dict[str, object]) -> dict[str, object] | None:
    """What two readings of one line agree on, where both read an auth
    failure: the line is one failure (whoever wrote a value that made it
    ambiguous cannot erase it), with only the fields both readings give
    alike (nor can they choose its reason, count or path). Anything else
    is not counted."""
    names = (event_name(one) or "", event_name(other) or "")
    if not all(name.startswith(_FAILURE) for name in names):
        return None
    agreed = {key: value for key, value in one.items() if key in other and other[key] == value}
    for key in EVENT_KEYS:
        agreed.pop(key, None)
    # A count one reading claims is not believed: the line is one failure.
    agreed.pop("count", None)
    agreed["event"] = _FAILURE
    return agreed


def _timed(event: dict[str, object], time: str | None) -> dict[str, object]:
    """The event, with the prefix's time when it has none of its own."""
    if time is not None and not any(key in event for key in TIME_KEYS):
        event["timestamp"] = time
    return event


# --- exception text after an event -----------------------------------------

# How the text Python or structlog writes under an event starts: a
# traceback, a stack (`stack_info=True`), an exception group, rich's box.
_TRACE_STARTS = (
    "Traceback (most recent call last):",
    "Stack (most recent call last):",
    "Exception Group Traceback (most recent call last):",
    "╭",
)
# Lines inside one besides indented ones: chained exceptions, structlog's
# separator between a stack and a traceback, rich's frame.
_TRACE_LINES = (
    *_TRACE_STARTS,
    "During handling of the above exception",
    "The above exception was the direct cause",
    "=" * 20,
    "│",
    "╰",
)
# The last line: `ValueError: bad`, `jwt.exceptions.ExpiredSignatureError: ...`.
_EXCEPTION_RE = re.compile(
    r"[A-Za-z_][\w.]{0,200}?(?:Error|Exception|Warning|Exit|Interrupt|Iteration|Group)(?::|$)"
)


def exception_start(text: str) -> bool:
    """Whether a line (colours stripped) starts the text of an exception."""
    return text.lstrip(" +|").startswith(_TRACE_STARTS)


def exception_line(text: str) -> bool:
    """Whether a line (colours stripped) may be part of an exception's text."""
    return (
        not text.strip()
        or text[0].isspace()
        or text.startswith(_TRACE_LINES)
        or _EXCEPTION_RE.match(text) is not None
    )
