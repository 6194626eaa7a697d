"""`authhygiene.logging.redact`, `Redactor`, `RedactingFilter` and
`redact_server_logs`: what an app logs itself, and what servers print, must
not carry a credential, while everything an operator correlates by (our own
`auth.failure` fields, ids, hashes, times, paths, sentences) survives as is.

Tables compare whole event dicts, as structlog's own processor tests do: a
redactor that masks too much is as broken as one that masks too little.
The credentials below are made up; none was ever valid anywhere.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import json
import logging
import string
import subprocess
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from typing import Any

import jwt
import pytest
import structlog
from gunicorn.glogging import SafeAtoms  # type: ignore[import-untyped]
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from structlog.testing import LogCapture
from uvicorn.logging import AccessFormatter

from authhygiene import AuthHygiene
from authhygiene.logging import (
    SERVER_LOGGERS,
    RedactingFilter,
    Redactor,
    redact,
    redact_server_logs,
)

R = "[redacted]"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJhbGljZSIsImV4cCI6MTc2NDAwMDAwMH0"
    ".dGVzdC1zaWduYXR1cmUtbm90LXJlYWw"
)
OPAQUE = "Zq7Lm2Pz9Rt4Wv8K"  # no shape: only the name of its key gives it away
BEARER = "Bearer abcDEF123456ghiJKL"
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "-----END PRIVATE KEY-----"
)
ENTROPY_32 = "Xq7Lm2Pz9Rt4Wv8Ks3Nb6Hd1Fg5Jc0Ye"


def redacted(event: dict[str, Any], redactor: Redactor = redact) -> Any:
    """The processor's answer for a copy of `event` (it edits in place)."""
    return redactor(None, "info", copy.deepcopy(event))


# --- by key name ------------------------------------------------------------

SECRET_KEYS = [
    "password",
    "passwd",
    "api_key",
    "apiKey",
    "x-api-key",
    "X-Api-Key",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "clientSecret",
    "authorization",
    "Authorization",
    "proxy-authorization",
    "HTTP_AUTHORIZATION",
    "cookie",
    "set-cookie",
    "session",
    "sessionid",
    "session_id",
    "dpop",
    "private_key",
    "privateKey",
    "secret_key",
    "aws_secret_access_key",
    "db_password",
    "PASSWORD",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
@pytest.mark.parametrize(
    "value", [pytest.param(OPAQUE, id="opaque"), pytest.param(BEARER, id="bearer")]
)
def test_values_under_secret_keys_are_masked(key: str, value: str) -> None:
    event = {"event": "login", key: value, "user": "alice"}

    assert redacted(event) == {"event": "login", key: R, "user": "alice"}


# JSON APIs name them in camelCase or PascalCase: Firebase returns `idToken`
# and `refreshToken`, AWS Cognito `AccessToken`, `IdToken`, `RefreshToken`.
CAMEL_CASE_KEYS = [
    "accessToken",
    "refreshToken",
    "idToken",
    "AccessToken",
    "IdToken",
    "RefreshToken",
    "authToken",
    "sessionToken",
    "userPassword",
]


@pytest.mark.parametrize("key", CAMEL_CASE_KEYS)
def test_camel_case_secret_keys_are_masked(key: str) -> None:
    event = {"event": "token refreshed", key: OPAQUE}

    assert redacted(event) == {"event": "token refreshed", key: R}


NESTED_CASES = [
    pytest.param(
        {"event": "call", "request": {"headers": {"Authorization": OPAQUE, "Accept": "*/*"}}},
        {"event": "call", "request": {"headers": {"Authorization": R, "Accept": "*/*"}}},
        id="dict-in-dict",
    ),
    pytest.param(
        {"event": "import", "users": [{"name": "a", "password": OPAQUE}, {"name": "b"}]},
        {"event": "import", "users": [{"name": "a", "password": R}, {"name": "b"}]},
        id="dicts-in-list",
    ),
    pytest.param(
        {"event": "cfg", "sources": ({"api_key": OPAQUE, "url": "https://a.example"},)},
        {"event": "cfg", "sources": ({"api_key": R, "url": "https://a.example"},)},
        id="dict-in-tuple",
    ),
    pytest.param(
        {"event": "deep", "a": {"b": [{"c": ({"client_secret": OPAQUE},)}]}},
        {"event": "deep", "a": {"b": [{"c": ({"client_secret": R},)}]}},
        id="four-levels",
    ),
    pytest.param(
        {"event": "h", "headers": [("Authorization", BEARER), ("Accept", "*/*")]},
        {"event": "h", "headers": [("Authorization", R), ("Accept", "*/*")]},
        id="header-pairs",
    ),
    pytest.param(
        {"event": "h", "headers": [("X-Api-Key", OPAQUE), ("Cookie", f"sid={OPAQUE}")]},
        {"event": "h", "headers": [("X-Api-Key", R), ("Cookie", R)]},
        id="header-pairs-no-shape",
    ),
    pytest.param(
        {"event": "h", "headers": [(b"authorization", b"Bearer x"), (b"accept", b"*/*")]},
        {"event": "h", "headers": [(b"authorization", R), (b"accept", b"*/*")]},
        id="bytes-header-pairs",
    ),
    pytest.param(
        {"event": "h", "headers": ((b"dpop", OPAQUE.encode()),)},
        {"event": "h", "headers": ((b"dpop", R),)},
        id="bytes-pair-in-tuple",
    ),
    pytest.param(
        {"event": "h", "pair": ("status", 401)},
        {"event": "h", "pair": ("status", 401)},
        id="other-pairs-kept",
    ),
    pytest.param(
        {"event": "login", "password": None, "token_count": 3, "api_key": False},
        {"event": "login", "password": None, "token_count": 3, "api_key": False},
        id="nothing-to-hide",
    ),
]


@pytest.mark.parametrize(("event", "expected"), NESTED_CASES)
def test_nested_values_and_header_pairs(event: dict[str, Any], expected: dict[str, Any]) -> None:
    assert redacted(event) == expected


# The ASGI spec writes headers as "an iterable of [name, value] two-item
# iterables", and `dict(scope["headers"])` has bytes keys: both are how an
# app logs the headers it received.
HEADER_SHAPE_CASES = [
    pytest.param(
        {"event": "h", "headers": [["x-api-key", OPAQUE], ["accept", "*/*"]]},
        {"event": "h", "headers": [["x-api-key", R], ["accept", "*/*"]]},
        id="list-pairs",
    ),
    pytest.param(
        {"event": "h", "headers": {b"x-api-key": OPAQUE.encode(), b"accept": b"*/*"}},
        {"event": "h", "headers": {b"x-api-key": R, b"accept": b"*/*"}},
        id="bytes-keyed-dict",
    ),
]


@pytest.mark.parametrize(("event", "expected"), HEADER_SHAPE_CASES)
def test_asgi_shaped_headers_are_masked(event: dict[str, Any], expected: dict[str, Any]) -> None:
    assert redacted(event) == expected


# --- by shape ---------------------------------------------------------------

SHAPE_CASES = [
    pytest.param(f"token={JWT}", "token=[redacted]", id="jwt-after-equals"),
    pytest.param(f"upstream returned {JWT}.", "upstream returned [redacted].", id="jwt-in-prose"),
    pytest.param(f'{{"id_token": "{JWT}"}}', '{"id_token": "[redacted]"}', id="jwt-in-json-text"),
    pytest.param("rejected " + BEARER, "rejected [redacted]", id="bearer"),
    pytest.param(
        f"header was {BEARER}, refused", "header was [redacted], refused", id="bearer-mid"
    ),
    pytest.param("basic dXNlcjpwYXNzd29yZA== sent", "[redacted] sent", id="basic"),
    pytest.param(
        "https://api.example.com/v1/items?access_token=opaqueTokenValue1&page=2",
        "https://api.example.com/v1/items?access_token=[redacted]&page=2",
        id="url-access-token",
    ),
    pytest.param(
        "https://api.example.com/v1/items?page=2&api_key=opaqueKeyValue1",
        "https://api.example.com/v1/items?page=2&api_key=[redacted]",
        id="url-api-key",
    ),
    pytest.param(
        "/callback?state=xyz&code=SplxlOBeZQQYbYS6WxSbIA",
        "/callback?state=xyz&code=[redacted]",
        id="url-oauth-code",
    ),
    pytest.param(
        "GET /items HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer abcDEF123456ghiJKL"
        "\r\nCookie: sessionid=opaquesession123\r\nAccept: */*\r\n\r\n",
        "GET /items HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: [redacted]"
        "\r\nCookie: [redacted]\r\nAccept: */*\r\n\r\n",
        id="request-dump",
    ),
    pytest.param(
        "{'Authorization': 'Token 9a8b7c6d5e4f3a2b1c0d', 'Accept': '*/*'}",
        "{'Authorization': '[redacted]', 'Accept': '*/*'}",
        id="headers-repr",
    ),
    pytest.param("ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", R, id="github"),
    pytest.param("key sk_live_4eC39HqLyjWDarjtT1zdp7dc used", "key [redacted] used", id="stripe"),
    pytest.param("AKIAIOSFODNN7EXAMPLE", R, id="aws-access-key-id"),
    pytest.param("AIzaSyD-1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6", R, id="google-api-key"),
    pytest.param("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", R, id="slack"),
    pytest.param(f"key:\n{PEM}\nend", "key:\n[redacted]\nend", id="pem"),
    pytest.param(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\n",
        R,
        id="pem-cut-short",
    ),
    pytest.param(f"secret is {ENTROPY_32} and more", "secret is [redacted] and more", id="entropy"),
]


@pytest.mark.parametrize(("text", "expected"), SHAPE_CASES)
def test_credential_shapes_are_masked_in_any_string(text: str, expected: str) -> None:
    event = {"event": text, "detail": text, "nested": [{"note": text}], "raw": text.encode()}

    assert redacted(event) == {
        "event": expected,
        "detail": expected,
        "nested": [{"note": expected}],
        "raw": expected,
    }


def test_known_keys_and_values() -> None:
    redactor = Redactor(
        keys=frozenset({"x-tenant-secret", "tenant_pin"}), secrets=("knownvalue123",)
    )
    event = {
        "event": "tenant knownvalue123 loaded",
        "x-tenant-secret": "abc",
        "tenant_pin": "1234",
        "note": ["prefix-knownvalue123-suffix"],
        "password": OPAQUE,
    }

    assert redacted(event, redactor) == {
        "event": "tenant [redacted] loaded",
        "x-tenant-secret": R,
        "tenant_pin": R,
        "note": ["prefix-[redacted]-suffix"],
        "password": R,
    }


def test_known_key_names_match_whatever_their_case() -> None:
    """Keys are compared lowered; the names a user passes must be too."""
    redactor = Redactor(keys=frozenset({"X-Tenant-Pin"}))

    assert redacted({"event": "e", "X-Tenant-Pin": "1234"}, redactor) == {
        "event": "e",
        "X-Tenant-Pin": R,
    }


# --- exceptions -------------------------------------------------------------


def _raise(message: str) -> BaseException:
    try:
        raise ValueError(message)
    except ValueError as error:
        return error


def test_exc_info_true_inside_except_is_rendered_and_scrubbed() -> None:
    try:
        raise ValueError(f"upstream refused {JWT}")
    except ValueError:
        event = redact(None, "error", {"event": "call failed", "exc_info": True})

    assert set(event) == {"event", "exception"}
    assert event["exception"].startswith("Traceback (most recent call last):")
    assert event["exception"].endswith("ValueError: upstream refused [redacted]\n")
    assert JWT not in event["exception"]


@pytest.mark.parametrize(
    "exc_info",
    [
        pytest.param(lambda e: e, id="exception-object"),
        pytest.param(lambda e: (type(e), e, e.__traceback__), id="exc-info-tuple"),
    ],
)
def test_exc_info_given_is_rendered_and_scrubbed(exc_info: Any) -> None:
    error = _raise(f"Authorization: {BEARER}")

    event = redact(None, "error", {"event": "failed", "exc_info": exc_info(error)})

    assert set(event) == {"event", "exception"}
    assert event["exception"].endswith("ValueError: Authorization: [redacted]\n")
    assert "abcDEF123456ghiJKL" not in event["exception"]


def test_exc_info_true_outside_except_adds_nothing() -> None:
    """structlog's own format_exc_info writes no `exception` when there is none."""
    assert redacted({"event": "x", "exc_info": True}) == {"event": "x"}


def test_exc_info_false_is_dropped() -> None:
    assert redacted({"event": "x", "exc_info": False}) == {"event": "x"}


def test_exception_already_rendered_is_scrubbed() -> None:
    event = {"event": "x", "exception": f"Traceback ...\nValueError: bad {JWT}\n"}

    assert redacted(event) == {
        "event": "x",
        "exception": "Traceback ...\nValueError: bad [redacted]\n",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(_raise(f"bad {JWT}"), "ValueError: bad [redacted]", id="value"),
        pytest.param([_raise(BEARER)], ["ValueError: [redacted]"], id="in-list"),
        pytest.param(_raise("plain failure"), "ValueError: plain failure", id="nothing-secret"),
    ],
)
def test_exception_objects_as_values(value: object, expected: object) -> None:
    assert redacted({"event": "x", "error": value}) == {"event": "x", "error": expected}


def test_objects_are_judged_by_their_repr() -> None:
    class Request:
        def __repr__(self) -> str:
            return f"<Request GET /items?access_token={OPAQUE}>"

    class Plain:
        def __repr__(self) -> str:
            return "<Plain>"

    plain = Plain()
    event = redact(None, "info", {"event": "x", "request": Request(), "other": plain})

    assert event == {
        "event": "x",
        "request": "<Request GET /items?access_token=[redacted]>",
        "other": plain,  # untouched objects stay objects
    }


# --- what must survive ------------------------------------------------------


def _middleware_events() -> list[dict[str, Any]]:
    """The events the middleware itself writes, as it writes them."""
    capture = LogCapture()
    logger = structlog.wrap_logger(None, processors=[capture])

    async def refuse(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"www-authenticate", b"Bearer"), (b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"Invalid token"})

    app = AuthHygiene(refuse, realm="api", logger=logger, log_limit=None, log_claims=("sub",))
    expired = jwt.encode(
        {"sub": "alice", "exp": 1_700_000_000, "iat": 1_699_996_400, "iss": "https://auth.example"},
        "k" * 32,
        algorithm="HS256",
        headers={"kid": "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"},
    )
    requests = [
        ([(b"authorization", f"Bearer {expired}".encode())], b""),
        ([(b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0")], b""),
        ([], f"access_token={OPAQUE}&page=2".encode()),
        ([(b"authorization", b"Basic dXNlcjpwYXNzd29yZA=="), (b"x-request-id", b"abc-123")], b""),
    ]

    async def main() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            return None

        for headers, query in requests:
            scope = {
                "type": "http",
                "method": "GET",
                "path": "/items",
                "query_string": query,
                "headers": headers,
                "client": ("203.0.113.9", 5000),
            }
            await app(scope, receive, send)

    asyncio.run(main())
    assert len(capture.entries) == len(requests)
    return [dict(entry) for entry in capture.entries]


def test_the_middlewares_own_events_survive_unchanged() -> None:
    events = _middleware_events()

    for event in events:
        assert redacted(event) == event
    assert {e.get("credential_source") for e in events} >= {"header", "query"}


UUID = "0b7d2c4e-5f3a-4c1b-9d8e-7f6a5b4c3d2e"
SHA256 = hashlib.sha256(b"authhygiene").hexdigest()
OUR_EVENTS = [
    pytest.param(
        {
            "event": "auth.failure",
            "level": "warning",
            "timestamp": "2026-11-23T03:25:01.123456Z",
            "reason": "token_expired",
            "status": 401,
            "owasp_event": "authn_token_expired",
            "scheme": "Bearer",
            "credential_source": "header",
            "method": "GET",
            "path": "/v1/items",
            "query": "access_token=[redacted]&page=2",
            "client": "203.0.113.9",
            "user_agent": "python-httpx/0.28.1",
            "origin": "https://app.example.com",
            "request_id": uuid.UUID(UUID).hex,
            "credential_fingerprint": "9f86d081884c7d65",
            "diagnosis": "jwt-claims",
            "alg": "RS256",
            "kid": "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6",
            "iss": "https://auth.example.com/",
            "aud": "api://default",
            "exp": "2026-11-23T03:23:26Z",
            "exp_delta_s": -95,
            "expired_at": "2026-11-23T03:23:26Z",
            "server_time": "2026-11-23T03:25:01Z",
            "expired_seconds_ago": 95,
            "clock_skew_suspected": True,
        },
        id="auth.failure",
    ),
    pytest.param(
        {
            "event": "auth.failure.suppressed",
            "timestamp": 1763868301.123456,
            "reason": "credentials_invalid",
            "status": 401,
            "client": "2001:db8::1",
            "path": "/login",
            "count": 57,
            "window_s": 60,
            "since": "2026-11-23T03:24:01Z",
        },
        id="auth.failure.suppressed",
    ),
    pytest.param(
        {
            "event": "auth.misconfig",
            "kind": "cors_wildcard_with_credentials",
            "path": "/v1/items",
            "status": 401,
            "fix": "the app answered Access-Control-Allow-Origin: * with credentials, which"
            " browsers refuse; list the exact origins of your front ends",
        },
        id="auth.misconfig",
    ),
    pytest.param(
        {
            "event": "auth.report_only",
            "status": 200,
            "would_status": 401,
            "would_change": ["status", "www-authenticate", "body"],
        },
        id="auth.report_only",
    ),
    pytest.param(
        {"event": "token.stats", "token_format": "jwt", "token_count": 3, "password": None},
        id="counts-and-formats",
    ),
]


@pytest.mark.parametrize("event", OUR_EVENTS)
def test_our_event_shapes_survive_unchanged(event: dict[str, Any]) -> None:
    assert redacted(event) == event


@pytest.mark.parametrize("key", ["request_id", "kid", "trace_id", "span_id"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(JWT, R, id="jwt"),
        pytest.param(BEARER, R, id="bearer"),
        pytest.param(ENTROPY_32, ENTROPY_32, id="random-id-kept"),
    ],
)
def test_correlation_keys_are_spared_only_the_entropy_test(
    key: str, value: str, expected: str
) -> None:
    """Ids look random, so these keys skip the entropy test; but a client
    chooses its X-Request-ID and a token's `kid`, and a JWT there is still a JWT."""
    assert redacted({"event": "x", key: value}) == {"event": "x", key: expected}


NEGATIVE_VALUES = [
    pytest.param(UUID, id="uuid"),
    pytest.param(uuid.UUID(UUID).hex, id="uuid-hex"),
    pytest.param(SHA256, id="sha256"),
    pytest.param("sha256:" + SHA256, id="digest"),
    pytest.param("2026-11-23T03:25:01.123456+00:00", id="iso-time"),
    pytest.param(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/17.4.1 Safari/605.1.15",
        id="user-agent",
    ),
    pytest.param("/home/deploy/app/src/authhygiene/core/redact.py", id="path"),
    pytest.param("C:\\Users\\Deploy\\AppData\\Local\\Temp\\app.log", id="windows-path"),
    pytest.param("/srv/media/uploads/2024/06/IMG_20240601_123456.jpg", id="path-with-a-date"),
    pytest.param("/data/exports/CustomerOrders2024Q2Final/part1.csv", id="path-camel-case"),
    pytest.param("django.contrib.auth.middleware.AuthenticationMiddleware", id="module"),
    pytest.param(
        "fastapi.security.oauth2.OAuth2PasswordRequestFormStrict", id="module-class-with-digit"
    ),
    pytest.param("arn:aws:iam::123456789012:role/service-role/MyLambdaRole", id="arn"),
    pytest.param("GET /api/v1/users/12345/orders?page=2&sort=name HTTP/1.1", id="request-line"),
    pytest.param("The token has expired; ask the client to refresh the token.", id="sentence-1"),
    pytest.param("Bearer token missing from the Authorization header", id="sentence-2"),
    pytest.param("Basic authentication is disabled for this realm", id="sentence-3"),
    pytest.param("Password must be at least 12 characters long", id="sentence-4"),
    pytest.param("scheme=Bearer server_time=2026-11-23T03:25:01Z", id="key-value-line"),
    pytest.param("Authorization: Bearer <token>", id="placeholder"),
    pytest.param(
        "Send the token in the Authorization header, not the query (RFC 6750 §5.3)",
        id="advice",
    ),
]


@pytest.mark.parametrize("value", NEGATIVE_VALUES)
def test_harmless_values_survive_unchanged(value: str) -> None:
    event = {"event": value, "detail": value, "items": [value]}

    assert redacted(event) == event


# --- in a real structlog chain ------------------------------------------------


@pytest.fixture
def structlog_config() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_wrap_logger_chain_writes_redacted_json() -> None:
    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[
            structlog.processors.add_log_level,
            redact,
            structlog.processors.JSONRenderer(),
        ],
    )

    log.info(
        "calling upstream",
        url=f"https://api.example.com/v1?access_token={OPAQUE}&page=2",
        headers={"Authorization": BEARER, "Accept": "*/*"},
        password=OPAQUE,
        attempt=2,
    )

    assert _lines(out) == [
        {
            "event": "calling upstream",
            "url": "https://api.example.com/v1?access_token=[redacted]&page=2",
            "headers": {"Authorization": R, "Accept": "*/*"},
            "password": R,
            "attempt": 2,
            "level": "info",
        }
    ]


def test_configured_chain_with_format_exc_info(structlog_config: None) -> None:
    out = io.StringIO()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger()

    try:
        raise ConnectionError(f"GET https://api.example.com/?api_key={OPAQUE} failed")
    except ConnectionError:
        log.exception("upstream failed", token=JWT)

    [line] = _lines(out)
    exception = line.pop("exception")
    assert line == {"event": "upstream failed", "token": R, "level": "error"}
    assert exception.endswith(
        "ConnectionError: GET https://api.example.com/?api_key=[redacted] failed"
    )
    assert OPAQUE not in out.getvalue()


def test_configured_chain_with_dict_tracebacks(structlog_config: None) -> None:
    out = io.StringIO()
    structlog.configure(
        processors=[
            structlog.processors.dict_tracebacks,
            redact,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger()

    def call(upstream_reply: str) -> None:
        raise RuntimeError(f"upstream said {upstream_reply}")

    try:
        call(f"Authorization: {BEARER}")
    except RuntimeError:
        log.exception("failed")

    [line] = _lines(out)
    [exception] = line["exception"]
    assert exception["exc_type"] == "RuntimeError"
    assert exception["exc_value"] == "upstream said Authorization: [redacted]"
    assert "abcDEF123456ghiJKL" not in out.getvalue()


def _stdlib_logger(
    name: str, formatter: logging.Formatter | None = None, *filters: logging.Filter
) -> tuple[logging.Logger, io.StringIO]:
    """A stdlib logger writing into a buffer through `formatter`.

    It does not propagate, and is made inside the test under a name never
    used before: pytest's capture (which also hooks every non-propagating
    logger that exists when a test phase starts) would otherwise see the
    unredacted records these tests log on purpose."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    if formatter is not None:
        handler.setFormatter(formatter)
    logger = logging.getLogger(f"tests.redact.{name}.{uuid.uuid4().hex}")
    logger.handlers[:] = [handler]
    logger.filters[:] = list(filters)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_processor_formatter_redacts_foreign_records(structlog_config: None) -> None:
    shared: list[Any] = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name]
    structlog.configure(
        processors=[*shared, redact, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, redact],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    library, out = _stdlib_logger("somelib", formatter)
    app, app_out = _stdlib_logger("app", formatter)
    app_log = structlog.get_logger(app.name)

    library.info("GET %s -> 401", f"/items?access_token={OPAQUE}")
    library.warning(f"refresh failed for {JWT}")
    app_log.info("login", password=OPAQUE)
    try:
        raise ValueError(f"bad {BEARER}")
    except ValueError:
        library.exception("request failed")

    lines = _lines(out)
    exception = lines[2].pop("exception")
    assert lines == [
        {
            "event": "GET /items?access_token=[redacted] -> 401",
            "level": "info",
            "logger": library.name,
        },
        {"event": "refresh failed for [redacted]", "level": "warning", "logger": library.name},
        {"event": "request failed", "level": "error", "logger": library.name},
    ]
    assert exception.endswith("ValueError: bad [redacted]\n")
    assert _lines(app_out) == [
        {"event": "login", "password": R, "level": "info", "logger": app.name}
    ]


def test_processor_formatter_meta_keys_are_left_for_later_processors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`_record` is structlog's, not the app's: processors after `redact`
    (add_logger_name, ExtraAdder, CallsiteParameterAdder) read it."""
    redactor = Redactor(secrets=("knownvalue123",))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            redactor,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )
    library, out = _stdlib_logger("meta", formatter)

    library.info("loaded tenant knownvalue123", extra={"tenant": "t1"})

    assert "Logging error" not in capsys.readouterr().err
    assert _lines(out) == [
        {"event": "loaded tenant [redacted]", "logger": library.name, "tenant": "t1"}
    ]


# --- RedactingFilter ------------------------------------------------------------


def _record(
    msg: object, args: Any = (), *, name: str = "uvicorn.access", exc_info: Any = None
) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, exc_info)


FILTER_CASES = [
    pytest.param(
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/items?access_token={OPAQUE}", "1.1", 401),
        '127.0.0.1:5000 - "GET /items?access_token=[redacted] HTTP/1.1" 401',
        id="uvicorn-access-args",
    ),
    pytest.param(f"got {JWT} from the client", (), "got [redacted] from the client", id="msg"),
    pytest.param(
        "header %s, %d tries, %.1f s",
        (BEARER, 3, 0.25),
        "header [redacted], 3 tries, 0.2 s",
        id="types-kept",
    ),
    pytest.param("%r", ("Bearer x",), "'Bearer x'", id="short-not-a-credential"),
    pytest.param("nothing %s here", ("secret",), "nothing secret here", id="word"),
]


@pytest.mark.parametrize(("msg", "args", "expected"), FILTER_CASES)
def test_filter_scrubs_message_and_arguments(
    msg: str, args: tuple[Any, ...], expected: str
) -> None:
    record = _record(msg, args)

    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == expected
    assert [type(arg) for arg in record.args] == [type(arg) for arg in args]  # type: ignore[union-attr]


def test_filter_keeps_uvicorns_access_formatter_working() -> None:
    record = _record(
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/items?page=2&access_token={OPAQUE}", "1.1", 401),
    )
    formatter = AccessFormatter(
        fmt='%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    )

    RedactingFilter().filter(record)

    assert formatter.format(record) == (
        '127.0.0.1:5000 - "GET /items?page=2&access_token=[redacted] HTTP/1.1" 401 Unauthorized'
    )


def test_filter_edits_gunicorns_atoms_in_place() -> None:
    """gunicorn logs `format % SafeAtoms(...)`: a dict answering "-" for any
    atom it lacks, which must stay that dict."""
    atoms = SafeAtoms(
        {
            "h": "127.0.0.1",
            "r": f"GET /items?access_token={OPAQUE} HTTP/1.1",
            "s": "401",
            "q": f"access_token={OPAQUE}",
            "{authorization}i": f"Bearer {OPAQUE}",
            "{cookie}i": f"sid={OPAQUE}",
            "{http_authorization}e": f"Bearer {OPAQUE}",
            "{user-agent}i": "curl/8.5.0",
            "B": 112,
        }
    )
    record = _record(
        '%(h)s "%(r)s" %(s)s %(q)s %({authorization}i)s %({Cookie}i)s %({http_authorization}e)s'
        " %({user-agent}i)s %(B)d %({x-missing}i)s",
        (atoms,),
        name="gunicorn.access",
    )

    assert RedactingFilter().filter(record) is True
    assert record.args is atoms
    assert type(record.args) is SafeAtoms
    assert record.getMessage() == (
        '127.0.0.1 "GET /items?access_token=[redacted] HTTP/1.1" 401 access_token=[redacted]'
        " [redacted] [redacted] [redacted] curl/8.5.0 112 -"
    )


def test_filter_scrubs_exception_text() -> None:
    error = _raise(f"upstream said {JWT}")
    record = _record("request failed", exc_info=(type(error), error, error.__traceback__))

    RedactingFilter().filter(record)

    text = logging.Formatter().format(record)
    assert text.startswith("request failed\nTraceback (most recent call last):")
    assert text.endswith("ValueError: upstream said [redacted]")
    assert JWT not in text


def test_filter_scrubs_exception_text_formatted_earlier() -> None:
    record = _record("failed")
    record.exc_text = f"Traceback ...\nValueError: {BEARER}"

    RedactingFilter().filter(record)

    assert record.exc_text == "Traceback ...\nValueError: [redacted]"


def test_filter_scrubs_stack_info() -> None:
    record = _record("here")
    record.stack_info = f'Stack (most recent call last):\n    client.get(url, token="{JWT}")'

    RedactingFilter().filter(record)

    assert (
        record.stack_info
        == 'Stack (most recent call last):\n    client.get(url, token="[redacted]")'
    )


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        pytest.param(None, (), id="none"),
        pytest.param(12345, (), id="int"),
        pytest.param({"event": "x"}, (), id="dict-msg"),
        pytest.param("%s", None, id="none-args"),
        pytest.param("%(a)s", ({"a": 1},), id="mapping-with-int"),
        pytest.param("\x00\r\n\u2028", (b"\xff\xfe",), id="hostile-text"),
    ],
)
def test_filter_never_drops_a_record(msg: object, args: Any) -> None:
    assert RedactingFilter().filter(_record(msg, args)) is True


# A format string naming a secret right before its placeholder: masking the
# placeholder breaks `msg % args`, the line is lost, and logging's error
# handler prints the raw arguments to stderr.
PLACEHOLDER_CASES = [
    pytest.param("password=%s", ("hunter2hunter2",), "password=[redacted]", id="query-like"),
    pytest.param(
        "GET /cb?code=%s&state=%s",
        ("opaquecode1234", "xyz"),
        "GET /cb?code=[redacted]&state=xyz",
        id="url-template",
    ),
    pytest.param("Cookie: session=%s", ("opaquesession1",), "Cookie: [redacted]", id="header-line"),
    # A secret header name as a key=value field: masked up to the next space.
    pytest.param(
        "cookie=%s user=%s", ("theme=dark", "bob"), "cookie=[redacted] user=bob", id="cookie"
    ),
    # A number under a secret name is a PIN or a numeric key (issue 12, finding 6).
    pytest.param("x-api-key=%d tries", (3,), "x-api-key=[redacted] tries", id="number-placeholder"),
    pytest.param("api_key_tries=%d", (3,), "api_key_tries=3", id="count-placeholder"),
    pytest.param(
        'login {"user": "%s", "password": "%s"}',
        ("bob", "hunter2hunter2"),
        'login {"user": "bob", "password": "[redacted]"}',
        id="placeholder-in-json-member",
    ),
    pytest.param("100%% done, token=%s", ("opaque12345",), "100% done, token=[redacted]"),
    # A shape that swallows the placeholder itself (a PEM block runs to the
    # end of the text): the template is kept and the formatted line masked.
    pytest.param(
        "-----BEGIN PRIVATE KEY-----\n%s", ("MIIEvQIBADANBgkqh",), "[redacted]", id="pem-template"
    ),
    pytest.param(
        '%s "%s" %s authorization=%s',
        ("1.2.3.4", "GET / HTTP/1.1", "200", "-"),
        '1.2.3.4 "GET / HTTP/1.1" 200 authorization=-',
        id="gunicorn-header-atom",
    ),
]


@pytest.mark.parametrize(("msg", "args", "expected"), PLACEHOLDER_CASES)
def test_filter_keeps_placeholders_formattable(
    capsys: pytest.CaptureFixture[str], msg: str, args: tuple[Any, ...], expected: str
) -> None:
    logger, out = _stdlib_logger("placeholders", None, RedactingFilter())

    logger.info(msg, *args)

    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert out.getvalue() == expected + "\n"


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        pytest.param(
            "call failed: %s",
            (_raise(f"bad {JWT}"),),
            "call failed: bad [redacted]",
            id="exception",
        ),
        pytest.param(
            "url %s",
            (f"/x?access_token={OPAQUE}".encode(),),
            "url b'/x?access_token=[redacted]'",
            id="bytes",
        ),
        pytest.param(_raise(f"bad {JWT}"), (), "bad [redacted]", id="exception-as-message"),
        pytest.param({"password": OPAQUE}, (), "{'password': '[redacted]'}", id="dict-as-message"),
    ],
)
def test_filter_scrubs_what_non_string_arguments_render_to(
    msg: object, args: tuple[Any, ...], expected: str
) -> None:
    """`logger.error("failed: %s", exc)` and `logger.error(exc)` are how
    most code logs an exception; its text is where tokens hide."""
    logger, out = _stdlib_logger("non-strings", None, RedactingFilter())

    logger.info(msg, *args)

    assert out.getvalue() == expected + "\n"


@pytest.fixture
def server_loggers() -> Iterator[None]:
    saved = {name: list(logging.getLogger(name).filters) for name in SERVER_LOGGERS}
    for name in SERVER_LOGGERS:
        logging.getLogger(name).filters[:] = [
            f for f in saved[name] if not isinstance(f, RedactingFilter)
        ]
    try:
        yield
    finally:
        for name, filters in saved.items():
            logging.getLogger(name).filters[:] = filters


def test_redact_server_logs_is_idempotent(server_loggers: None) -> None:
    first = redact_server_logs()
    second = redact_server_logs()

    assert second is first
    for name in SERVER_LOGGERS:
        filters = [f for f in logging.getLogger(name).filters if isinstance(f, RedactingFilter)]
        assert filters == [first], name


def test_redact_server_logs_covers_the_servers_loggers(server_loggers: None) -> None:
    redact_server_logs()

    for name in ("uvicorn.access", "gunicorn.access", "werkzeug", "django.server"):
        record = _record('"GET %s HTTP/1.1" 401 -', (f"/items?access_token={OPAQUE}",), name=name)
        assert logging.getLogger(name).filter(record)
        assert record.getMessage() == '"GET /items?access_token=[redacted] HTTP/1.1" 401 -', name


def test_redact_server_logs_with_names_and_a_redactor(server_loggers: None) -> None:
    name = "tests.redact.custom-server"
    redactor = Redactor(secrets=("knownvalue123",))
    try:
        attached = redact_server_logs(names=[name], redactor=redactor)
        record = _record("tenant knownvalue123", name=name)
        logging.getLogger(name).filter(record)

        assert attached.redactor is redactor
        assert record.getMessage() == "tenant [redacted]"
        assert logging.getLogger("uvicorn.access").filters == []
    finally:
        logging.getLogger(name).filters.clear()


def test_redact_server_logs_also_takes_the_apps_own_loggers(server_loggers: None) -> None:
    """Flask logs an unhandled exception, with its text, on `app.logger`."""
    app_logger = logging.getLogger("tests.redact.flask-app")
    try:
        attached = redact_server_logs(app_logger, "tests.redact.other")
        assert attached in app_logger.filters
        assert attached in logging.getLogger("tests.redact.other").filters
        assert attached in logging.getLogger("uvicorn.access").filters
    finally:
        app_logger.filters.clear()
        logging.getLogger("tests.redact.other").filters.clear()


# --- hostile input --------------------------------------------------------------

_TEXT = st.text(
    st.characters(codec="utf-8", categories=None, include_characters="\r\n\x00\t\u2028")
)
_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | _TEXT
    | st.binary(max_size=64)
    | st.sampled_from(
        [
            "Bearer ",
            "eyJ",
            "access_token=",
            "?",
            "&",
            "=",
            "Authorization: ",
            "-----BEGIN PRIVATE KEY-----",
        ]
    )
)
# Not `exc_info`: structlog itself fails on an exc_info that is no exception.
_KEY = _TEXT | st.sampled_from(
    ["password", "token", "headers", "exception", "event", "Authorization", "kid"]
)
_NESTED = st.recursive(
    _LEAF,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.tuples(st.sampled_from(["authorization", b"cookie", "accept"]), children)
        | st.dictionaries(_KEY, children, max_size=4)
    ),
    max_leaves=30,
)
_EVENTS = st.dictionaries(_KEY, _NESTED, max_size=6)
# What a generated token looks like: base62 with a digit, a capital and a
# lower-case letter (a 12-character draw of secrets.token_urlsafe lacks one
# of them about once in 30 000).
_SECRET = (
    st.text(string.ascii_letters + string.digits, min_size=12, max_size=40)
    .filter(lambda s: any(c.isdigit() for c in s))
    .filter(lambda s: any(c.isupper() for c in s))
    .filter(lambda s: any(c.islower() for c in s))
)
_HOSTILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rendered(event: object) -> str:
    return json.dumps(event, default=repr, ensure_ascii=False) + repr(event)


@_HOSTILE
@given(_EVENTS)
def test_never_raises_and_is_idempotent(event: dict[str, Any]) -> None:
    once = redacted(event)

    assert redacted(once) == once
    json.dumps(once, default=repr)


@_HOSTILE
@given(_EVENTS, _SECRET, _TEXT, _TEXT, st.integers(0, 5))
def test_inserted_secret_never_survives(
    event: dict[str, Any], secret: str, before: str, after: str, depth: int
) -> None:
    # Only the inserted copies: a secret that is also loose in the text has no shape.
    assume(secret not in before + after + _rendered(event))
    inserted: dict[str, Any] = {"password": secret, "note": f"{before} Bearer {secret} {after}"}
    for _ in range(depth):
        inserted = {"wrapped": [inserted]}
    event = {**event, "payload": inserted, "also": f"{before} Bearer {secret} {after}"}

    assert secret not in _rendered(redacted(event))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200), _SECRET)
def test_deep_nesting_neither_raises_nor_leaks(depth: int, secret: str) -> None:
    event: Any = {"password": secret, "text": f"Bearer {secret}"}
    for index in range(depth):
        event = [event] if index % 2 else {"level": event}

    out = redacted({"event": "deep", "data": event})

    assert secret not in _rendered(out)
    assert redacted(out) == out


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=8), st.integers(10_000, 100_000), _SECRET)
def test_huge_strings(fragment: str, times: int, secret: str) -> None:
    huge = fragment * (times // len(fragment))
    out = redacted({"event": "big", "body": f"{huge} Bearer {secret} {huge}"})

    assert secret not in out["body"]


@_HOSTILE
@given(_TEXT, st.sampled_from(["%s", "%d", "%r", "%(a)s"]), st.integers())
def test_filter_never_raises_on_hostile_records(text: str, spec: str, number: int) -> None:
    args: Any = ({"a": text},) if spec == "%(a)s" else ((number,) if spec == "%d" else (text,))
    record = _record(text.replace("%", "%%") + spec, args)

    assert RedactingFilter().filter(record) is True


def test_hostile_text_is_scrubbed_in_linear_time() -> None:
    """A JWT-like prefix repeated without dots: every "eyJ" start rescans the
    rest of the run, so 600 KB of attacker text would hold a worker for
    minutes. Run in a subprocess so it can be stopped; the bound is two
    orders of magnitude above what a linear scan takes."""
    code = (
        "from authhygiene.logging import redact\n"
        "redact(None, 'info', {'event': 'body', 'body': 'eyJ' * 200_000})\n"
    )
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=30, capture_output=True)
    except subprocess.TimeoutExpired:
        pytest.fail("scrubbing 600 KB of hostile text took more than 30 s")


# --- numbers under secret names (issue 12, finding 6) ------------------------------------

DIGITS = "98765432109876543210"


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        pytest.param(f"/items?access_token={DIGITS}", "/items?access_token=[redacted]", id="q"),
        pytest.param(f"/items?page=2&api_key={DIGITS}", "/items?page=2&api_key=[redacted]"),
        pytest.param(
            "/login?password=20240611&otp=48151623",
            "/login?password=[redacted]&otp=[redacted]",
            id="password-otp",
        ),
        pytest.param("/items?page=2&limit=50", "/items?page=2&limit=50", id="plain-numbers"),
    ],
)
def test_numeric_secrets_are_masked_in_uvicorn_and_gunicorn_lines(target: str, logged: str) -> None:
    record = _record('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", target, "1.1", 401))
    formatter = AccessFormatter(
        fmt='%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    )
    RedactingFilter().filter(record)
    assert formatter.format(record) == (
        f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 401 Unauthorized'
    )

    path, _, query = target.partition("?")
    atoms = SafeAtoms({"r": f"GET {target} HTTP/1.1", "U": path, "q": query, "s": "401"})
    record = _record('"%(r)s" %(s)s %(q)s', (atoms,), name="gunicorn.access")
    RedactingFilter().filter(record)
    assert record.getMessage() == f'"GET {logged} HTTP/1.1" 401 {logged.partition("?")[2]}'


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"otp": 123456}, {"otp": R}, id="int-otp"),
        pytest.param({"password": 1234}, {"password": R}, id="int-password"),
        pytest.param({"api_key": 9876543210.0}, {"api_key": R}, id="float-key"),
        pytest.param({"session_id": "12345678"}, {"session_id": R}, id="digit-string"),
        pytest.param(
            {"password": None, "api_key": False, "token_count": 3, "max_tokens": 100},
            {"password": None, "api_key": False, "token_count": 3, "max_tokens": 100},
            id="nothing-to-hide",
        ),
    ],
)
def test_redactor_masks_numbers_under_secret_keys(
    event: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert redacted({"event": "e", **event}) == {"event": "e", **expected}


# --- caches bounded in bytes (issue 12, finding 13) --------------------------------------


def test_key_kinds_and_clean_texts_keep_no_long_keys() -> None:
    from authhygiene import logging as hygiene_logging

    redactor = Redactor()
    hygiene_logging._KEY_KINDS.clear()
    for index in range(200):
        long_name = f"x-{index}-" + "h" * 15_000
        assert redacted({"event": "e", long_name + "_token": "v4lue-s3cret"}, redactor) == {
            "event": "e",
            long_name + "_token": R,
        }
        redacted({"event": "e", "ua": f"{index}" + "u" * 15_000}, redactor)
    assert all(len(key) <= 64 for key in hygiene_logging._KEY_KINDS)
    assert all(len(text) <= 512 for text in redactor._clean)


@pytest.mark.parametrize(
    ("user", "logged"),
    [
        pytest.param("alice", "alice", id="a-name"),
        pytest.param("-", "-", id="no-user"),
        pytest.param("0123456789abcdef0123456789abcdef", R, id="a-key-as-user"),
        pytest.param("Zq8xR2mT9vLp4WnK3bY7", R, id="a-20-character-key"),
        pytest.param("jane.doe@example-company.com", "jane.doe@example-company.com", id="email"),
    ],
)
def test_gunicorns_basic_user_atom_is_masked_when_it_is_a_key(user: str, logged: str) -> None:
    atoms = SafeAtoms({"h": "127.0.0.1", "u": user, "r": "GET /items HTTP/1.1", "s": "401"})
    record = _record('%(h)s - %(u)s "%(r)s" %(s)s', (atoms,), name="gunicorn.access")
    RedactingFilter().filter(record)
    assert record.getMessage() == f'127.0.0.1 - {logged} "GET /items HTTP/1.1" 401'
