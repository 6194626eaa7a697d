"""The refusal memo's lane (`Decider`, fed by a `Request`'s glance: a few
environ or scope lookups) answers exactly what the general path answers from the whole
decoded request: same status line, header fields in the same order, body
and `auth.failure` event, on the first request of a shape and on repeats.

Each case runs the same request through two middlewares built alike, one
of them with the quick lane turned off, and compares the wire and the log.
Minted request ids are random: each side's own id is replaced by a
placeholder before comparing."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import structlog

from authhygiene import CORS, AuthFailure, AuthHygiene, AuthHygieneWSGI, Reason
from authhygiene.core.credentials import RequestView
from authhygiene.core.policy import Policy
from authhygiene.core.shape_cache import Decider
from authhygiene.request_views import view_from_environ, view_from_scope
from tests.asgi_call import asgi_call

NOW = int(time.time())
KEY = b"k" * 32
VALID = jwt.encode({"sub": "u1", "exp": NOW + 3600}, KEY, algorithm="HS256")
EXPIRED = jwt.encode({"sub": "u1", "exp": NOW - 30}, KEY, algorithm="HS256")
ORIGIN = "https://app.example.com"
# One key for both middlewares of a case, so one token gets one fingerprint.
FINGERPRINT_KEY = "f" * 32

# (name, request headers, query, app status, app headers, app body, raise)
CASES: list[tuple[str, list[tuple[str, str]], str, int, list[tuple[str, str]], bytes, bool]] = [
    (
        "fastapi-401-valid-jwt",
        [("authorization", f"Bearer {VALID}"), ("x-request-id", "0f6c1d6e-2a3b-4c5d")],
        "limit=20",
        401,
        [("content-type", "application/json")],
        b'{"detail":"Could not validate credentials"}',
        False,
    ),
    (
        "expired-jwt-from-origin",
        [("authorization", f"Bearer {EXPIRED}"), ("origin", ORIGIN), ("user-agent", "curl/8")],
        "",
        401,
        [("content-type", "text/plain"), ("www-authenticate", 'Bearer realm="api"')],
        b"Token has expired",
        False,
    ),
    (
        "no-credentials-minted-id",
        [("user-agent", "python-httpx/0.27")],
        "",
        401,
        [("content-type", "application/json")],
        b'{"detail":"Not authenticated"}',
        False,
    ),
    (
        "token-in-query-and-path",
        [("user-agent", "x")],
        f"access_token={VALID}",
        401,
        [("content-type", "application/json")],
        b'{"detail":"Not authenticated"}',
        False,
    ),
    (
        "api-key-and-cookie",
        [("x-api-key", "k-1234567890abcdef"), ("cookie", "session=abcdef123456; lang=en")],
        "",
        403,
        [("content-type", "application/json"), ("set-cookie", "a=b"), ("etag", '"1"')],
        b'{"detail":"Admins only"}',
        False,
    ),
    (
        "stray-key-header",
        [("api-token", "t-1234567890abcdef"), ("x-request-id", "req-42")],
        "",
        401,
        [("content-type", "application/json")],
        b'{"detail":"Not authenticated"}',
        False,
    ),
    (
        "basic-wrong",
        [("authorization", "Basic dXNlcjpwYXNzd29yZA=="), ("origin", "https://evil.example")],
        "",
        401,
        [("content-type", "text/plain"), ("www-authenticate", 'Basic realm="x"')],
        b"Unauthorized",
        False,
    ),
    (
        "app-cors-layer-headers-kept",
        [("authorization", f"Bearer {VALID}"), ("origin", ORIGIN)],
        "",
        401,
        [
            ("content-type", "application/json"),
            ("access-control-allow-origin", ORIGIN),
            ("access-control-allow-credentials", "true"),
            ("vary", "Origin"),
        ],
        b'{"detail":"Not authenticated"}',
        False,
    ),
    (
        "app-raises-authfailure",
        [("authorization", f"Bearer {VALID}"), ("origin", ORIGIN)],
        "",
        0,
        [],
        b"",
        True,
    ),
]

POLICIES: dict[str, dict[str, Any]] = {
    "default": {},
    "cors": {"cors": CORS(allow_origins=[ORIGIN], expose_headers=["X-Request-Id"])},
    "explain-full-omit-client": {"explain": "full", "log_omit": ["client"]},
    "no-request-id-header": {"request_id_header": None, "schemes": ["Bearer", "Basic"]},
}


def _logger(stream: io.StringIO) -> Any:
    return structlog.wrap_logger(
        structlog.PrintLogger(stream), processors=[structlog.processors.JSONRenderer()]
    )


def _normalise(
    status: str, headers: list[tuple[str, str]], body: bytes, events: list[dict[str, Any]]
) -> tuple[Any, ...]:
    failures = [e for e in events if e.get("event") == "auth.failure"]
    rid = failures[0].get("request_id") if failures else None
    text = body.decode()
    flat = json.dumps(headers)
    if isinstance(rid, str) and re.fullmatch(r"[0-9a-f]{32}", rid):
        dashed = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:]}"
        text, flat = text.replace(dashed, "RID"), flat.replace(dashed, "RID")
    if isinstance(rid, str):
        text, flat = text.replace(rid, "RID"), flat.replace(rid, "RID")
    logged = json.loads(json.dumps(failures).replace(str(rid), "RID")) if rid else failures
    return status, json.loads(flat), text, [list(e.items()) for e in logged]


@pytest.fixture(autouse=True)
def _one_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides decide in the same second: a token's times (`exp_delta_s`)
    are read against the clock, and a second ticking between the two runs
    would tell them apart."""
    frozen = NOW + 0.5
    monkeypatch.setattr(time, "time", lambda: frozen)


class _Decoded:
    """A request that never glances: the core decodes it and takes `decide`."""

    def __init__(self, view: RequestView) -> None:
        self.view = view

    def glance(self, policy: Policy) -> None:
        return None

    def decoded(self) -> RequestView:
        return self.view


def _general_only(middleware: Any) -> None:
    """The same middleware, deciding every request by the general path."""
    runtime = middleware.runtime
    if isinstance(middleware, AuthHygieneWSGI):
        middleware.decide = lambda environ, answer, declared: runtime.decide(  # type: ignore[method-assign]
            _Decoded(view_from_environ(environ)), answer, declared
        )
    else:
        middleware._decide = lambda scope, answer, declared: runtime.decide(  # type: ignore[method-assign]
            _Decoded(view_from_scope(scope)), answer, declared
        )


# ----------------------------------------------------------------------- WSGI


def _wsgi_app(status: int, headers: list[tuple[str, str]], body: bytes, raises: bool) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        if raises:
            raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")
        start_response(f"{status} X", list(headers))
        return iter([body])

    return app


def _wsgi_call(app: Any, headers: list[tuple[str, str]], query: str, path: str) -> Any:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
    }
    for name, value in headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: list[Any] = []

    def start_response(status: str, response_headers: list[Any], exc_info: Any = None) -> Any:
        started.append((status, list(response_headers)))
        return lambda data: None

    result = app(environ, start_response)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    return started[-1][0], started[-1][1], body


# ----------------------------------------------------------------------- ASGI


def _asgi_app(status: int, headers: list[tuple[str, str]], body: bytes, raises: bool) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if raises:
            raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def _asgi_call(app: Any, headers: list[tuple[str, str]], query: str, path: str) -> Any:
    sent = asgi_call(
        app,
        path=path,
        query=query.encode(),
        headers=[(k.encode(), v.encode()) for k, v in headers],
        client=("203.0.113.7", 5000),
    )
    assert not any(key.startswith("authhygiene") for key in sent.start), "a private key left"
    return str(sent.status), sent.headers, sent.body


# Each protocol: its middleware, an app answering the case, and one call.
PROTOCOLS: dict[str, tuple[Any, Callable[..., Any], Callable[..., Any]]] = {
    "wsgi": (AuthHygieneWSGI, _wsgi_app, _wsgi_call),
    "asgi": (AuthHygiene, _asgi_app, _asgi_call),
}


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("policy", list(POLICIES), ids=list(POLICIES))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_quick_lane_equals_general_path(case: tuple[Any, ...], policy: str, protocol: str) -> None:
    _name, headers, query, status, app_headers, body, raises = case
    middleware_class, make_app, call = PROTOCOLS[protocol]
    outs = []
    for quick in (True, False):
        log = io.StringIO()
        middleware = middleware_class(
            make_app(status, app_headers, body, raises),
            realm="api",
            logger=_logger(log),
            log_limit=None,
            fingerprint_key=FINGERPRINT_KEY,
            **POLICIES[policy],
        )
        if not quick:
            _general_only(middleware)
        runs = []
        # A new shape, a repeat, and a repeat with other per-request parts.
        for path, extra in (("/a", []), ("/a", []), ("/b/c", [("user-agent", "other/1")])):
            start = log.tell()
            sent = call(middleware, [*headers, *extra], query, path)
            events = [json.loads(line) for line in log.getvalue()[start:].splitlines()]
            runs.append(_normalise(*sent, events))
        outs.append(runs)
    assert outs[0] == outs[1]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ([("authorization", "Bearer a-1234567890"), ("authorization", "Bearer b-123")], "repeated"),
        ([("api-token", "t-1234567890"), ("auth-token", "u-1234567890")], "two key-like names"),
    ],
    ids=["repeated-authorization", "two-key-like-headers"],
)
def test_asgi_requests_without_a_plan_take_the_general_path(
    headers: list[tuple[str, str]], why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the order of fields could change what the credentials parse
    reads, there is no quick lane, and the answer is still right."""
    log = io.StringIO()
    middleware = AuthHygiene(
        _asgi_app(401, [("content-type", "text/plain")], b"no", False),
        realm="api",
        logger=_logger(log),
        log_limit=None,
    )
    calls: list[Any] = []
    remembered = Decider._remembered

    def counting(self: Decider, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return remembered(self, *args, **kwargs)

    monkeypatch.setattr(Decider, "_remembered", counting)
    status, _headers, _body = _asgi_call(middleware, headers, "", "/a")
    assert status in ("400", "401"), why
    assert calls == []


@pytest.mark.parametrize(
    ("credentials", "request_id", "echoed"),
    [
        (
            ("authorization", "Bearer opaqueSecretTok_0123456789abcdef"),
            "opaqueSecretTok_0123456789abcdef",
            False,
        ),
        (
            ("authorization", "Bearer opaqueSecretTok_0123456789abcdef"),
            "req-opaqueSecretTok_0123456789abcdef",
            False,
        ),
        (("x-api-key", "k-1234567890abcdef"), "k-1234567890abcdef", False),
        (("cookie", "session=abcdef123456"), "abcdef123456", False),
        # base64 of "user:hunter2xx": the password is nowhere as sent.
        (("authorization", "Basic dXNlcjpodW50ZXIyeHg="), "hunter2xx", False),
        (("authorization", "Bearer opaqueSecretTok_0123456789abcdef"), "0f6c1d6e-2a3b-4c5d", True),
    ],
    ids=[
        "bearer-token",
        "token-inside-id",
        "api-key",
        "cookie-value",
        "basic-password",
        "unrelated",
    ],
)
@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_a_secret_sent_as_request_id_is_never_echoed(
    credentials: tuple[str, str], request_id: str, echoed: bool, protocol: str
) -> None:
    """A client that sends its own credential as X-Request-ID gets a minted
    id: echoing it would put the credential in the response and the log.
    Three times to one middleware, so that repeats (answered from the shape
    cache) are judged too."""
    log = io.StringIO()
    options: dict[str, Any] = {"realm": "api", "logger": _logger(log), "log_limit": None}
    headers = [credentials, ("x-request-id", request_id)]
    if protocol == "wsgi":
        wsgi = AuthHygieneWSGI(
            _wsgi_app(401, [("content-type", "text/plain")], b"no", False), **options
        )
        answers = [_wsgi_call(wsgi, headers, "", "/a") for _ in range(3)]
    else:
        asgi = AuthHygiene(
            _asgi_app(401, [("content-type", "text/plain")], b"no", False), **options
        )
        answers = [_asgi_call(asgi, headers, "", "/a") for _ in range(3)]
    for _status, out, body in answers:
        assert (dict(out)["x-request-id"] == request_id) is echoed
        assert (request_id in body.decode()) is echoed
    assert (request_id in log.getvalue()) is echoed
