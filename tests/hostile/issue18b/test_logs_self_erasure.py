"""Issue 18b attack on `authhygiene logs` reading key=value and logfmt
lines: a client-controlled value must not forge counts. With sort_keys=True
(KeyValueRenderer or LogfmtRenderer) the JWT claims/header a client sends
sort on both sides of ``event``, so the client can make its own
`auth.failure` line read as a whole under the OTHER renderer's quoting
rules too; `formats._believed` then calls the line ambiguous and counts it
unreadable. The failure disappears from every table: an attacker sending
unsigned JWTs hides its own attempts ("no auth.failure events found").

Every row is the real middleware's log compared with the JSON rendering of
the same requests. Rows FAIL on the code as reviewed: evidence, not xfail."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import structlog

from authhygiene.log_summary import render_text, summarise
from tests.hostile.issue18.logged import Requests, refusals_logged

RENDERERS: dict[str, Any] = {
    "json": structlog.processors.JSONRenderer,
    "key_value_sorted": lambda: structlog.processors.KeyValueRenderer(sort_keys=True),
    "logfmt_sorted": lambda: structlog.processors.LogfmtRenderer(sort_keys=True),
}


def _jwt(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.c2ln"


def _log_of(renderer: str, requests: Requests) -> list[str]:
    return refusals_logged(RENDERERS[renderer](), requests)


# (renderer, the attacker's headers): an expired, unsigned JWT whose header
# or claims hold text that reads as pairs under the other renderer's rules.
SELF_ERASURE = [
    (
        # logfmt's `"` in aud (sorted before event) opens a string that iss's
        # `"` (sorted after) closes: the line also reads as logfmt, with
        # event=auth.failure.suppressed; both readings differ, so neither.
        "key_value_sorted",
        [
            (
                "authorization",
                "Bearer "
                + _jwt(
                    {"alg": "HS256"},
                    {
                        "aud": 'x event=auth.failure.suppressed count=99 q="',
                        "iss": '" z=',
                        "exp": 1,
                    },
                ),
            )
        ],
    ),
    (
        # alg (the first key) is a bare `'`: repr's string runs to kid's `'`,
        # kid's text supplies event=, user_agent's bare `'` closes the rest.
        "logfmt_sorted",
        [
            ("user-agent", "'"),
            (
                "authorization",
                "Bearer " + _jwt({"alg": "'", "kid": "x' event='auth.failure' y='"}, {"exp": 1}),
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("renderer", "headers"), SELF_ERASURE, ids=[renderer for renderer, _ in SELF_ERASURE]
)
def test_a_client_cannot_erase_its_own_failure(
    renderer: str, headers: list[tuple[str, str]]
) -> None:
    """The attacker's line is ambiguous (it reads whole under both
    renderers' rules): it still counts as one failure, with only the fields
    both readings agree on; the other request's line is read exactly."""
    requests = [("/login", headers), ("/next", [])]
    expected = summarise(_log_of("json", requests))
    assert expected.failures == 2
    seen = summarise(_log_of(renderer, requests))
    assert seen.failures == expected.failures
    assert seen.suppressed == 0
    real = {(row.reason, row.status) for row in expected.by_reason_status}
    assert {(row.reason, row.status) for row in seen.by_reason_status if row.reason} <= real
    assert ("/next", 1) in {(row.value, row.count) for row in seen.top_paths}


@pytest.mark.parametrize(
    ("renderer", "headers"), SELF_ERASURE, ids=[renderer for renderer, _ in SELF_ERASURE]
)
def test_fifty_attempts_are_not_reported_as_none(
    renderer: str, headers: list[tuple[str, str]]
) -> None:
    text = render_text(summarise(_log_of(renderer, [("/login", headers)] * 50)))
    # FAILS now: "no auth.failure events found" over 50 refused attempts.
    assert "no auth.failure events found" not in text
