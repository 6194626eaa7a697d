"""The text a logging setup writes before structlog's part of a line.

A line is an event only when nothing but these pieces comes before the
rendering, each exactly as its writer writes it and where its writer puts
it (`_RULES`, tried in order, at most `MAX_PIECES` of them). Free text
before the pairs or the JSON object (a message such as ``login failed for
bob event=auth.failure ...``, or a traceback's last line) is no prefix, so
a line holding it is no event: what a client chose cannot pass for one.

- container runtime (CRI): ``2026-12-07T06:19:21.123456789Z stdout F ``;
- docker compose: ``web-1  | `` at the start of the line, then perhaps a
  pid;
- syslog: ``Dec  7 06:19:21 host app[123]: `` (or an ISO time first, as
  ``journalctl -o short-iso`` writes it);
- stdlib logging's default format: ``WARNING:authhygiene:``;
- a time: ISO 8601 as TimeStamper, stdlib's asctime and container runtimes
  write it (``2026-12-07 06:19:21,123``, ``2026-12-07T06:19:21.123Z``), in
  brackets or not, epoch seconds from 2001 on, or a time of day;
- a level in capitals (``WARNING``, ``[INFO]``, ``INFO:``); after a time
  and a level, one logger name (``... WARNING authhygiene ``); after a
  time, ``- authhygiene - WARNING - `` (the logging cookbook's format);
- ``- `` or ``| `` after a time or a level.

The last time read from the prefix (the one nearest the event, as a
console rendering's own time column after a runtime's) is returned, as
written, for events that carry no time of their own. Every pattern is
anchored, bounded and possessive: the prefix costs the same whatever
follows it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from authhygiene.log_summary.times import parse_time

__all__ = ["MAX_PIECES", "Prefix", "read_prefix"]

MAX_PIECES = 8


class _Piece(StrEnum):
    START = "start"  # the start of the line: not a piece, where rules anchor
    COMPOSE = "compose"
    TIME = "time"
    STREAM = "stream"
    SYSLOG_TIME = "syslog time"
    SYSLOG_TAG = "syslog tag"
    NUMBER = "number"
    STDLIB = "stdlib"
    LEVEL = "level"
    NAME = "name"
    DASHED = "dashed"
    SEPARATOR = "separator"


@dataclass(frozen=True, slots=True)
class _Rule:
    piece: _Piece
    pattern: re.Pattern[str]
    # The pieces this one may come right after (each tuple the end of what
    # was read so far); empty: after anything.
    follows: tuple[tuple[_Piece, ...], ...]
    once: bool
    source: str


@dataclass(frozen=True, slots=True)
class Prefix:
    """Where structlog's part of a line starts, and the time read before it."""

    end: int
    time: str | None


_LEVELS = r"(?:CRITICAL|FATAL|ERROR|EXCEPTION|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)"
_NAME = r"[A-Za-z_][\w.-]{0,127}+"
_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
# Epoch seconds from 2001 on (TimeStamper(fmt=None)); a smaller number is
# a pid or a counter.
_EPOCH = r"[0-9]{10,11}(?:\.[0-9]{1,9})?"
_CLOCK = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?"
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"

_S, _T = _Piece.START, _Piece.TIME
_RULES = (
    _Rule(
        _Piece.COMPOSE,
        re.compile(r"[A-Za-z0-9][\w.-]{0,63}+ {1,32}+\| "),
        ((_S,),),
        once=True,
        source="docker compose logs",
    ),
    _Rule(
        _Piece.TIME,
        re.compile(r"\[?(?:(?P<time>" + _ISO + "|" + _EPOCH + ")|" + _CLOCK + r")\]? "),
        (),
        once=False,
        source="TimeStamper, stdlib asctime, container runtimes",
    ),
    _Rule(
        _Piece.STREAM,
        re.compile(r"(?:stdout|stderr) [FP] "),
        ((_S, _T), (_S, _Piece.COMPOSE, _T)),
        once=True,
        source="CRI container log format (Kubernetes)",
    ),
    _Rule(
        _Piece.SYSLOG_TIME,
        re.compile(_MONTHS + r" [ 0-3][0-9] " + _CLOCK + " "),
        ((_S,), (_S, _Piece.COMPOSE)),
        once=True,
        source="RFC 3164 syslog, journalctl",
    ),
    _Rule(
        _Piece.SYSLOG_TAG,
        re.compile(r"[\w.-]{1,64}+ [\w./-]{1,64}+(?:\[[0-9]{1,10}+\])?: "),
        (
            (_S, _Piece.SYSLOG_TIME),
            (_S, _T),
            (_S, _Piece.COMPOSE, _Piece.SYSLOG_TIME),
            (_S, _Piece.COMPOSE, _T),
        ),
        once=True,
        source="RFC 3164 syslog, journalctl: host tag[pid]",
    ),
    _Rule(
        _Piece.NUMBER,
        re.compile(r"\[?[0-9]{1,20}+\]? "),
        ((_Piece.COMPOSE,), (_Piece.STREAM,), (_T,), (_Piece.SYSLOG_TAG,)),
        once=True,
        source="a pid or a counter",
    ),
    _Rule(
        _Piece.STDLIB,
        re.compile(_LEVELS + ":" + r"[\w.-]{0,128}+:"),
        (),
        once=True,
        source="logging.BASIC_FORMAT: %(levelname)s:%(name)s:",
    ),
    _Rule(
        _Piece.LEVEL,
        re.compile(r"(?:\[" + _LEVELS + r"\]|" + _LEVELS + ":?) {1,8}+"),
        (),
        once=True,
        source="%(levelname)s",
    ),
    _Rule(
        _Piece.NAME,
        re.compile(r"(?:\[" + _NAME + r"\]|in " + _NAME + ":|" + _NAME + ":?) "),
        ((_T, _Piece.LEVEL),),
        once=True,
        source=(
            "%(asctime)s %(levelname)s %(name)s, [%(name)s], and Flask's"
            " [%(asctime)s] %(levelname)s in %(module)s:"
        ),
    ),
    _Rule(
        _Piece.DASHED,
        re.compile(r"- " + _NAME + " - " + _LEVELS + " - "),
        ((_T,),),
        once=True,
        source="%(asctime)s - %(name)s - %(levelname)s - (the logging cookbook)",
    ),
    _Rule(
        _Piece.SEPARATOR,
        re.compile(r"[-|] "),
        ((_T,), (_Piece.LEVEL,)),
        once=False,
        source="separators between a time and a level",
    ),
)


def read_prefix(text: str) -> Prefix:
    """The recognised pieces at the start of `text`: where they end and the
    last time among them."""
    read: tuple[_Piece, ...] = (_Piece.START,)
    pos, time = 0, None
    while len(read) <= MAX_PIECES:
        found = _next_piece(text, pos, read)
        if found is None:
            break
        rule, match = found
        read += (rule.piece,)
        pos = match.end()
        if rule.piece is _Piece.TIME and match["time"] and parse_time(match["time"]) is not None:
            time = match["time"]
    return Prefix(pos, time)


def _next_piece(
    text: str, pos: int, read: tuple[_Piece, ...]
) -> tuple[_Rule, re.Match[str]] | None:
    for rule in _allowed(read):
        match = rule.pattern.match(text, pos)
        if match is not None:
            return rule, match
    return None


@functools.lru_cache(maxsize=256)
def _allowed(read: tuple[_Piece, ...]) -> tuple[_Rule, ...]:
    """The rules that may come after the pieces `read`. A log repeats a few
    layouts; a hostile one can reach some 25,000 sequences, so the cache is
    bounded."""
    return tuple(
        rule
        for rule in _RULES
        if not (rule.once and rule.piece in read)
        and (not rule.follows or any(read[-len(before) :] == before for before in rule.follows))
    )
