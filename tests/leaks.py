"""Every credential a test sends is remembered, and nothing a test captured
may contain one (the issue's rule: every test that sends a credential
proves it never reached a log).

Credentials are remembered where they leave the test or enter the
middleware, whichever client the test uses: http.client (the end-to-end
`fetch`), httpx (and so Starlette's TestClient), werkzeug's and Flask's test
client, Django's request objects (test client and RequestFactory), raw
socket exchanges, and every request view the middleware builds. `conftest`
checks each test's captured stdout, stderr and log records against them
with `authhygiene.testing.assert_no_secrets`, and servers run as
subprocesses check their own output when they stop.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from authhygiene.logging import redact
from authhygiene.testing import assert_no_secrets

__all__ = ["check", "installed", "remember", "remember_header", "remember_query", "sent"]

# Shorter values are not remembered automatically: a 3-letter password would
# be "found" in every hyphenated header name. Tests pass those explicitly.
_MIN_CHARS = 8
_MAX_REMEMBERED = 4096
_sent: dict[str, None] = {}
_lock = threading.Lock()


def remember(*values: str | bytes | None) -> None:
    with _lock:
        for value in values:
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if value and len(value.strip()) >= _MIN_CHARS and len(_sent) < _MAX_REMEMBERED:
                _sent[value.strip()] = None


def remember_header(name: str | bytes, value: str | bytes) -> None:
    name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
    value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    lowered = name.lower()
    if lowered in ("cookie", "set-cookie"):
        try:
            jar = SimpleCookie(value)
        except CookieError:
            jar = SimpleCookie()
        remember(value, *(morsel.value for morsel in jar.values()))
        return
    if not redact.secret_name(lowered):
        return
    remember(value)
    scheme, _, credential = value.strip().partition(" ")
    credential = credential.strip()
    remember(credential)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return
        remember(decoded.partition(":")[2])


def remember_query(query: str | bytes) -> None:
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    for key, value in parse_qsl(query[:8192], keep_blank_values=True):
        if redact.secret_name(key) or key in ("access_token", "token", "api_key"):
            remember(value)


def sent() -> list[str]:
    with _lock:
        return list(_sent)


def forget() -> None:
    with _lock:
        _sent.clear()


def check(captured: object, *, what: str = "captured output") -> None:
    """Fail when a remembered credential, or an unmasked credential shape,
    is in `captured`."""
    try:
        assert_no_secrets(captured, sent())
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


# --- where requests leave the test or enter the middleware -------------------


def _patch(owner: Any, name: str, wrap: Callable[[Any], Any]) -> Callable[[], None]:
    original = getattr(owner, name)
    setattr(owner, name, wrap(original))
    return lambda: setattr(owner, name, original)


def _http_client() -> Iterable[Callable[[], None]]:
    import http.client

    def putheader(original: Any) -> Any:
        def wrapper(self: Any, header: Any, *values: Any) -> Any:
            for value in values:
                remember_header(header, value if isinstance(value, str | bytes) else str(value))
            return original(self, header, *values)

        return wrapper

    def putrequest(original: Any) -> Any:
        def wrapper(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            remember_query(url.partition("?")[2])
            return original(self, method, url, *args, **kwargs)

        return wrapper

    yield _patch(http.client.HTTPConnection, "putheader", putheader)
    yield _patch(http.client.HTTPConnection, "putrequest", putrequest)


def _httpx() -> Iterable[Callable[[], None]]:
    import httpx

    def seen(request: httpx.Request) -> None:
        for name, value in request.headers.multi_items():
            remember_header(name, value)
        remember_query(request.url.query)

    def send(original: Any) -> Any:
        def wrapper(self: Any, request: httpx.Request, *args: Any, **kwargs: Any) -> Any:
            seen(request)
            return original(self, request, *args, **kwargs)

        return wrapper

    yield _patch(httpx.Client, "send", send)
    yield _patch(httpx.AsyncClient, "send", send)


def _environ(environ: Any) -> None:
    for key, value in environ.items():
        if isinstance(key, str) and key.startswith("HTTP_") and isinstance(value, str):
            remember_header(key[5:].replace("_", "-"), value)
    remember_query(environ.get("QUERY_STRING", "") or "")


def _werkzeug() -> Iterable[Callable[[], None]]:
    import werkzeug.test

    def run(original: Any) -> Any:
        def wrapper(app: Any, environ: Any, *args: Any, **kwargs: Any) -> Any:
            _environ(environ)
            return original(app, environ, *args, **kwargs)

        return wrapper

    yield _patch(werkzeug.test, "run_wsgi_app", run)


def _django() -> Iterable[Callable[[], None]]:
    from django.core.handlers.asgi import ASGIRequest
    from django.core.handlers.wsgi import WSGIRequest

    def wsgi_init(original: Any) -> Any:
        def wrapper(self: Any, environ: Any, *args: Any, **kwargs: Any) -> Any:
            _environ(environ)
            return original(self, environ, *args, **kwargs)

        return wrapper

    def asgi_init(original: Any) -> Any:
        def wrapper(self: Any, scope: Any, *args: Any, **kwargs: Any) -> Any:
            for name, value in scope.get("headers", ()):
                remember_header(name, value)
            remember_query(scope.get("query_string", b""))
            return original(self, scope, *args, **kwargs)

        return wrapper

    yield _patch(WSGIRequest, "__init__", wsgi_init)
    yield _patch(ASGIRequest, "__init__", asgi_init)


def _middleware() -> Iterable[Callable[[], None]]:
    from authhygiene.core import decision

    def parse(original: Any) -> Any:
        def wrapper(view: Any, *args: Any, **kwargs: Any) -> Any:
            credentials = original(view, *args, **kwargs)
            remember(*credentials.secrets)
            return credentials

        return wrapper

    yield _patch(decision, "parse_credentials", parse)


def remember_raw_request(request: bytes) -> None:
    """A raw HTTP/1.1 request a test writes to a socket itself."""
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line, *lines = head.split("\r\n")
    target = request_line.split(" ")[1] if request_line.count(" ") >= 2 else ""
    remember_query(target.partition("?")[2])
    for line in lines:
        name, _, value = line.partition(":")
        remember_header(name.strip(), value.strip())


@contextmanager
def installed() -> Iterator[None]:
    """The patches above, for the whole session."""
    undo: list[Callable[[], None]] = []
    try:
        for patches in (_http_client, _httpx, _werkzeug, _django, _middleware):
            undo.extend(patches())
        yield
    finally:
        for step in reversed(undo):
            step()
