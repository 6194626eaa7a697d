"""The key=value readers, each by its own renderer's rules (log_summary/pairs.py).

Tables pin how each reader reads, and refuses, whole texts; hypothesis
renders values with structlog's real renderers and reads them back: each
reader gives back what its renderer was given (typed as JSON has it, where
the text can say), and a value never becomes, ends or hides another pair.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from structlog.dev import ConsoleRenderer
from structlog.processors import KeyValueRenderer, LogfmtRenderer

from authhygiene.log_summary.formats import parse_line
from authhygiene.log_summary.pairs import (
    MAX_PAIRS,
    console_pairs,
    key_value_pairs,
    logfmt_pairs,
)
from tests.steps import grows_linearly

# --- tables ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        pytest.param(
            "a='x' b=\"it's\" c='a\\'b\"c'", {"a": "x", "b": "it's", "c": "a'b\"c"}, id="quotes"
        ),
        pytest.param(
            "n=1 f=1.5 neg=-3 big=123456789012345678901234 none=None t=True f=False",
            None,
            id="repeated-key",
        ),
        pytest.param(
            "n=1 f=1.5 neg=-3 big=123456789012345678901234 none=None t=True",
            {
                "n": 1,
                "f": 1.5,
                "neg": -3,
                "big": "123456789012345678901234",
                "none": None,
                "t": True,
            },
            id="literals",
        ),
        pytest.param(
            "l=['a b', \"c'\"] d={'k': (1, 2)} dt=datetime.datetime(2026, 12, 7, 0, 0)"
            " by=b'x' e=[]",
            {"l": None, "d": None, "dt": None, "by": None, "e": None},
            id="reprs",
        ),
        pytest.param("esc='\\x1b[2J\\u202e\\n'", {"esc": "\x1b[2J\u202e\n"}, id="escapes"),
        # LogfmtRenderer's bare words and quoting are no repr.
        pytest.param("event=auth.failure", None, id="bare-word"),
        pytest.param("a='x'  b=1", None, id="two-spaces"),
        pytest.param("a='x", None, id="quote-left-open"),
        pytest.param("a='x'y", None, id="quote-closed-mid-word"),
        pytest.param("a=[1, b=2", None, id="bracket-left-open"),
        pytest.param("a=(x b=y)", None, id="space-no-repr-writes"),
        pytest.param("flag a=1", None, id="flag"),
        pytest.param("", None, id="empty"),
    ],
)
def test_key_value_pairs(text: str, pairs: dict[str, object] | None) -> None:
    assert key_value_pairs(text) == pairs


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        pytest.param(
            'a=x b="y z" c="say \\"hi\\" \\\\" d= e=true f=false g flag2',
            {
                "a": "x",
                "b": "y z",
                "c": 'say "hi" \\',
                "d": None,
                "e": True,
                "f": False,
                "g": True,
                "flag2": True,
            },
            id="every-form",
        ),
        # A single quote is an ordinary character in logfmt: the D5 line.
        pytest.param(
            "user_agent=' origin=\"x' event=auth.failure.suppressed count=9 a=\""
            " event=auth.failure",
            {
                "user_agent": "'",
                "origin": "x' event=auth.failure.suppressed count=9 a=",
                "event": "auth.failure",
            },
            id="single-quote-is-no-quote",
        ),
        pytest.param(
            "a=['x'] b=None c=True", {"a": "['x']", "b": "None", "c": "True"}, id="text-not-repr"
        ),
        pytest.param("a=1 a=2", None, id="repeated-key"),
        pytest.param("event=x event=y", None, id="repeated-event"),
        pytest.param("flag a=1", None, id="flag-first"),
        pytest.param('a="x', None, id="quote-left-open"),
        pytest.param('a="x"y', None, id="quote-closed-mid-word"),
        pytest.param('a=x"y', None, id="quote-inside-bare"),
        pytest.param("a=x=y", None, id="equals-inside-bare"),
        pytest.param("a=1  b=2", None, id="two-spaces"),
        pytest.param("a-b.c@d=1", {"a-b.c@d": 1}, id="key-characters"),
        pytest.param("", None, id="empty"),
    ],
)
def test_logfmt_pairs(text: str, pairs: dict[str, object] | None) -> None:
    assert logfmt_pairs(text) == pairs


@pytest.mark.parametrize(
    ("text", "column", "pairs", "repeated"),
    [
        pytest.param(
            "auth.failure    a=1 b='x y'", "auth.failure", {"a": 1, "b": "x y"}, False, id="event"
        ),
        pytest.param(
            " request finished status=200", "request finished", {"status": 200}, False, id="spaces"
        ),
        # A message's words are the event column: its pairs are no fields
        # of another event, and its event= no event name.
        pytest.param(
            " login failed for bob event=auth.failure.suppressed count=9",
            "login failed for bob",
            {"event": "auth.failure.suppressed", "count": 9},
            False,
            id="message-with-pairs",
        ),
        pytest.param(" a a=1 word b=2", "a a=1 word", {"b": 2}, False, id="pairs-before-a-word"),
        pytest.param(" x [app] a=1", "x [app]", {"a": 1}, False, id="logger"),
        pytest.param(" x a=1 a=2", "x", {"a": 1}, True, id="repeated"),
        # The D7 line: a bracket in one bare value, its closer in a later one.
        pytest.param(
            " x origin=a( reason=r status=401 user_agent=)",
            "x",
            {"origin": "a(", "reason": "r", "status": 401, "user_agent": ")"},
            False,
            id="brackets-in-bare-values",
        ),
        pytest.param(
            " x origin=(a, reason=r status=401",
            "x",
            {"origin": "(a,", "reason": "r", "status": 401},
            False,
            id="comma-then-a-pair",
        ),
        pytest.param(
            " x aud=['a b', \"c'\"] t=(1,) d={'k': 1} f=a() e=[] u=UUID('1')",
            "x",
            {"aud": None, "t": "(1,)", "d": None, "f": "a()", "e": "[]", "u": None},
            False,
            # Without a space, quote or =, a repr (`(1,)`, `[]`) is also a
            # string ConsoleRenderer writes bare: read as that string.
            id="reprs-and-bare-look-alikes",
        ),
        pytest.param(
            " x a=None b=True c=true d= e=007",
            "x",
            {"a": None, "b": True, "c": "true", "d": "", "e": "007"},
            False,
            id="words",
        ),
        pytest.param(" x a='open b=1", "x", {}, False, id="quote-left-open"),
        pytest.param(
            " x a='y'z b=1", "x", {"a": "'y'z", "b": 1}, False, id="quote-closed-mid-word"
        ),
    ],
)
def test_console_pairs(text: str, column: str, pairs: dict[str, object], repeated: bool) -> None:
    read = console_pairs(text)
    assert (read.column, read.pairs, read.repeated) == (column, pairs, repeated)


# --- real renderers, any value ----------------------------------------------------

KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True)
# What the middleware logs of a client's text: printable ASCII, bounded.
PRINTABLE = st.text(alphabet=string.printable[:95], max_size=40)
# The characters each reader decides on, in runs, for the pieces that matter.
QUOTING = st.lists(
    st.sampled_from(
        ["'", '"', "\\", " ", "=", "[", "]", "(", ")", "{", "}", ",", ":", "a", "event=", "x'"]
    ),
    max_size=12,
).map("".join)
CLIENT_TEXT = st.one_of(PRINTABLE, QUOTING)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(10**15), 10**15), CLIENT_TEXT)
EVENTS = st.dictionaries(KEYS, SCALARS, min_size=1, max_size=8)


def _looks_typed(value: str, words: tuple[str, ...]) -> bool:
    """A string a text rendering cannot tell from a typed value."""
    try:
        float(value)
    except ValueError:
        return value in words
    return True


def _typed(event: dict[str, Any], words: tuple[str, ...]) -> bool:
    return any(isinstance(v, str) and _looks_typed(v, words) for v in event.values())


@settings(max_examples=400, deadline=None)
@given(EVENTS, st.sampled_from([False, True]))
def test_key_value_renderer_reads_back(event: dict[str, Any], sort_keys: bool) -> None:
    line = KeyValueRenderer(sort_keys=sort_keys)(None, "info", dict(event))
    assert key_value_pairs(line) == event


@settings(max_examples=400, deadline=None)
@given(EVENTS, st.sampled_from([False, True]), st.booleans())
def test_logfmt_renderer_reads_back(event: dict[str, Any], sort_keys: bool, flags: bool) -> None:
    assume(not _typed(event, ("", "true", "false")))
    # A flag first is free text to the reader: start with a pair.
    event = {"first_key": 1, **event}
    line = LogfmtRenderer(sort_keys=False, bool_as_flag=flags)(None, "info", dict(event))
    assert logfmt_pairs(line) == event
    if sort_keys:
        line = LogfmtRenderer(sort_keys=True, bool_as_flag=False)(None, "info", dict(event))
        assert logfmt_pairs(line) == event


@settings(max_examples=400, deadline=None)
@given(EVENTS, st.sampled_from([False, True]))
def test_console_renderer_reads_back(event: dict[str, Any], sort_keys: bool) -> None:
    assume(not _typed(event, ("", "None", "True", "False")))
    renderer = ConsoleRenderer(colors=False, sort_keys=sort_keys, pad_event_to=0, pad_level=False)
    line = renderer(None, "info", {"event": "e", "level": "info", **event})
    read = console_pairs(line.removeprefix("[info] "))
    assert (read.column, read.pairs, read.repeated) == ("e", event, False)


TEXT_RENDERERS = {
    "key-value": KeyValueRenderer(),
    "logfmt": LogfmtRenderer(),
    "console": ConsoleRenderer(colors=False, sort_keys=False),
}


@settings(max_examples=300, deadline=None)
@given(st.lists(CLIENT_TEXT, min_size=1, max_size=4), st.sampled_from(sorted(TEXT_RENDERERS)))
def test_client_text_next_to_a_real_event_reads_as_written(values: list[str], name: str) -> None:
    """Values a client chose, between a real event's own pairs as the
    middleware orders them: the line reads as that event, each value as
    written, and no pair more or less."""
    assume(not any(_looks_typed(v, ("", "None", "True", "False", "true", "false")) for v in values))
    event = {
        "reason": "r",
        **{f"v{i}": v for i, v in enumerate(values)},
        "event": "auth.failure",
        "level": "warning",
    }
    parsed = parse_line(TEXT_RENDERERS[name](None, "warning", dict(event)))
    assert parsed is not None
    assert parsed.event == event


def test_pairs_are_capped_and_linear() -> None:
    many = " ".join(f"k{i}={i}" for i in range(3 * MAX_PAIRS))
    for read in (key_value_pairs(many), logfmt_pairs(many), console_pairs("e " + many).pairs):
        assert read is not None
        assert len(read) == MAX_PAIRS
    # Brackets nested and left open, each a repr start: a bounded rescan
    # each, so twice the text is about twice the work (counted, not timed).
    for unit in ("a=[x, ", "k=(1, ", "a=[' ", "a=(b, c=[' "):

        def read(text: str) -> None:
            console_pairs("e " + text)
            key_value_pairs(text)

        def made(size: int, unit: str = unit) -> str:
            return unit * size

        half, whole = grows_linearly(read, made, 16 * 1024 // len(unit))
        assert whole <= 2.5 * half + 100, (unit, half, whole)
