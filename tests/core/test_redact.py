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
        # Shapes found in whatever an app or a server logs.
        pytest.param(
            "GET /items?page=2&access_token=abc123 HTTP/1.1",
            (),
            "GET /items?page=2&access_token=[redacted] HTTP/1.1",
            id="url-query",
        ),
        pytest.param(
            "Cookie: session=s3cr3tvalue; theme=dark", (), "Cookie: [redacted]", id="cookie"
        ),
        pytest.param(
            "{'authorization': 'x9Y8z7W6v5'}", (), "{'authorization': '[redacted]'}", id="repr"
        ),
        pytest.param("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", (), "key [redacted]", id="stripe"),
        pytest.param("ghp_" + "a1B2" * 9, (), "[redacted]", id="github"),
        pytest.param("id AKIAIOSFODNN7EXAMPLE", (), "id [redacted]", id="aws"),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
            (),
            "[redacted]",
            id="pem",
        ),
        pytest.param("k=Zx8Qm2Lr5Tv9Wb3Nc7Hd1Jf6", (), "k=[redacted]", id="high-entropy"),
        pytest.param(
            "bad token Bearer abcdefghijklmnopqrstuvwxyzqwerty",
            (),
            "bad token [redacted]",
            id="lowercase-token-after-scheme",
        ),
        pytest.param('{"password": "hunter2"}', (), '{"password": "[redacted]"}', id="json"),
        pytest.param("{'accessToken': 'abcdef'}", (), "{'accessToken': '[redacted]'}", id="repr"),
        pytest.param(
            '{"access_token": "abcdef", "token_type": "bearer"}',
            (),
            '{"access_token": "[redacted]", "token_type": "bearer"}',
            id="oauth-response",
        ),
        pytest.param(
            "/x?next=%2Fcb%3Faccess_token%3Dabcdef%26page%3D2",
            (),
            "/x?next=%2Fcb%3Faccess_token%3D[redacted]%26page%3D2",
            id="url-encoded-query",
        ),
        pytest.param(
            "connect postgres://app:s3cretpw@db/x failed",
            (),
            "connect postgres://app:[redacted]@db/x failed",
            id="url-userinfo",
        ),
        pytest.param(
            "GET /p?q=Bearer%20abcdefghijklmnopqrstuvwxyzqwerty HTTP/1.1",
            (),
            "GET /p?q=[redacted] HTTP/1.1",
            id="url-encoded-scheme",
        ),
        pytest.param('{"password": "o\'brien-Secret1"}', (), '{"password": "[redacted]"}'),
        pytest.param('{"password": "a\\"bcSecret"}', (), '{"password": "[redacted]"}'),
        pytest.param(
            "next=/cb?access_token%3Dabcdef", (), "next=/cb?access_token%3D[redacted]", id="wz"
        ),
        pytest.param("redis://:s3cretpw@cache:6379/0", (), "redis://:[redacted]@cache:6379/0"),
        pytest.param("user=bob password=hunter2 x=1", (), "user=bob password=[redacted] x=1"),
        pytest.param("f(token=abc123)", (), "f(token=[redacted])", id="call-repr"),
        # What operators correlate by, and placeholders, stay.
        pytest.param('"POST /oauth/token HTTP/1.1" 200', (), '"POST /oauth/token HTTP/1.1" 200'),
        pytest.param("GET /api/auth/basic HTTP/1.1", (), "GET /api/auth/basic HTTP/1.1"),
        pytest.param("?token_type=bearer&x=1", (), "?token_type=bearer&x=1", id="token-type"),
        pytest.param(
            "  1  4%  Basic\n\nProblems with the credentials",
            (),
            "  1  4%  Basic\n\nProblems with the credentials",
            id="scheme-word-ending-a-line",
        ),
        pytest.param(
            "allow_credentials=True password=None token=3, or set allow_credentials=False.",
            (),
            "allow_credentials=True password=None token=3, or set allow_credentials=False.",
            id="nothing-to-hide",
        ),
        pytest.param(
            "auth.failure problem=token_in_query scheme=Bearer",
            (),
            "auth.failure problem=token_in_query scheme=Bearer",
            id="our-own-key-values",
        ),
        pytest.param("Bearer authentication required", (), "Bearer authentication required"),
        pytest.param("id 9f86d081884c7d65 ok", (), "id 9f86d081884c7d65 ok", id="fingerprint"),
        pytest.param(
            "req 262d2b61-fa87-4a6f-987e-58fdb754db11",
            (),
            "req 262d2b61-fa87-4a6f-987e-58fdb754db11",
            id="uuid",
        ),
        pytest.param(
            "send 'Authorization: Bearer <token>'.",
            (),
            "send 'Authorization: Bearer <token>'.",
            id="placeholder",
        ),
        pytest.param(
            "scheme=Bearer server_time=2026-11-23T03:36:45Z",
            (),
            "scheme=Bearer server_time=2026-11-23T03:36:45Z",
            id="key-value-after-scheme",
        ),
        pytest.param(
            "authhygiene.core.origin_patterns.check_pattern",
            (),
            "authhygiene.core.origin_patterns.check_pattern",
            id="dotted-name",
        ),
        pytest.param(
            "AuthenticationMiddlewareBackend", (), "AuthenticationMiddlewareBackend", id="word"
        ),
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
