"""One log line as an event dict, in whichever rendering structlog wrote it.

structlog renders an event in one of these ways, and a log may mix them
(one service in JSON, another still on the default), so each line is read
on its own:

- JSON (`structlog.processors.JSONRenderer`): one object a line, read from
  its first ``{`` (a container runtime's timestamp or a syslog header may
  come first).
- console (`structlog.dev.ConsoleRenderer`, structlog's default):
  ``2026-12-07 06:19:21 [warning  ] auth.failure     alg=HS256 status=401``:
  a timestamp and the level in brackets, the event padded, an optional
  ``[logger]``, then the other keys sorted. ANSI colours (on for a terminal)
  are stripped. A string is written bare unless it holds a space, tab,
  ``=``, a quote or a line break, then as ``repr()`` (``path='/a b'``);
  other values as ``repr()``: ``True``, ``None``, ``-30``, ``['Bearer']``.
  A traceback follows on lines of its own (see `exception_start`).
- key=value (`structlog.processors.KeyValueRenderer`): ``key=repr(value)``
  in the event dict's order, ``event='auth.failure'`` among them.
- logfmt (`structlog.processors.LogfmtRenderer`): ``key=value``, the value
  in ``"..."`` with ``\\"`` escapes when it holds a space, ``=`` or ``"``;
  ``true``/``false``; a true flag written as the bare key; None as ``key=``.
  Counted with key=value: a line is one of the two when it has an
  ``event=`` (or ``message=``, ``msg=``) pair.

Text before the structlog part (``INFO:authhygiene:``, ``2026-12-07
06:19:21,123 WARNING authhygiene``, a container runtime's timestamp) is
skipped; when the line has no time of its own, a timestamp at the start or
end of that prefix is used.

Values come back typed as the JSON rendering has them where the text says
so: quoted text is a string, bare ``True``/``true``/``False``/``false`` a
bool, ``None`` or nothing None, a number an int or float when it reads back
exactly as written (``007`` stays text), a list, dict, tuple or object repr
None (nothing is counted from it, as from a JSON list), anything else a
string.

Bounded and linear, whatever the line holds (the reader has already cut it
at `MAX_LINE_BYTES`): every pattern consumes its run once (possessive
quantifiers, no nested repetition to backtrack into); a line gives at most
`MAX_PAIRS` pairs; a quote left open ends the line's pairs; a bracket left
open turns bracket reading off for the rest of its line, so no later value
scans to the end again. Nothing here raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from authhygiene.log_summary.times import MAX_TIME_CHARS, parse_time

__all__ = [
    "EVENT_KEYS",
    "MAX_PAIRS",
    "TIME_KEYS",
    "Format",
    "Parsed",
    "exception_line",
    "exception_start",
    "parse_line",
    "plain",
]

# Where an event's name and time are read from, first found wins.
EVENT_KEYS = ("event", "message", "msg")
TIME_KEYS = ("timestamp", "@timestamp", "time", "ts")
MAX_PAIRS = 128


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
    found = _json_object(text)
    if found is not None and _named(found):
        return Parsed(Format.JSON, found)
    # A JSON object without an event name may be a value at the end of a
    # console or key=value line (`extra={"a": 1}`): the line's own event wins.
    parsed = _text_event(plain(text).strip())
    if parsed is not None and (found is None or _named(parsed.event)):
        return parsed
    return None if found is None else Parsed(Format.JSON, found)


# ANSI SGR sequences (colours, bold, dim): ConsoleRenderer's, colorama's.
_SGR_RE = re.compile(r"\x1b\[[0-9;]{0,32}+m")


def plain(text: str) -> str:
    """`text` without colour codes, line ending or byte-order mark."""
    if "\x1b" in text:
        text = _SGR_RE.sub("", text)
    return text.rstrip("\r\n").removeprefix("\ufeff")


def _json_object(text: str) -> dict[str, object] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(text[start:])
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _named(event: dict[str, object]) -> bool:
    return any(isinstance(event.get(key), str) for key in EVENT_KEYS)


# --- key=value pairs ---------------------------------------------------------

# A key starts the line or follows whitespace or a colon (a stdlib prefix
# such as `INFO:authhygiene:`); its value is a '...' or "..." string with
# backslash escapes (repr, logfmt), or a bare run up to whitespace.
_PAIR_RE = re.compile(
    r"(?<![^\s:])(?P<key>[A-Za-z_@][\w.@-]{0,63}+)="
    r"""(?:'(?P<single>(?:[^'\\]|\\.)*+)'|"(?P<double>(?:[^"\\]|\\.)*+)"|(?P<bare>[^\s'"]\S*+))?""",
    re.DOTALL,
)
_KEY_RE = re.compile(r"[A-Za-z_@][\w.@-]{0,63}+")
# A repr that spans spaces: a list, dict, tuple or set, or an object's
# constructor (`datetime.datetime(2026, 12, 7, 6, 19)`, `UUID('...')`).
_OPENERS = "[({"
_CALL_RE = re.compile(r"[A-Za-z_][\w.]{0,100}+[(\[{]")
_PIECE_RE = re.compile(r"""[^'"\[\](){}]++|'(?:[^'\\]|\\.)*+'|"(?:[^"\\]|\\.)*+"|.""", re.DOTALL)
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"', "0": "\0"}
_NUMBER_RE = re.compile(r"-?[0-9]{1,20}+(?P<float>(?:\.[0-9]{1,20}+)?(?:e[+-]?[0-9]{1,3}+)?)")
_WORDS: dict[str, object] = {
    "": None,
    "None": None,
    "True": True,
    "true": True,
    "False": False,
    "false": False,
}


@dataclass(slots=True)
class _Scan:
    pairs: dict[str, object]
    first: int  # where the first pair starts; the line's length when none


def _scan(text: str) -> _Scan:
    """Every key=value pair on the line, the first of a key winning, and
    the bare words between pairs as true flags (logfmt)."""
    pairs: dict[str, object] = {}
    first, pos, brackets = len(text), 0, True
    while len(pairs) < MAX_PAIRS:
        match = _PAIR_RE.search(text, pos)
        if match is None:
            _flags(text[pos:] if pairs else "", pairs)
            break
        if first == len(text):
            first = match.start()
        else:
            _flags(text[pos : match.start()], pairs)
        pos = match.end()
        quoted = match["single"] if match["single"] is not None else match["double"]
        if quoted is not None:
            # A quote closed mid-word is no value a renderer writes.
            if pos == len(text) or text[pos].isspace():
                pairs.setdefault(match["key"], _unescape(quoted))
        elif match["bare"] is not None:
            value, pos, brackets = _bare(text, match.start("bare"), match["bare"], brackets)
            pairs.setdefault(match["key"], value)
        elif pos < len(text) and text[pos] in "'\"":
            break  # a quote left open: the rest of the line is inside it
        else:
            pairs.setdefault(match["key"], None)
    return _Scan(pairs, first)


def _flags(gap: str, pairs: dict[str, object]) -> None:
    for word in gap.split():
        if len(pairs) >= MAX_PAIRS:
            return
        if _KEY_RE.fullmatch(word):
            pairs.setdefault(word, True)


def _bare(text: str, start: int, token: str, brackets: bool) -> tuple[object, int, bool]:
    """A bare value, its end, and whether brackets may still be read."""
    if brackets and (token[0] in _OPENERS or _CALL_RE.match(token)):
        end = _bracket_end(text, start)
        if end is not None:
            return None, end, True
        brackets = False
    return _scalar(token), start + len(token), brackets


def _bracket_end(text: str, start: int) -> int | None:
    """Where the brackets opened at `start` close (quotes inside skipped),
    or None when they never do or a quote inside is left open."""
    depth, pos = 0, start
    while pos < len(text):
        match = _PIECE_RE.match(text, pos)
        if match is None:  # the last alternative takes any character
            return None
        piece, pos = match.group(), match.end()
        if piece in _OPENERS:
            depth += 1
        elif piece in ("]", ")", "}"):
            depth -= 1
            if depth <= 0:
                return pos
        elif piece in ("'", '"'):
            return None
    return None


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE_RE.sub(_unescaped, text)


def _unescaped(match: re.Match[str]) -> str:
    code = match.group(1)
    if len(code) > 1:
        number = int(code[1:], 16)
        return chr(number) if number <= 0x10FFFF else match.group()
    return _ESCAPES.get(code, match.group())


def _scalar(token: str) -> object:
    if token in _WORDS:
        return _WORDS[token]
    number = _NUMBER_RE.fullmatch(token)
    if number is None:
        return token
    value = float(token) if number["float"] else int(token)
    # Only what reads back as written is a number: `007` or `1.50` were text.
    return value if repr(value) == token else token


# --- console and key=value lines -------------------------------------------

_LEVEL_RE = re.compile(r"\[(?P<level>[a-z]{3,9}+) {0,16}+\]")
_LEVELS = frozenset(
    {"critical", "exception", "error", "warn", "warning", "info", "debug", "notset", "fatal"}
)
# A time in a prefix: ISO 8601 as TimeStamper, stdlib's asctime and
# container runtimes write it (`2026-12-07 06:19:21,123`,
# `2026-12-07T06:19:21.123456789Z`), or epoch seconds from 2001 on (a
# smaller number there is a pid or a counter).
_TIME_TEXT = (
    r"(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
    r"|[0-9]{10,11}(?:\.[0-9]{1,9})?)"
)
_TIME_AT_END = re.compile(_TIME_TEXT + r"\]?$")
_TIME_AT_START = re.compile(r"\[?" + _TIME_TEXT + r"(?![0-9])")
_TIME_WINDOW = MAX_TIME_CHARS  # a time is looked for this near either end


def _text_event(text: str) -> Parsed | None:
    scan = _scan(text)
    if scan.pairs.get("event") is not None:
        return Parsed(Format.KEY_VALUE, _timed(scan.pairs, text[: scan.first]))
    console = _console(text[: scan.first], scan.pairs)
    if console is not None:
        return console
    if any(scan.pairs.get(key) is not None for key in EVENT_KEYS):
        return Parsed(Format.KEY_VALUE, _timed(scan.pairs, text[: scan.first]))
    return None


def _console(head: str, pairs: dict[str, object]) -> Parsed | None:
    """`[timestamp] [level] event [logger]` before the pairs, or None."""
    level = None
    for match in _LEVEL_RE.finditer(head):
        if match["level"] in _LEVELS:
            level = match
    if level is None:
        return None
    name, logger = _event_column(head[level.end() :])
    if not name:
        return None
    event = dict(pairs)
    event["event"] = name
    event.setdefault("level", level["level"])
    if logger is not None:
        event.setdefault("logger", logger)
    return Parsed(Format.CONSOLE, _timed(event, head[: level.start()]))


def _event_column(rest: str) -> tuple[str, str | None]:
    """The event (padded) and the `[logger]` after it, when there is one."""
    rest = rest.strip()
    start = rest.rfind("[")
    logger = rest[start + 1 : -1] if start > 0 and rest.endswith("]") else ""
    if logger and rest[start - 1].isspace() and not any(c.isspace() or c in "[]" for c in logger):
        return rest[:start].rstrip(), logger
    return rest, None


def _timed(event: dict[str, object], prefix: str) -> dict[str, object]:
    """The event, with a time from the text before it when it has none."""
    if not any(key in event for key in TIME_KEYS):
        moment = _prefix_time(prefix)
        if moment is not None:
            event["timestamp"] = moment
    return event


def _prefix_time(prefix: str) -> str | None:
    """A timestamp ending the prefix (structlog's own column, nearest the
    event) or starting it (a stdlib or container format), as written."""
    prefix = prefix.strip()
    for match in (
        _TIME_AT_END.search(prefix[-_TIME_WINDOW:]),
        _TIME_AT_START.match(prefix[:_TIME_WINDOW]),
    ):
        if match is not None and parse_time(match["time"]) is not None:
            return match["time"]
    return None


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
