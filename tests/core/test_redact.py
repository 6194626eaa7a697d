"""Secrets never survive into text that leaves the server or reaches a log."""

from __future__ import annotations

import pytest

from authhygiene.core.redact import bounded, redact_query, scrub

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        pytest.param("bad token abcdef", ("abcdef",), "bad token [redacted]", id="known"),
        pytest.param(f"got {JWT} here", (), "got [redacted] here", id="jwt"),
        pytest.param(
            "Authorization: Bearer abc.def.ghi", (), "Authorization: [redacted]", id="bearer"
        ),
        pytest.param("basic   dXNlcjpwYXNz", (), "[redacted]", id="basic"),
        pytest.param("token 9f86d081884c7d65", (), "[redacted]", id="hex"),
        # An app's own words are not secrets.
        pytest.param("Token expired", (), "Token expired", id="words-1"),
        pytest.param("Missing bearer token", (), "Missing bearer token", id="words-2"),
        pytest.param(
            "Basic authentication required", (), "Basic authentication required", id="words-3"
        ),
        pytest.param("Invalid token header.", (), "Invalid token header.", id="words-4"),
        pytest.param("nothing secret", (), "nothing secret", id="clean"),
        # A short secret is replaced where it stands alone, not inside words.
        pytest.param("bad pw1 given", ("pw1",), "bad [redacted] given", id="short-alone"),
        pytest.param("abc", ("ab",), "abc", id="short-inside-a-word"),
    ],
)
def test_scrub(text: str, secrets: tuple[str, ...], expected: str) -> None:
    assert scrub(text, secrets) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("page=2&q=x", "page=2&q=x", id="plain"),
        pytest.param("access_token=abc&page=2", "access_token=[redacted]&page=2", id="token"),
        pytest.param("api_key=k&password=p", "api_key=[redacted]&password=[redacted]", id="keys"),
        pytest.param(f"next={JWT}", "next=[redacted]", id="jwt-value"),
    ],
)
def test_redact_query(query: str, expected: str) -> None:
    assert redact_query(query) == expected


def test_bounded() -> None:
    assert bounded("a\r\nb\u00e9", 10) == "a??b?"
    assert bounded("x" * 20, 5) == "xxxxx..."
