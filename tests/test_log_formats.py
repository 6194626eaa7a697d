"""Reading structlog's renderings: JSON, console, key=value and logfmt.

The core check renders the same real events (the middleware in front of a
small Starlette app, refusing real requests) with each of structlog's
renderers and asserts that `summarise` reads the same summary from every
rendering as from JSON, with the values typed as JSON has them. Tables pin
how single lines read (whole event dicts), and hypothesis feeds the reader
hostile text to show that it never fails, stays linear and keeps the books
balanced.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from structlog.dev import ConsoleRenderer
from structlog.processors import (
    JSONRenderer,
    KeyValueRenderer,
    LogfmtRenderer,
    TimeStamper,
    add_log_level,
)
from structlog.typing import EventDict, Processor, WrappedLogger

from authhygiene import AuthHygiene
from authhygiene import logging as hygiene_logging
from authhygiene.log_summary import (
    MAX_LINE_BYTES,
    Format,
    Summary,
    parse_time,
    render_text,
    summarise,
    to_json,
)
from authhygiene.log_summary.formats import MAX_PAIRS, parse_line
from tests.steps import steps

# --- single lines ----------------------------------------------------------------

T = "2026-12-07T06:19:21.123456Z"
ESC = "\x1b"


def coloured(text: str) -> str:
    """A console line as ConsoleRenderer colours it (dim time, yellow level,
    bright event, cyan keys, magenta values)."""
    time_, rest = text.split(" [", 1)
    level, rest = rest.split("] ", 1)
    event, pairs = rest.split("  ", 1)
    parts = [f"{ESC}[2m{time_}{ESC}[0m [{ESC}[33m{ESC}[1m{level}{ESC}[0m] {ESC}[1m{event}{ESC}[0m"]
    for pair in pairs.split():
        key, _, value = pair.partition("=")
        parts.append(f"{ESC}[36m{key}{ESC}[0m={ESC}[35m{value}{ESC}[0m")
    return " ".join(parts)


CONSOLE = (
    f"{T} [warning  ] auth.failure                   alg=HS256 client=127.0.0.1"
    " clock_skew_suspected=True count=41 exp_delta_s=-300 status=401 x=None"
)
CONSOLE_EVENT: dict[str, object] = {
    "event": "auth.failure",
    "level": "warning",
    "timestamp": T,
    "alg": "HS256",
    "client": "127.0.0.1",
    "clock_skew_suspected": True,
    "count": 41,
    "exp_delta_s": -300,
    "status": 401,
    "x": None,
}
JSON_EVENT = json.dumps(CONSOLE_EVENT)


@pytest.mark.parametrize(
    ("line", "fmt", "event"),
    [
        pytest.param(JSON_EVENT, Format.JSON, CONSOLE_EVENT, id="json"),
        pytest.param(CONSOLE, Format.CONSOLE, CONSOLE_EVENT, id="console"),
        pytest.param(coloured(CONSOLE), Format.CONSOLE, CONSOLE_EVENT, id="console-colours"),
        pytest.param(
            "2026-12-07 06:19:21 [warning  ] auth.failure                   reason=token_expired",
            Format.CONSOLE,
            {
                "event": "auth.failure",
                "level": "warning",
                "timestamp": "2026-12-07 06:19:21",
                "reason": "token_expired",
            },
            id="console-default-timestamp",
        ),
        pytest.param(
            "[warning  ] auth.failure                   reason=token_expired",
            Format.CONSOLE,
            {"event": "auth.failure", "level": "warning", "reason": "token_expired"},
            id="console-without-timestamp",
        ),
        pytest.param(
            "[info] request finished status=200",
            Format.CONSOLE,
            {"event": "request finished", "level": "info", "status": 200},
            id="console-unpadded-event-with-spaces",
        ),
        pytest.param(
            f"{T} [warning  ] auth.failure                   [authhygiene] reason=x",
            Format.CONSOLE,
            {
                "event": "auth.failure",
                "level": "warning",
                "logger": "authhygiene",
                "timestamp": T,
                "reason": "x",
            },
            id="console-logger-column",
        ),
        pytest.param(
            "[info     ] server started",
            Format.CONSOLE,
            {"event": "server started", "level": "info"},
            id="console-no-pairs",
        ),
        # ConsoleRenderer repr()s strings with spaces, '=' or quotes: with
        # double quotes when the text holds a single one, escapes inside.
        pytest.param(
            "[warning  ] auth.failure  path='/a b' q='a=b' ua=\"it's\""
            r" esc='\x1b[2J\u202e' nl='a\nb' both='it\'s \"x\"' bs='\\'",
            Format.CONSOLE,
            {
                "event": "auth.failure",
                "level": "warning",
                "path": "/a b",
                "q": "a=b",
                "ua": "it's",
                "esc": "\x1b[2J\u202e",
                "nl": "a\nb",
                "both": 'it\'s "x"',
                "bs": "\\",
            },
            id="console-repr-strings",
        ),
        # A list, dict, tuple or object repr is no value to count (as a
        # JSON list is not), and the keys after it still read.
        pytest.param(
            "[warning  ] auth.failure  aud=['api', 'web'] d={'k': 'v w'} t=(1, 2)"
            " when=datetime.datetime(2026, 12, 7, 6, 19) status=401",
            Format.CONSOLE,
            {
                "event": "auth.failure",
                "level": "warning",
                "aud": None,
                "d": None,
                "t": None,
                "when": None,
                "status": 401,
            },
            id="console-compound-values",
        ),
        # ConsoleRenderer writes a bool as repr (`True`) and a string bare:
        # `true` and an empty value are the strings "true" and "".
        pytest.param(
            "[warning  ] auth.failure  n=007 f=1.50 g=1.5 e=1e-05 big=123456789012345678901234"
            " neg=-3 empty= t=true f2=False",
            Format.CONSOLE,
            {
                "event": "auth.failure",
                "level": "warning",
                "n": "007",
                "f": "1.50",
                "g": 1.5,
                "e": 1e-05,
                "big": "123456789012345678901234",
                "neg": -3,
                "empty": "",
                "t": "true",
                "f2": False,
            },
            id="numbers-read-back-exactly-or-stay-text",
        ),
        pytest.param(
            "reason='token_expired' status=401 path='/a b' clock_skew_suspected=False"
            f" event='auth.failure' level='warning' timestamp='{T}'",
            Format.KEY_VALUE,
            {
                "reason": "token_expired",
                "status": 401,
                "path": "/a b",
                "clock_skew_suspected": False,
                "event": "auth.failure",
                "level": "warning",
                "timestamp": T,
            },
            id="key-value",
        ),
        pytest.param(
            f'event=auth.failure path="/a b" ua="say \\"hi\\" \\\\ there" clock_skew_suspected'
            f" ok=false user= n=41 timestamp={T}",
            Format.KEY_VALUE,
            {
                "event": "auth.failure",
                "path": "/a b",
                "ua": 'say "hi" \\ there',
                "clock_skew_suspected": True,
                "ok": False,
                "user": None,
                "n": 41,
                "timestamp": T,
            },
            id="logfmt-quoting-flags-none",
        ),
        pytest.param(
            "INFO:authhygiene:event='auth.failure' reason='x'",
            Format.KEY_VALUE,
            {"event": "auth.failure", "reason": "x"},
            id="stdlib-default-prefix",
        ),
        pytest.param(
            "2026-12-07 06:19:21,123 WARNING authhygiene event=auth.failure reason=x",
            Format.KEY_VALUE,
            {"event": "auth.failure", "reason": "x", "timestamp": "2026-12-07 06:19:21,123"},
            id="stdlib-asctime-prefix-gives-the-time",
        ),
        pytest.param(
            "WARNING:authhygiene:2026-12-07 06:19:21 [warning  ] auth.failure   reason=x",
            Format.CONSOLE,
            {
                "event": "auth.failure",
                "level": "warning",
                "reason": "x",
                "timestamp": "2026-12-07 06:19:21",
            },
            id="stdlib-prefix-before-console",
        ),
        pytest.param(
            f"2026-12-07T06:19:21.999999999Z stdout F {T} [warning  ] auth.failure  reason=x",
            Format.CONSOLE,
            {"event": "auth.failure", "level": "warning", "reason": "x", "timestamp": T},
            id="container-prefix-console-time-wins",
        ),
        pytest.param(
            "web-1  | 12 event=auth.failure reason=x",
            Format.KEY_VALUE,
            {"event": "auth.failure", "reason": "x"},
            id="small-number-in-prefix-is-no-time",
        ),
        pytest.param(
            "[2026-12-07 06:19:21] [WARNING] event=auth.failure",
            Format.KEY_VALUE,
            {"event": "auth.failure", "timestamp": "2026-12-07 06:19:21"},
            id="bracketed-prefix-time",
        ),
        # A JSON object at the end of a line is a value there, not the event.
        pytest.param(
            '[warning  ] auth.failure  reason=x extra={"a": 1}',
            Format.CONSOLE,
            {"event": "auth.failure", "level": "warning", "reason": "x", "extra": None},
            id="json-value-in-console-line",
        ),
        pytest.param(
            '{"a": 1}',
            Format.JSON,
            {"a": 1},
            id="json-without-event-is-still-json",
        ),
    ],
)
def test_one_line(line: str, fmt: Format, event: dict[str, object]) -> None:
    parsed = parse_line(line)
    assert parsed is not None
    assert (parsed.format, parsed.event) == (fmt, event)
    # Types as JSON has them, not merely equal (True == 1).
    assert {k: type(v) for k, v in parsed.event.items()} == {k: type(v) for k, v in event.items()}


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("", id="empty"),
        pytest.param("INFO:     Uvicorn running on http://127.0.0.1:8000", id="uvicorn"),
        pytest.param('127.0.0.1 - "GET /x?event=a&b=c HTTP/1.1" 401', id="access-log"),
        pytest.param("Traceback (most recent call last):", id="traceback"),
        pytest.param("[1, 2]", id="json-array"),
        pytest.param("reason=x status=401", id="pairs-without-event"),
        pytest.param("[see] the manual", id="bracket-that-is-no-level"),
        pytest.param("event='auth.failure", id="quote-left-open"),
        pytest.param('event="auth.failure"x', id="quote-closed-mid-word"),
        pytest.param("    log.warning(event='auth.failure')", id="code-in-a-traceback"),
        pytest.param("event=", id="event-without-name"),
        pytest.param("[warning  ]   ", id="level-without-event"),
    ],
)
def test_lines_without_an_event(line: str) -> None:
    assert parse_line(line) is None


def test_pairs_per_line_are_capped() -> None:
    line = "event=auth.failure " + " ".join(f"k{i}={i}" for i in range(3 * MAX_PAIRS))
    parsed = parse_line(line)
    assert parsed is not None
    assert len(parsed.event) == MAX_PAIRS


# A renderer writes a dict: a key twice was written by someone else too,
# and which one counts would be theirs to choose.
@pytest.mark.parametrize(
    "line",
    [
        pytest.param("event=auth.failure reason=a reason=b", id="logfmt"),
        pytest.param("event='auth.failure' reason='a' reason='b'", id="key-value"),
        pytest.param(
            "event=auth.failure.suppressed count=99 event=auth.failure", id="logfmt-two-events"
        ),
        pytest.param("[warning  ] auth.failure  reason=a status=401 reason=b", id="console"),
    ],
)
def test_a_repeated_key_is_no_event(line: str) -> None:
    assert parse_line(line) is None


# A value a client chose (a path, a user agent), as each rendering writes it:
# ConsoleRenderer leaves a string without spaces or quotes bare, escapes
# and all; repr() and logfmt quote and escape it.
HOSTILE_PATH = "/\x1b[2J\x1b]0;owned\x07\u202eFAKE"
HOSTILE_LINES = [
    f"[warning  ] auth.failure  path={HOSTILE_PATH} reason=x",
    f"[warning  ] auth.failure  path={HOSTILE_PATH!r} reason=x",
    f"event='auth.failure' path={HOSTILE_PATH!r} reason='x'",
    'event=auth.failure path="' + HOSTILE_PATH.replace("\x1b", "\\x1b") + '" reason=x',
]


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_hostile_values_from_text_lines_reach_the_terminal_escaped(line: str) -> None:
    text = render_text(summarise([line] * 3))
    assert [c for c in text if c != "\n" and not c.isprintable()] == []
    # Every rendering gives back the same path, shown escaped.
    assert "  /\\x1b[2J\\x1b]0;owned\\x07\\u202eFAKE  mostly x\n" in text


# --- exception text after an event -------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            [
                "2026-12-07 06:19:21 [error    ] boom                           a=1",
                "Traceback (most recent call last):",
                '  File "/app/x.py", line 7, in <module>',
                '    raise ValueError("bad")',
                "ValueError: bad",
                "2026-12-07 06:19:22 [warning  ] auth.failure                   reason=x",
            ],
            (2, 4, 0),
            id="console-traceback",
        ),
        pytest.param(
            [
                "[error    ] boom",
                "Traceback (most recent call last):",
                '  File "/app/x.py", line 7, in <module>',
                "KeyError: 'k'",
                "",
                "During handling of the above exception, another exception occurred:",
                "",
                "Traceback (most recent call last):",
                '  File "/app/x.py", line 9, in <module>',
                "jwt.exceptions.ExpiredSignatureError: Signature has expired",
            ],
            (1, 9, 0),
            id="chained",
        ),
        pytest.param(
            [
                "[warning  ] auth.failure  reason=x",
                "Stack (most recent call last):",
                '  File "/app/x.py", line 11, in <module>',
                "    log.warning('auth.failure', stack_info=True)",
            ],
            (1, 3, 0),
            id="stack-info",
        ),
        # A message's second line is no traceback line, but the traceback
        # goes on after it.
        pytest.param(
            [
                "[error    ] boom",
                "Traceback (most recent call last):",
                "ValueError: bad",
                "thing",
                "",
                "During handling of the above exception, another exception occurred:",
            ],
            (1, 4, 1),
            id="multi-line-message",
        ),
        pytest.param(
            ["Traceback (most recent call last):", '  File "x.py", line 1', "ValueError: x"],
            (0, 0, 3),
            id="no-event-before-is-unreadable",
        ),
        pytest.param(
            [JSON_EVENT, "INFO:     Shutting down", "Traceback (most recent call last):"],
            (1, 0, 2),
            id="a-banner-in-between-ends-it",
        ),
    ],
)
def test_exception_text(lines: list[str], expected: tuple[int, int, int]) -> None:
    summary = summarise(lines)
    assert (summary.events, summary.exception_lines, summary.unreadable) == expected


# --- the same real events in every rendering -------------------------------------------

SIGNING_KEY = "formats-test-signing-key-not-a-secret-01234"
HOSTILE_UA = 'it\'s "quoted" = \\ x y=z'


def _token(**delta_s: int) -> str:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "formats", **{claim: now + s for claim, s in delta_s.items()}}
    return jwt.encode(claims, SIGNING_KEY, algorithm="HS256")


async def _endpoint(request: Request) -> JSONResponse:
    """The check FastAPI's tutorial writes, by hand: a bearer JWT, 401
    otherwise; /admin answers 403 to everyone (a common mistake)."""
    if request.url.path == "/admin":
        return JSONResponse({"detail": "Not authenticated"}, 403)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme != "Bearer" or not token:
        return JSONResponse({"detail": "Not authenticated"}, 401, headers=challenge)
    try:
        jwt.decode(token, SIGNING_KEY, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return JSONResponse({"detail": "Could not validate credentials"}, 401, headers=challenge)
    return JSONResponse({"ok": True})


APP = Starlette(routes=[Route("/{path:path}", _endpoint)])

# Each of structlog's renderers, in the configurations people use.
RENDERERS: dict[str, Processor] = {
    "json": JSONRenderer(),
    "console-colours": ConsoleRenderer(colors=True),
    "console-plain": ConsoleRenderer(colors=False),
    "console-unpadded-unsorted": ConsoleRenderer(
        colors=False, pad_event_to=0, pad_level=False, sort_keys=False
    ),
    "key-value": KeyValueRenderer(),
    "key-value-sorted": KeyValueRenderer(sort_keys=True),
    "key-value-event-first": KeyValueRenderer(key_order=["timestamp", "event"]),
    "logfmt": LogfmtRenderer(),
    "logfmt-no-flags": LogfmtRenderer(bool_as_flag=False),
    "logfmt-sorted": LogfmtRenderer(sort_keys=True),
}
FORMAT_OF = {
    name: Format.JSON
    if name == "json"
    else Format.CONSOLE
    if name.startswith("console")
    else Format.KEY_VALUE
    for name in RENDERERS
}


def _tee(rendered: dict[str, list[str]]) -> Processor:
    def tee(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        for name, renderer in RENDERERS.items():
            line = renderer(logger, method, copy.deepcopy(event_dict))
            assert isinstance(line, str)
            rendered[name].append(line)
        raise structlog.DropEvent

    return tee


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[str]]:
    """The middleware's events for a burst of real refusals, each rendered
    by every renderer (one line per event, in the same order)."""
    hygiene_logging._reported.clear()  # auth.misconfig is written once a process
    lines: dict[str, list[str]] = {name: [] for name in RENDERERS}
    logger = structlog.wrap_logger(
        None, processors=[add_log_level, TimeStamper(fmt="iso", utc=True), _tee(lines)]
    )
    limited = {"per_key": 2, "total": 1000, "window_s": 3600}
    guarded = AuthHygiene(APP, realm="api", logger=logger, log_limit=limited)
    watched = AuthHygiene(APP, realm="api", logger=logger, report_only=True)
    soon, long_ago = _token(exp=-30, iat=-3600), _token(exp=-3600, iat=-7200)
    requests: list[tuple[Any, str, dict[str, str]]] = [
        (guarded, "/items", {}),
        (guarded, "/a b", {"Authorization": f"Bearer {soon}", "User-Agent": HOSTILE_UA}),
        *[(guarded, "/items", {"Authorization": f"Bearer {long_ago}"})] * 6,
        (guarded, "/items", {"Authorization": f"Bearer {_token(nbf=60)}"}),
        (guarded, "/items", {"Authorization": "Bearer not-a-jwt-3f9c0a7e"}),
        (guarded, "/items", {"Authorization": "Bearer Bearer not-a-jwt-3f9c0a7e"}),
        (guarded, "/admin", {}),
        (watched, "/report", {}),
    ]
    # One client a middleware: its lifespan's end writes the pending counts.
    with TestClient(guarded) as guarded_client, TestClient(watched) as watched_client:
        clients = {id(guarded): guarded_client, id(watched): watched_client}
        for app, path, headers in requests:
            status = clients[id(app)].get(path, headers=headers).status_code
            assert status in (400, 401, 403)
    assert len({len(v) for v in lines.values()}) == 1
    return lines


def _without_lines(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "lines"}


def test_the_events_cover_every_event_the_summary_reads(rendered: dict[str, list[str]]) -> None:
    summary = summarise(rendered["json"])
    assert dict(summary.event_lines) == {
        "auth.failure": 8,
        "auth.failure.suppressed": 1,
        "auth.report_only": 1,
        "auth.misconfig": 1,
    }
    assert summary.suppressed == 4
    assert (summary.skew_flagged, summary.skew_suspected) == (4, 2)
    assert {t.value for t in summary.problems} == {"doubled_scheme"}


@pytest.mark.parametrize("renderer", [name for name in RENDERERS if name != "json"])
def test_every_rendering_gives_the_json_summary(
    rendered: dict[str, list[str]], renderer: str
) -> None:
    """The core promise: a log in any rendering summarises exactly as the
    same events rendered as JSON, and its header names the rendering."""
    lines = rendered[renderer]
    expected, got = to_json(summarise(rendered["json"])), to_json(summarise(lines))
    assert _without_lines(got) == _without_lines(expected)
    formats = {fmt.value: 0 for fmt in Format} | {FORMAT_OF[renderer].value: len(lines)}
    assert got["lines"]["formats"] == formats
    assert (got["lines"]["events"], got["lines"]["unreadable"]) == (len(lines), 0)
    assert got["lines"]["by_event"] == expected["lines"]["by_event"]
    label = FORMAT_OF[renderer].label
    assert render_text(summarise(lines)).startswith(
        f"{len(lines)} lines read: {len(lines)} events ({len(lines)} {label}), 0 unreadable"
    )


# Values whose type the summary depends on, and their type in JSON.
TYPED = ("status", "count", "would_status", "clock_skew_suspected", "exp_delta_s")
TEXT = ("event", "reason", "path", "client", "user_agent", "kind", "since", "timestamp", "problem")


@pytest.mark.parametrize("renderer", [name for name in RENDERERS if name != "json"])
def test_values_come_back_typed(rendered: dict[str, list[str]], renderer: str) -> None:
    for json_line, line in zip(rendered["json"], rendered[renderer], strict=True):
        want = json.loads(json_line)
        parsed = parse_line(line)
        assert parsed is not None
        for key in (*TYPED, *TEXT):
            if key in want:
                got = parsed.event[key]
                assert (got, type(got)) == (want[key], type(want[key])), key
        assert parse_time(parsed.event["timestamp"]) == parse_time(want["timestamp"])


def test_typed_values_seen(rendered: dict[str, list[str]]) -> None:
    """The table above saw what the issue names: a suppressed count as an
    int, the flag as a bool both ways, a negative exp_delta_s."""
    events = [json.loads(line) for line in rendered["json"]]
    assert any(e.get("count") == 4 for e in events)
    assert {e.get("clock_skew_suspected") for e in events} >= {True, False}
    assert any(isinstance(e.get("exp_delta_s"), int) and e["exp_delta_s"] < 0 for e in events)
    assert any(e.get("path") == "/a b" for e in events)


PREFIXES = [
    pytest.param("WARNING:authhygiene:", id="stdlib-default"),
    pytest.param("2026-12-07 06:19:21,123 WARNING authhygiene ", id="stdlib-asctime"),
    pytest.param("2026-12-07T06:19:21.123456789Z stdout F ", id="container-runtime"),
    pytest.param("web-1  | ", id="compose"),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("renderer", ["console-plain", "console-colours", "key-value", "logfmt"])
def test_a_prefix_before_the_rendering(
    rendered: dict[str, list[str]], renderer: str, prefix: str
) -> None:
    lines = [prefix + line for line in rendered[renderer]]
    expected = to_json(summarise(rendered["json"]))
    assert _without_lines(to_json(summarise(lines))) == _without_lines(expected)


def test_a_log_of_mixed_renderings(rendered: dict[str, list[str]]) -> None:
    """One line in each rendering in turn (services migrating one by one)."""
    names = list(RENDERERS)
    lines = [rendered[names[i % len(names)]][i] for i in range(len(rendered["json"]))]
    summary = summarise(lines)
    assert _without_lines(to_json(summary)) == _without_lines(to_json(summarise(rendered["json"])))
    assert summary.events == len(lines)
    assert summary.json_objects + summary.console_events + summary.key_value_events == len(lines)
    assert 0 not in (summary.json_objects, summary.console_events, summary.key_value_events)


def test_no_credential_in_any_rendering(rendered: dict[str, list[str]]) -> None:
    everything = "\n".join(line for lines in rendered.values() for line in lines)
    assert "eyJ" not in everything
    assert "not-a-jwt-3f9c0a7e" not in everything


# --- what a client writes into an event, in every rendering ---------------------------

# The fields of an auth.failure whose text a client chooses: its request's
# path, query, User-Agent and Origin, and an unverified JWT's claims. The
# middleware logs them as printable ASCII, bounded.
CLIENT_FIELDS = ("path", "query", "user_agent", "origin", "alg", "kid", "iss", "aud")
CLIENT_TEXT = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.lists(
        st.sampled_from(
            [
                "'",
                '"',
                "\\",
                " ",
                "=",
                "(",
                ")",
                "[",
                "]",
                "{",
                "}",
                ",",
                ":",
                "x",
                " event=auth.failure.suppressed count=99999999999",
                " event='auth.failure.suppressed' count=99999999999",
                " reason=forged status=500",
                " a='",
                ' a="',
                " path=/forged",
            ]
        ),
        max_size=8,
    ).map("".join),
)
# With sorted keys, `alg` and `aud` come before `event` and the rest after
# it: a client writing both can make the whole line read, by the other
# renderer's rules, as another event. Both readings are then exact, so the
# line is counted unreadable: nothing is taken from it.
AMBIGUOUS_WHEN_SORTED = frozenset({"key-value-sorted", "logfmt-sorted"})


@pytest.fixture(scope="module")
def client_event() -> dict[str, Any]:
    """The middleware's auth.failure for a request with a JWT signed with
    another key, as the renderer is handed it: every client field in it."""
    events: list[dict[str, Any]] = []

    def keep(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        events.append(copy.deepcopy(event_dict))
        raise structlog.DropEvent

    logger = structlog.wrap_logger(
        None, processors=[add_log_level, TimeStamper(fmt="iso", utc=True), keep]
    )
    claims = {"sub": "a", "aud": ["api", "web"], "iss": "https://issuer", "exp": 1}
    token = jwt.encode(claims, "another-key-" + SIGNING_KEY, headers={"kid": "k1"})
    with TestClient(AuthHygiene(APP, realm="api", logger=logger, log_limit=None)) as client:
        client.get("/items?q=1", headers={"Authorization": f"Bearer {token}", "Origin": "o"})
    (event,) = (e for e in events if e["event"] == "auth.failure")
    assert set(CLIENT_FIELDS) <= set(event)
    return event


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(dict.fromkeys(CLIENT_FIELDS, CLIENT_TEXT)), st.booleans())
def test_what_a_client_writes_counts_as_in_json(
    client_event: dict[str, Any], values: dict[str, str], aud_list: bool
) -> None:
    """Whatever a client puts in the fields it controls, every rendering of
    its event summarises as the JSON one: it creates, erases and changes
    nothing. (A path is the request's, so it starts with a slash.)"""
    event = {**client_event, **values, "path": "/" + values["path"]}
    if aud_list:
        event["aud"] = [values["aud"], values["iss"]]
    expected = _without_lines(to_json(summarise([JSONRenderer()(None, "warning", dict(event))])))
    assert expected["failures"]["total"] == 1
    for name, renderer in RENDERERS.items():
        summary = summarise([renderer(None, "warning", copy.deepcopy(event))])
        if name in AMBIGUOUS_WHEN_SORTED and summary.unreadable:
            assert (summary.events, summary.failures) == (0, 0), name
            continue
        assert _without_lines(to_json(summary)) == expected, name


# Forgeries found by attacking the reader (issue 18), one line each: the
# event the JSON rendering counts, or an unreadable line, never another.
FORGERIES = [
    pytest.param(
        "logfmt",
        {"user_agent": "'", "origin": "x' event=auth.failure.suppressed count=99999999999 a="},
        id="logfmt-bare-quote",
    ),
    pytest.param(
        "console-plain", {"origin": "a(", "user_agent": ")"}, id="console-bracket-erasure"
    ),
    pytest.param("console-plain", {"origin": "(a,", "query": "b)"}, id="console-comma-bracket"),
    pytest.param(
        "key-value",
        {"path": "/' event=auth.failure.suppressed count=9 a='", "user_agent": '"'},
        id="key-value-quotes",
    ),
    pytest.param(
        "logfmt-sorted",
        {
            "alg": "'",
            "aud": "x",  # a list's repr between would close the quote early
            "origin": "x' count=999 event='auth.failure.suppressed' reason='forged' z='",
            "user_agent": "'",
        },
        id="logfmt-sorted-read-as-repr",
    ),
    pytest.param(
        "key-value-sorted",
        {
            "alg": 'a b="c',
            "user_agent": 'z" count=999 event=auth.failure.suppressed reason=forged q=x',
        },
        id="key-value-sorted-read-as-logfmt",
    ),
]


@pytest.mark.parametrize(("renderer", "values"), FORGERIES)
def test_forgeries_count_nothing_else(
    client_event: dict[str, Any], renderer: str, values: dict[str, str]
) -> None:
    event = {**client_event, **values}
    summary = summarise([RENDERERS[renderer](None, "warning", copy.deepcopy(event))])
    assert summary.suppressed == 0
    if renderer in AMBIGUOUS_WHEN_SORTED:
        # Read whole by both renderers' rules as different events: one
        # failure, with only what both readings agree on (never "forged").
        assert (summary.unreadable, summary.failures) == (0, 1)
        assert "forged" not in {row.reason for row in summary.by_reason_status}
    else:
        expected = summarise([JSONRenderer()(None, "warning", dict(event))])
        assert _without_lines(to_json(summary)) == _without_lines(to_json(expected))


# Free text that holds pairs or JSON, after a prefix or none: no event.
@pytest.mark.parametrize(
    "line",
    [
        pytest.param(
            "INFO:app:login failed for user bob event=auth.failure.suppressed count=99999999999",
            id="stdlib-message",
        ),
        pytest.param("ValueError: no item x event=auth.failure status=401", id="exception"),
        pytest.param('INFO:app:user typed {"event": "auth.failure"}', id="json-in-a-message"),
        pytest.param('x {"event": "auth.failure"}', id="json-after-a-word"),
        pytest.param(
            "[info     ] auth.failure logged in count=9 event=auth.failure.suppressed",
            id="console-message-starting-with-an-event-name",
        ),
        pytest.param(
            "[info     ] login failed event=auth.failure.suppressed count=9",
            id="console-message-with-an-event-pair",
        ),
    ],
)
def test_free_text_is_no_auth_event(line: str) -> None:
    summary = summarise([line])
    assert (summary.failures, summary.suppressed, dict(summary.event_lines)) == (0, 0, {})


# --- structlog with no configuration at all -------------------------------------------

DEFAULT_CONFIG_APP = """
import jwt
import structlog
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from authhygiene import AuthHygiene
from authhygiene.logging import flush_suppressed

KEY = "formats-test-signing-key-not-a-secret-01234"


async def endpoint(request):
    if request.url.path == "/admin":
        return JSONResponse({"detail": "Not authenticated"}, 403)
    challenge = {"WWW-Authenticate": "Bearer"}
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if not token:
        return JSONResponse({"detail": "Not authenticated"}, 401, challenge)
    try:
        jwt.decode(token, KEY, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return JSONResponse({"detail": "Could not validate credentials"}, 401, challenge)
    return JSONResponse({"ok": True})


# structlog as installed: no configure(), its default chain and
# ConsoleRenderer on stdout; the middleware's default logger.
app = AuthHygiene(
    Starlette(routes=[Route("/{path:path}", endpoint)]),
    realm="api",
    log_limit={"per_key": 2, "total": 100, "window_s": 3600},
)
expired = jwt.encode({"sub": "a", "exp": 1_700_000_000}, KEY, algorithm="HS256")
with TestClient(app) as client:
    client.get("/items")
    for _ in range(5):
        client.get("/items", headers={"Authorization": "Bearer " + expired})
    client.get("/admin")
log = structlog.get_logger("app")
try:
    raise ValueError("bad\\nthing")
except ValueError:
    log.exception("handler failed", path="/items")
log.warning("slow request", duration_ms=1234.5, stack_info=True)
flush_suppressed()
"""


@pytest.mark.parametrize(
    ("colour", "env"),
    [
        pytest.param(False, {"NO_COLOR": "1"}, id="no-colour"),
        pytest.param(True, {"FORCE_COLOR": "1"}, id="colour"),
    ],
)
def test_structlog_default_configuration(colour: bool, env: dict[str, str]) -> None:
    """The log a first run writes: structlog unconfigured (its default
    ConsoleRenderer, local time without an offset), colours forced on or
    off as a terminal or `NO_COLOR` would, with a traceback and a stack in
    between the events."""
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    done = subprocess.run(
        [sys.executable, "-c", DEFAULT_CONFIG_APP],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **env},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert ("\x1b[" in done.stdout) is colour
    summary = summarise(done.stdout.splitlines())
    assert summary.console_events == summary.events == 8
    assert (summary.logged, summary.suppressed, summary.failures) == (4, 3, 7)
    assert {t.value: t.count for t in summary.by_reason} == {
        "credentials_missing": 2,
        "token_expired": 5,
    }
    assert summary.other_events == 2
    # Traceback, File, ValueError; Stack, File (the script is one frame).
    assert summary.exception_lines == 5
    assert summary.unreadable == 1  # the message's second line, "thing"
    assert summary.untimed == 0
    assert summary.lines == summary.events + summary.unreadable + summary.exception_lines
    assert [m.kind for m in summary.misconfig] == ["403_for_missing_credentials"]


# --- hostile text ------------------------------------------------------------------

# The characters a key=value reader trips on, and pieces of real lines.
PIECES = st.sampled_from(
    [
        "=",
        "'",
        '"',
        "\\",
        " ",
        "\t",
        "[",
        "]",
        "(",
        ")",
        "{",
        "}",
        ":",
        "\x1b[",
        "\x1b[31m",
        "m",
        "\u202e",
        "\x00",
        "event=",
        "event='auth.failure' ",
        "event=auth.failure ",
        "[warning  ] auth.failure ",
        "[info] ",
        "reason=",
        "count=",
        "status=401 ",
        "clock_skew_suspected",
        "=True",
        "None",
        "-3",
        "1e5",
        "datetime.datetime(",
        "Traceback (most recent call last):",
        "2026-12-07 06:19:21",
        "key",
        "x",
    ]
)
hostile_text = st.lists(PIECES | st.text(max_size=5), max_size=40).map("".join)
hostile_lines = st.one_of(
    hostile_text,
    st.binary(max_size=200),
    st.text(max_size=200),
    st.builds(lambda unit, n: unit * n, hostile_text.filter(bool), st.integers(1, 4000)),
)


def check_books(summary: Summary) -> None:
    assert summary.lines == (
        summary.events + summary.unreadable + summary.exception_lines + summary.too_long
    )
    assert sum(n for _, n in summary.event_lines) + summary.other_events == summary.events
    assert sum(t.count for t in summary.by_reason) == summary.failures
    text = render_text(summary)
    assert [c for c in text if c != "\n" and not c.isprintable()] == []
    assert max(len(line) for line in text.splitlines()) < 600
    json.dumps(to_json(summary), allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(st.lists(hostile_lines, max_size=12))
def test_hostile_text_never_breaks_the_summary(lines: list[str | bytes]) -> None:
    check_books(summarise(lines))


@settings(max_examples=300, deadline=None)
@given(hostile_text)
def test_any_line_reads_or_is_refused(line: str) -> None:
    parsed = parse_line(line)
    if parsed is not None:
        assert len(parsed.event) <= MAX_PAIRS + 4  # event, level, logger, timestamp
        assert all(isinstance(key, str) for key in parsed.event)


# One unit repeated to a whole line: the shapes that make a careless
# key=value reader backtrack or rescan (quadratic or worse).
PATHOLOGICAL = [
    "a=[ ",
    "a=' ",
    'a=" ',
    "\\'",
    "=",
    "a=",
    "a= ",
    "'",
    "x ",
    "[warning ] ",
    "\x1b[1m",
    "\x1b[" + "1;" * 40,
    "a=(",
    "a=b(",
    "x=[' ",
    "a='\\' ",
    'k="\\" ',
    "[(",
    "event='",
    "a" * 70 + "=",
    "Traceback ",
]


@pytest.mark.parametrize("unit", PATHOLOGICAL)
@pytest.mark.parametrize("head", ["", "event=auth.failure ", "[warning  ] auth.failure "])
def test_long_hostile_lines_read_in_linear_time(unit: str, head: str) -> None:
    """A 64 KiB line of any of these reads in milliseconds (a quadratic scan
    of one takes seconds)."""
    body = (unit * (MAX_LINE_BYTES // len(unit)))[: MAX_LINE_BYTES - len(head) - 1]
    half_body = body[: len(body) // 2]
    # Twice the line, about twice the work (counted, not timed).
    half = steps(summarise, [head + half_body])
    whole = steps(summarise, [head + body])
    assert whole <= 2.5 * half + 200, (half, whole)
    check_books(summarise([head + body]))


def _lines_of(make: Callable[[int], str], count: int) -> Iterator[str]:
    return (make(i) for i in range(count))


def test_a_long_console_log_reads_at_a_steady_rate() -> None:
    """10,000 console lines: a bounded per-line cost, not a growing one."""
    start = datetime(2026, 12, 7, tzinfo=UTC)

    def line(i: int) -> str:
        moment = (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        return (
            f"{moment} [warning  ] auth.failure                   client=10.0.{i % 7}.1"
            f" path='/a b' reason=token_expired status=401 clock_skew_suspected=False"
        )

    # Twice the lines, about twice the work (counted, not timed).
    half = steps(summarise, list(_lines_of(line, 2_500)))
    whole = steps(summarise, list(_lines_of(line, 5_000)))
    assert whole <= 2.2 * half, (half, whole)
    summary = summarise(_lines_of(line, 10_000))
    assert summary.failures == summary.console_events == 10_000
    assert summary.distinct_clients == 7
