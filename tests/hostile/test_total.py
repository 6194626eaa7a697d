"""The refusal path is total (issue 12, "never raise").

Hypothesis builds hostile requests (huge ints in JWT claims, invalid UTF-8,
NUL/CR/LF in values, many headers, 10,000 query parameters) and hostile app
answers (deep JSON, NaN, invalid UTF-8, echoed secrets), and both adapters
are called directly with a tiny app giving that answer. Every time: no
exception, a 4xx where the bare app gave a 4xx (else exactly its status),
strict JSON when the answer is problem+json, no CR/LF/NUL in a header value.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import LogCapture

from authhygiene import AuthHygiene, AuthHygieneWSGI
from tests.asgi_call import asgi_call


def _jwt(payload: bytes) -> bytes:
    return b"eyJhbGciOiJIUzI1NiJ9." + base64.urlsafe_b64encode(payload).rstrip(b"=") + b".c2ln"


_numbers = st.sampled_from(
    [b"1" + b"0" * 309, b"-1" + b"0" * 309, b"1" + b"0" * 5000, b"1e999", b"NaN", b"-Infinity"]
) | st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: str(n).encode())
_claim_token = st.builds(
    lambda claim, number: _jwt(b'{"' + claim + b'":' + number + b"}"),
    st.sampled_from([b"exp", b"nbf", b"iat", b"sub"]),
    _numbers,
)
_value = st.one_of(
    st.binary(max_size=200),
    _claim_token,
    _claim_token.map(lambda t: b"Bearer " + t),
    st.sampled_from(
        [b"Bearer ", b"Basic ", b"Bearer Bearer x", b"\xff\xfe", b"a\x00b", b"a\r\nb"]
    ).flatmap(lambda head: st.binary(max_size=100).map(lambda tail: head + tail)),
    st.just(b"x" * 20_000),
)
_name = st.sampled_from(
    [
        b"authorization",
        b"x-api-key",
        b"cookie",
        b"origin",
        b"user-agent",
        b"x-request-id",
        b"x-forwarded-for",
        b"forwarded",
        b"x-auth-token",
    ]
) | st.from_regex(rb"\A[a-z][a-z0-9-]{0,20}\Z", fullmatch=True)
_headers = st.lists(st.tuples(_name, _value), max_size=12)
_query = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"#", b"")),
    _claim_token.map(lambda t: b"access_token=" + t),
    st.just(b"&".join(b"p%d=%d" % (i, i) for i in range(10_000))),
    st.just(b"access_token=" + b"a" * 5000 + b"&" * 5000),
)


def _deep(levels: int) -> bytes:
    return b'{"title":"No","x":' + b"[" * levels + b"]" * levels + b"}"


_body = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            _deep(900),
            b'{"title":"No","x":' + b"[" * 100_000,
            b'{"detail":' * 800 + b'"x"' + b"}" * 800,
            b'{"x":NaN,"y":1e999,"z":-Infinity,"w":' + b"9" * 5000 + b"}",
            b'{"type":1,"title":[],"instance":{},"status":"x","detail":null}',
            b"\xff\xfe{}",
            b"[]",
        ]
    ),
    st.dictionaries(
        st.text(max_size=80),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=50),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=10), inner, max_size=4)
            ),
            max_leaves=30,
        ),
        max_size=8,
    ).map(lambda d: json.dumps(d).encode()),
)
_answer = st.tuples(
    st.sampled_from([200, 400, 401, 403, 404, 422, 500]),
    st.sampled_from(
        [None, b"application/problem+json", b"application/json", b"text/plain", b"text/html"]
    ),
    st.lists(
        st.sampled_from(
            [
                b"Bearer",
                b'Bearer realm="x", error="invalid_token"',
                b"Basic",
                b",,,",
                b"Bearer " + b"a" * 300,
                b"Negotiate abc==",
            ]
        ),
        max_size=3,
    ),
    _body,
)


def _wire_safe(value: str) -> bool:
    return not (set(value) & {"\r", "\n", "\0"})


def _check(
    bare_status: int,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    method: str,
    app_body: bytes = b"",
) -> None:
    if 400 <= bare_status < 500:
        assert 400 <= status < 500, status
    else:
        assert status == bare_status
    for name, value in headers:
        assert _wire_safe(name), name
        assert _wire_safe(value), name
    content_type = [v for k, v in headers if k.lower() == "content-type"]
    # What the middleware wrote (not the app's own answer passed through).
    if method != "HEAD" and content_type == ["application/problem+json"] and body != app_body:
        json.loads(body, parse_constant=_not_json)


def _not_json(constant: str) -> Any:
    raise AssertionError(f"{constant} is not JSON")


def _app_headers(content_type: bytes | None, challenges: list[bytes]) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type)] if content_type else []
    return headers + [(b"www-authenticate", c) for c in challenges]


_CAPTURE = LogCapture()
_LOGGER = structlog.wrap_logger(None, processors=[_CAPTURE])


def _no_internal_error() -> None:
    """The generic answer is a safety net, not the way hostile input is met."""
    failed = [e for e in _CAPTURE.entries if e.get("kind") == "internal_error"]
    _CAPTURE.entries.clear()
    assert not failed, failed


_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _asgi(
    middleware: Any, headers: list[tuple[bytes, bytes]], query: bytes, method: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    sent = asgi_call(middleware, method=method, query=query, headers=headers)
    return sent.status, sent.headers, sent.body


@pytest.mark.parametrize("options", [{}, {"explain": "full"}], ids=["safe", "full"])
@_SETTINGS
@given(headers=_headers, query=_query, answer=_answer, method=st.sampled_from(["GET", "HEAD"]))
def test_asgi_refusal_path_is_total(
    options: dict[str, Any],
    headers: list[tuple[bytes, bytes]],
    query: bytes,
    answer: tuple[int, bytes | None, list[bytes], bytes],
    method: str,
) -> None:
    status, content_type, challenges, body = answer

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": _app_headers(content_type, challenges),
            }
        )
        await send({"type": "http.response.body", "body": body})

    wrapped = AuthHygiene(app, realm="api", logger=_LOGGER, **options)
    got_status, got_headers, got_body = _asgi(wrapped, headers, query, method)
    _check(status, got_status, got_headers, got_body, method, body)
    _no_internal_error()


@pytest.mark.parametrize("options", [{}, {"explain": "full"}], ids=["safe", "full"])
@_SETTINGS
@given(headers=_headers, query=_query, answer=_answer, method=st.sampled_from(["GET", "HEAD"]))
def test_wsgi_refusal_path_is_total(
    options: dict[str, Any],
    headers: list[tuple[bytes, bytes]],
    query: bytes,
    answer: tuple[int, bytes | None, list[bytes], bytes],
    method: str,
) -> None:
    status, content_type, challenges, body = answer

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response(
            f"{status} X",
            [(k.decode(), v.decode("latin-1")) for k, v in _app_headers(content_type, challenges)],
        )
        return [body]

    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": "/items",
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = environ[key] + "," + text if key in environ else text
    started: list[Any] = []

    def start_response(status_line: str, response_headers: list[tuple[str, str]], *exc: Any) -> Any:
        started[:] = [status_line, response_headers]
        return lambda data: None

    wrapped = AuthHygieneWSGI(app, realm="api", logger=_LOGGER, **options)
    iterable = wrapped(environ, start_response)
    try:
        got_body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    _check(status, int(started[0].split()[0]), started[1], got_body, method, body)
    _no_internal_error()


def test_ten_thousand_headers_asgi() -> None:
    """A huge header count is answered like any other refusal."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [(b"x-h%d" % i, b"v") for i in range(10_000)]
    headers.append((b"authorization", b"Bearer " + _jwt(b'{"exp":1' + b"0" * 309 + b"}")))
    wrapped = AuthHygiene(app, realm="api", logger=_LOGGER)
    status, got_headers, body = _asgi(wrapped, headers, b"", "GET")
    assert status == 401
    _check(401, status, got_headers, body, "GET")
