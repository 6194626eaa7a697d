"""What may come before structlog's part of a line (log_summary/prefixes.py).

Each recognised prefix is read before each rendering, and gives its time;
free text before a rendering (anything a client may have chosen: a user
name, an exception's message) makes the line no event, whatever pairs or
JSON follow it.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene.log_summary import summarise
from authhygiene.log_summary.formats import Format, parse_line
from authhygiene.log_summary.prefixes import MAX_PIECES, read_prefix
from tests.steps import steps

T = "2026-12-07T06:19:21.123456Z"

# One event in each rendering, without a time of its own.
BODIES = {
    Format.JSON: json.dumps({"event": "auth.failure", "reason": "token_expired"}),
    Format.CONSOLE: "[warning  ] auth.failure                   reason=token_expired",
    Format.KEY_VALUE: "reason='token_expired' event='auth.failure' level='warning'",
}
LOGFMT = "reason=token_expired event=auth.failure level=warning"

# Each prefix, and the time the event gets from it (None: none).
PREFIXES = [
    pytest.param("", None, id="none"),
    pytest.param(f"{T} stdout F ", T, id="cri"),
    pytest.param(f"{T} stderr P ", T, id="cri-partial"),
    pytest.param("web-1  | ", None, id="compose"),
    pytest.param("web-1  | 4242 ", None, id="compose-pid"),
    pytest.param("Dec  7 06:19:21 host app[4242]: ", None, id="syslog"),
    pytest.param(
        "2026-12-07T06:19:21+0000 host app[4242]: ", "2026-12-07T06:19:21+0000", id="journal-iso"
    ),
    pytest.param("WARNING:authhygiene:", None, id="stdlib-basic"),
    pytest.param("WARNING:root:", None, id="stdlib-root"),
    pytest.param(
        "2026-12-07 06:19:21,123 WARNING authhygiene ", "2026-12-07 06:19:21,123", id="asctime"
    ),
    pytest.param(
        "2026-12-07 06:19:21,123 WARNING [authhygiene] ",
        "2026-12-07 06:19:21,123",
        id="asctime-bracketed-name",
    ),
    pytest.param(
        "[2026-12-07 06:19:21,123] WARNING in app: ",
        "2026-12-07 06:19:21,123",
        id="flask-docs",
    ),
    pytest.param(
        "2026-12-07 06:19:21,123 - authhygiene - WARNING - ",
        "2026-12-07 06:19:21,123",
        id="cookbook",
    ),
    pytest.param("[2026-12-07 06:19:21] [WARNING] ", "2026-12-07 06:19:21", id="bracketed"),
    pytest.param("2026-12-07 06:19:21 | WARNING  | ", "2026-12-07 06:19:21", id="piped"),
    pytest.param("1765088361.5 ", "1765088361.5", id="epoch"),
    pytest.param("06:19:21 ", None, id="time-of-day"),
    pytest.param(f"{T} stdout F WARNING:authhygiene:", T, id="cri-then-stdlib"),
]


@pytest.mark.parametrize(("prefix", "moment"), PREFIXES)
@pytest.mark.parametrize("fmt", list(BODIES))
def test_a_prefix_before_each_rendering(prefix: str, moment: str | None, fmt: Format) -> None:
    parsed = parse_line(prefix + BODIES[fmt])
    assert parsed is not None
    assert parsed.format is fmt
    assert parsed.event["event"] == "auth.failure"
    assert parsed.event.get("timestamp") == moment


@pytest.mark.parametrize(("prefix", "moment"), PREFIXES)
def test_a_prefix_before_logfmt(prefix: str, moment: str | None) -> None:
    parsed = parse_line(prefix + LOGFMT)
    assert parsed is not None
    assert (parsed.event["event"], parsed.event.get("timestamp")) == ("auth.failure", moment)


def test_the_time_nearest_the_event_wins() -> None:
    """A runtime's time, then the console rendering's own column."""
    parsed = parse_line(f"2026-12-07T06:19:22.9Z stdout F {T} {BODIES[Format.CONSOLE]}")
    assert parsed is not None
    assert parsed.event["timestamp"] == T


# Text before the rendering that no logging setup writes there: a message's
# words, an exception's name, a word in place of a logger name. Each may
# be followed by pairs or JSON that a client wrote.
FREE_TEXT = [
    pytest.param("INFO:app:login failed for user bob ", id="stdlib-then-words"),
    pytest.param("INFO:app:bob ", id="stdlib-then-one-word"),
    pytest.param("2026-12-07 06:19:21,123 WARNING app bob ", id="asctime-then-a-second-name"),
    pytest.param("WARNING app ", id="name-without-a-time"),
    pytest.param("ValueError: no item x ", id="exception-message"),
    pytest.param("user typed ", id="words"),
    pytest.param("[app] ", id="bracketed-word"),
    pytest.param("[2026-12-07 06:19:21,123] WARNING in app: bob ", id="flask-docs-then-a-word"),
    pytest.param("2026-12-07 06:19:21,123 WARNING [app] bob ", id="bracketed-name-then-a-word"),
    pytest.param("x web-1  | ", id="compose-not-first"),
    pytest.param("INFO:app:Dec  7 06:19:21 host app: ", id="syslog-not-first"),
    pytest.param("INFO:app:2026-12-07T06:19:21Z stdout F ", id="cri-stream-not-first"),
    pytest.param(" ", id="leading-space"),
    pytest.param("    ", id="indented-traceback-line"),
    pytest.param("- ", id="separator-first"),
]


@pytest.mark.parametrize("text", FREE_TEXT)
@pytest.mark.parametrize("body", [*BODIES.values(), LOGFMT])
def test_free_text_before_a_rendering_is_no_event(text: str, body: str) -> None:
    assert parse_line(text + body) is None
    assert summarise([text + body]).failures == 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("INFOWARNG:[]| -0123456789.,TZ:app \t'\"=x"), max_size=80))
def test_read_prefix_stops_inside_the_text(text: str) -> None:
    prefix = read_prefix(text)
    assert 0 <= prefix.end <= len(text)
    assert prefix.time is None or prefix.time in text[: prefix.end]


def test_prefix_pieces_are_bounded() -> None:
    """A line of nothing but prefix pieces is read MAX_PIECES pieces deep,
    in time independent of its length."""
    line = "2026-12-07 06:19:21 | " * 5000
    # The work does not grow with the line (counted, not timed).
    assert steps(read_prefix, line) <= steps(read_prefix, line[: len(line) // 2]) + 50
    prefix = read_prefix(line)
    assert prefix.end <= len("2026-12-07 06:19:21 | ") * MAX_PIECES
