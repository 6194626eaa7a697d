"""`core.origin_check.origin_refused`: the CORS allow-list as the rule for
requests a browser sends without asking (WebSocket handshakes, MCP calls)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene import CORS
from authhygiene.core.origin_check import ORIGIN_REFUSAL, ORIGIN_REFUSED_ANSWER, origin_refused
from authhygiene.core.reasons import REASONS, Reason

LISTED = CORS(allow_origins=["https://app.example", "http://localhost:5173"])
PATTERN = CORS(allow_origin_regex=r"https://[a-z0-9-]+\.example\.com")
ANYONE = CORS(allow_origins=["*"], allow_credentials=False)


@pytest.mark.parametrize(
    ("cors", "values", "refused"),
    [
        (LISTED, [], False),  # no Origin: curl, an SDK, another server
        (LISTED, ["https://app.example"], False),
        (LISTED, ["http://localhost:5173"], False),
        (LISTED, ["https://evil.example"], True),
        (LISTED, ["https://app.example:8443"], True),  # another port, another origin
        (LISTED, ["http://app.example"], True),  # another scheme
        (LISTED, ["HTTPS://APP.EXAMPLE"], True),  # never a browser's serialisation
        (LISTED, ["https://app.example/"], True),
        (LISTED, ["null"], True),  # sandboxed frames, file: pages
        (LISTED, [""], True),
        (LISTED, ["https://app.example", "https://app.example"], True),  # two fields
        (LISTED, ["https://app.example\r\nX: y"], True),
        (LISTED, ["https://" + "a" * 600 + ".example"], True),  # oversized: no work
        (PATTERN, ["https://tenant-1.example.com"], False),
        (PATTERN, ["https://tenant-1.example.com.evil.net"], True),
        (ANYONE, ["https://anyone.example"], False),
        (ANYONE, ["null"], True),
    ],
)
def test_origin_refused(cors: CORS, values: list[str], refused: bool) -> None:
    assert origin_refused(cors, values) is refused


def test_the_refusal_is_a_403_without_an_oauth_error() -> None:
    # RFC 6750 defines no error code for it, so a 403 carries no challenge.
    info = REASONS[Reason.ORIGIN_NOT_ALLOWED]
    assert ORIGIN_REFUSAL.reason is Reason.ORIGIN_NOT_ALLOWED
    assert ORIGIN_REFUSED_ANSWER.status == info.status == 403
    assert info.error is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=3))
def test_any_origin_fields_give_an_answer_and_only_listed_ones_pass(values: list[str]) -> None:
    refused = origin_refused(LISTED, values)
    if not values:
        assert refused is False
    elif not refused:
        assert len(values) == 1
        assert values[0] in ("https://app.example", "http://localhost:5173")
