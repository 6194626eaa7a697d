"""Issue 18 attack on `authhygiene logs` reading console, key=value and
logfmt lines: what a client puts in its headers, or any free text in the
log, must not forge or erase auth failures, and every rendering of the same
real events must give the summary the JSON rendering gives.

Tests marked FAILS fail on the code as reviewed (evidence for the fix)."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from authhygiene.log_summary import summarise
from tests.hostile.issue18.logged import Requests, refusals_logged

RENDERERS: dict[str, Any] = {
    "json": structlog.processors.JSONRenderer(),
    "console": structlog.dev.ConsoleRenderer(colors=False),
    "console_colors": structlog.dev.ConsoleRenderer(colors=True),
    "console_unpadded_unsorted": structlog.dev.ConsoleRenderer(
        colors=False, pad_event_to=0, sort_keys=False
    ),
    "key_value": structlog.processors.KeyValueRenderer(),
    "key_value_sorted": structlog.processors.KeyValueRenderer(sort_keys=True),
    "logfmt": structlog.processors.LogfmtRenderer(),
    "logfmt_flags": structlog.processors.LogfmtRenderer(bool_as_flag=True),
}


def _log_of(renderer: str, requests: Requests) -> list[str]:
    return refusals_logged(RENDERERS[renderer], requests)


def _counts(lines: list[str]) -> dict[str, object]:
    summary = summarise(lines)
    return {
        "failures": summary.failures,
        "suppressed": summary.suppressed,
        "by_reason_status": [(r.reason, r.status, r.count) for r in summary.by_reason_status],
        "paths": [(t.value, t.count) for t in summary.top_paths],
    }


# Headers any client may send; each row is one request to /users/me.
HOSTILE_HEADERS = {
    # held: ordinary and quoted values
    "plain": [("user-agent", "curl/8.0")],
    "spaces_and_quotes": [("user-agent", 'it\'s "x" y=z'), ("origin", "https://a b")],
    "words_python_reads": [("user-agent", "None"), ("origin", "True")],
    # FAILS (logfmt, logfmt_flags): a bare leading quote desynchronises the
    # reader; the next quoted value then smuggles pairs, event= first wins.
    "logfmt_smuggle": [
        ("user-agent", "'"),
        ("origin", "x' event=auth.failure.suppressed count=99999999999 a="),
    ],
    # FAILS (console*): an opening bracket in one bare value and a closing
    # one in a later value swallow reason, status and path between them.
    "console_bracket_erasure": [("origin", "a("), ("user-agent", ")")],
}


@pytest.mark.parametrize("renderer", sorted(set(RENDERERS) - {"json"}))
@pytest.mark.parametrize("headers", sorted(HOSTILE_HEADERS))
def test_every_rendering_counts_what_json_counts(renderer: str, headers: str) -> None:
    requests = [("/users/me", HOSTILE_HEADERS[headers]), ("/other", [])]
    expected = _counts(_log_of("json", requests))
    assert expected["failures"] == 2
    assert _counts(_log_of(renderer, requests)) == expected


# Lines that are not the middleware's events but hold text anyone can
# choose (a user name, a path parameter in an exception message).
FREE_TEXT_LINES = {
    "stdlib_prefix_then_free_text": (
        "INFO:app:login failed for user bob event=auth.failure.suppressed"
        " count=99999999999 reason=token_expired client=203.0.113.9 path=/admin"
    ),
    "traceback_last_line": (
        "ValueError: no item x event=auth.failure reason=token_signature_invalid status=401"
    ),
    "console_event_with_free_text_message": (
        "2026-12-07 06:19:21 [info     ] login failed for bob event=auth.failure.suppressed"
        " count=1000000000 reason=token_expired"
    ),
}


@pytest.mark.parametrize("name", sorted(FREE_TEXT_LINES))
def test_free_text_that_holds_pairs_is_no_auth_failure(name: str) -> None:
    """FAILS now: each line below counts as an auth failure, the first and
    third as 1,000,000,000 of them (count capped at MAX_SUPPRESSED_COUNT)."""
    lines = [
        '{"event": "auth.failure", "reason": "token_expired", "status": 401}',
        FREE_TEXT_LINES[name],
    ]
    assert summarise(lines).failures == 1
