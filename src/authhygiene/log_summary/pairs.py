"""key=value pairs, read by the quoting rules of the renderer that wrote them.

Each of structlog's text renderers quotes values its own way, and a value
read by another renderer's rules can end somewhere else: a bare ``'`` that
LogfmtRenderer wrote is no quote, and read as one it swallows the pairs up
to the next ``'`` and lets a client's text pass for pairs. So each
rendering has a reader of its own, and the two bare key=value readers
either read a whole text exactly as their renderer writes it or refuse it:

- `key_value_pairs` (``structlog.processors.KeyValueRenderer``):
  ``key=repr(value)``, one space between pairs. A string is always quoted
  the way `repr` quotes it (``'...'``, or ``"..."`` when it holds a ``'``
  and no ``"``; backslash escapes); a number, ``None``, ``True``,
  ``False`` bare; a list, dict, tuple or an object's constructor
  (``datetime.datetime(2026, 12, 7, 6, 19)``) as its repr. No other bare
  word.
- `logfmt_pairs` (``structlog.processors.LogfmtRenderer``): ``key=value``,
  the value bare unless it holds a space, ``=`` or ``"``, then in
  ``"..."`` with ``\\"`` and ``\\\\`` escapes; a ``'`` is an ordinary
  character. ``true``/``false``; a true flag as the bare key (never first);
  None as ``key=``.
- `console_pairs` (``structlog.dev.ConsoleRenderer``, after its columns):
  a string bare unless it holds a space, tab, ``=``, a quote or a line
  break, then its `repr`; every other value its `repr`. A bare string
  never holds a quote, so a quote always starts a repr.

A renderer writes a dict: a key read twice means the text is not what the
renderer wrote (`key_value_pairs` and `logfmt_pairs` refuse it,
`console_pairs` says so). A repr that spans spaces (a list, dict, tuple,
call) is read only where it starts right after ``=``, and only as repr
writes it: a space inside one follows ``,`` or ``:``, brackets balance,
quotes close; anything else (``a(`` in one client value and ``)`` in a
later one) is a bare value ending at the next space, never a span over the
pairs between.

Linear whatever the text: every pattern consumes its run once (possessive,
nothing nested to backtrack into); a repr nests at most `MAX_REPR_DEPTH`
deep, so a failed one rescans a bounded part of the text; at most
`MAX_PAIRS` pairs are kept a line. Nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "MAX_PAIRS",
    "MAX_REPR_DEPTH",
    "ConsolePairs",
    "console_pairs",
    "key_value_pairs",
    "logfmt_pairs",
]

MAX_PAIRS = 128
MAX_REPR_DEPTH = 16

_KEY = r"[A-Za-z_@][\w.@-]{0,63}+"
_KEY_RE = re.compile(_KEY)
_SPACES_RE = re.compile(r" *+")
_SINGLE = r"'(?P<single>(?:[^'\\]|\\.)*+)'"
_DOUBLE = r'"(?P<double>(?:[^"\\]|\\.)*+)"'
_STRING_RE = re.compile(_SINGLE + "|" + _DOUBLE, re.DOTALL)
# A value ends where a renderer ends one: at the space before the next pair.
_END = r"(?= |\Z)"
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"', "0": "\0"}
_NUMBER_RE = re.compile(r"-?[0-9]{1,20}+(?P<float>(?:\.[0-9]{1,20}+)?(?:e[+-]?[0-9]{1,3}+)?)")

# --- repr --------------------------------------------------------------------

_CLOSER = {"(": ")", "[": "]", "{": "}"}
# An object's constructor: `datetime.datetime(`, `UUID(`, `frozenset({`.
_CALL_RE = re.compile(r"[A-Za-z_][\w.]{0,100}+(?=[(\[{])")
# One step through a repr: a run of ordinary characters, a whole string,
# or one character (a bracket, a space, a quote left open).
_REPR_PIECE_RE = re.compile(
    r"""[^'"()\[\]{} ]++|'(?:[^'\\]|\\.)*+'|"(?:[^"\\]|\\.)*+"|.""", re.DOTALL
)
# What repr writes bare: numbers and the constants.
_LITERAL = r"-?(?:[0-9][0-9_.eE+-]{0,400}+|inf|nan)|None|True|False|Ellipsis"
_LITERAL_RE = re.compile(_LITERAL)
_REPR_WORDS: dict[str, object] = {"None": None, "True": True, "False": False}
# A pair as KeyValueRenderer writes nearly every one: a string or a literal.
_KEY_VALUE_RE = re.compile(
    f"(?P<key>{_KEY})=(?:{_SINGLE}|{_DOUBLE}|(?P<literal>{_LITERAL})){_END}", re.DOTALL
)
# ...and ConsoleRenderer: a repr'd string, or a bare value without brackets.
_CONSOLE_RE = re.compile(
    f"(?P<key>{_KEY})=(?:{_SINGLE}|{_DOUBLE}|(?P<bare>[^ '\"()\\[\\]{{}}]*+)){_END}", re.DOTALL
)
# ConsoleRenderer writes a string bare only without these.
_NOT_BARE_RE = re.compile(r"[ \t='\"\r\n]")
_KEY_EQUALS_RE = re.compile(f"{_KEY}(?==)")

# --- logfmt ------------------------------------------------------------------

# A pair as LogfmtRenderer writes every one: `key="..."`, `key=bare`,
# `key=` (None) or `key` (a true flag).
_LOGFMT_RE = re.compile(
    f'(?P<key>{_KEY})(?:(?P<equals>=)(?:"(?P<quoted>(?:[^"\\\\]|\\\\.)*+)"|(?P<bare>[^ "=]*+)))?'
    + _END,
    re.DOTALL,
)
_LOGFMT_WORDS: dict[str, object] = {"": None, "true": True, "false": False}


class _Budget:
    """Pieces a line's repr scans may take in all: a scan that fails is
    rescanned in part from the next value, so the total is capped at a few
    times the line's length (a renderer's own lines never come near)."""

    __slots__ = ("left",)

    def __init__(self, text: str) -> None:
        self.left = 2 * len(text) + 64


def _scalar(token: str, words: Mapping[str, object]) -> object:
    if token in words:
        return words[token]
    number = _NUMBER_RE.fullmatch(token)
    if number is None:
        return token
    value = float(token) if number["float"] else int(token)
    # Only what reads back as written is a number: `007` or `1.50` were text.
    return value if repr(value) == token else token


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


def _string(match: re.Match[str]) -> str:
    quoted = match["single"] if match["single"] is not None else match["double"]
    return _unescape(quoted)


def _ends(text: str, pos: int) -> bool:
    return pos == len(text) or text[pos] == " "


def _skip_spaces(text: str, pos: int) -> int:
    spaces = _SPACES_RE.match(text, pos)
    return pos if spaces is None else spaces.end()


def _repr_end(text: str, start: int, budget: _Budget) -> int | None:
    """Where a repr that opens a bracket at or after `start` closes, or
    None when no repr could be written so: a bracket that does not match
    or is left open, a quote left open, a space that follows neither ``,``
    nor ``:``, nesting past MAX_REPR_DEPTH; or the line's budget spent."""
    closers: list[str] = []
    pos = start
    while pos < len(text) and budget.left > 0:
        budget.left -= 1
        match = _REPR_PIECE_RE.match(text, pos)
        if match is None:  # the last alternative takes any character
            return None
        piece = match.group()
        if piece in _CLOSER:
            if len(closers) == MAX_REPR_DEPTH:
                return None
            closers.append(_CLOSER[piece])
        elif piece in (")", "]", "}"):
            if not closers or closers.pop() != piece:
                return None
            if not closers:
                return match.end()
        elif piece in ("'", '"') or (piece == " " and text[pos - 1] not in ",:"):
            return None
        pos = match.end()
    return None


# A token: its key, its value, where it ends, and whether it is a bare flag.
_Token = tuple[str, object, int, bool]


def _key_value_token(text: str, pos: int, budget: _Budget) -> _Token | None:
    """One ``key=repr(value)`` at `pos`, or None."""
    pair = _KEY_VALUE_RE.match(text, pos)
    if pair is not None:
        literal = pair["literal"]
        value = _string(pair) if literal is None else _scalar(literal, _REPR_WORDS)
        return pair["key"], value, pair.end(), False
    key = _KEY_EQUALS_RE.match(text, pos)
    if key is None:
        return None
    start = key.end() + 1
    if text.startswith(("b'", 'b"'), start):
        end = None if (found := _STRING_RE.match(text, start + 1)) is None else found.end()
    elif text[start : start + 1] in _CLOSER or _CALL_RE.match(text, start):
        end = _repr_end(text, start, budget)
    else:
        return None
    # Bytes, a list, dict, tuple or object: nothing is counted from it, as
    # from a JSON list.
    return None if end is None or not _ends(text, end) else (key.group(), None, end, False)


def _logfmt_token(text: str, pos: int, budget: _Budget) -> _Token | None:
    """One logfmt pair or flag at `pos`, or None."""
    pair = _LOGFMT_RE.match(text, pos)
    if pair is None:
        return None
    if pair["equals"] is None:
        return pair["key"], True, pair.end(), True
    quoted = pair["quoted"]
    value = _scalar(pair["bare"], _LOGFMT_WORDS) if quoted is None else _unescape(quoted)
    return pair["key"], value, pair.end(), False


def _read(
    text: str, token_at: Callable[[str, int, _Budget], _Token | None]
) -> dict[str, object] | None:
    """Every pair of `text`, read by one renderer's rules, or None when the
    text is anything but that renderer's pairs, one space apart."""
    pairs: dict[str, object] = {}
    seen: set[str] = set()
    budget = _Budget(text)
    pos = 0
    while True:
        token = token_at(text, pos, budget)
        # A flag first is a bare word first: free text, not logfmt.
        if token is None or token[0] in seen or (token[3] and not seen):
            return None
        key, value, end, _ = token
        seen.add(key)
        if len(pairs) < MAX_PAIRS:
            pairs[key] = value
        if end == len(text):
            return pairs
        pos = end + 1  # the space every token is followed by


def key_value_pairs(text: str) -> dict[str, object] | None:
    """The pairs of a KeyValueRenderer line, or None when `text` is not one."""
    return _read(text, _key_value_token)


def logfmt_pairs(text: str) -> dict[str, object] | None:
    """The pairs of a LogfmtRenderer line, or None when `text` is not one."""
    return _read(text, _logfmt_token)


# --- console ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsolePairs:
    """What follows a console line's level: the event column (with an
    optional ``[logger]``) and the pairs after it."""

    column: str
    pairs: dict[str, object]
    repeated: bool  # a key written twice: no line ConsoleRenderer writes


def _console_value(text: str, start: int, budget: _Budget) -> tuple[object, int] | None:
    """A value as ConsoleRenderer writes it after ``key=``, and its end;
    None when a quote is left open (the rest of the line is inside it).
    Text no renderer writes is a bare value up to the next space."""
    head = text[start : start + 1]
    if head in ("'", '"'):
        quoted = _STRING_RE.match(text, start)
        if quoted is None:
            return None
        if _ends(text, quoted.end()):
            return _string(quoted), quoted.end()
    elif head in _CLOSER or _CALL_RE.match(text, start):
        end = _repr_end(text, start, budget)
        # A repr no bare string could be (`a()` or `[x]` may be one).
        if end is not None and _ends(text, end) and _NOT_BARE_RE.search(text, start, end):
            return None, end
    end = text.find(" ", start)
    end = len(text) if end < 0 else end
    return _scalar(text[start:end], _REPR_WORDS), end


def console_pairs(text: str) -> ConsolePairs:
    """The event column and pairs of what follows a console line's level.

    The pairs are the longest run of ``key=value`` at the end of the line;
    the words before them are the event column (an event name may hold
    spaces, and a message's words are never pairs)."""
    pairs: dict[str, object] = {}
    seen: set[str] = set()
    repeated, budget = False, _Budget(text)
    column_end, pos = 0, _skip_spaces(text, 0)
    while pos < len(text):
        if (pair := _CONSOLE_RE.match(text, pos)) is not None:
            bare = pair["bare"]
            value = _string(pair) if bare is None else _scalar(bare, _REPR_WORDS)
            key, end = pair["key"], pair.end()
        elif (named := _KEY_EQUALS_RE.match(text, pos)) is not None:
            read = _console_value(text, named.end() + 1, budget)
            if read is None:
                break  # the line's pairs end at a quote left open
            (value, end), key = read, named.group()
        else:  # a word: the pairs so far were part of the event column
            end = text.find(" ", pos)
            column_end = end = len(text) if end < 0 else end
            pairs, seen, repeated = {}, set(), False
            pos = _skip_spaces(text, end)
            continue
        repeated = repeated or key in seen
        seen.add(key)
        if len(pairs) < MAX_PAIRS:
            pairs.setdefault(key, value)
        pos = _skip_spaces(text, end)
    return ConsolePairs(text[:column_end].strip(), pairs, repeated)
