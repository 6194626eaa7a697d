"""Apps the hostile suite runs bare and wrapped, written the way their users
write them, plus two that do what careless apps do: echo what the client
sent into their 401 (body, a header of their own) so that every sink of the
middleware is tried with the request's secrets in it.

Every app counts the calls its refusing route gets (`GET /count`), so a test
can prove a HEAD ran the app once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from flask import Flask
from flask_httpauth import HTTPTokenAuth

from authhygiene import AuthHygiene, AuthHygieneWSGI

__all__ = [
    "echo_asgi",
    "echo_wsgi",
    "fastapi_bearer",
    "flask_httpauth",
    "gunicorn_echo_wsgi",
]

# The padding an echoing app puts before what the client sent: long enough
# that a message cut at 150-256 characters would cut inside the secret.
PADDING = "The credentials presented to this service were rejected after careful review " * 2


class Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


def fastapi_bearer(options: dict[str, Any] | None) -> tuple[Any, Counter]:
    """The README's FastAPI app: `HTTPBearer`, and a token nobody accepts."""
    app = FastAPI()
    security = HTTPBearer()
    calls = Counter()

    def current(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(security)],
    ) -> str:
        from fastapi import HTTPException

        raise HTTPException(
            401, "Invalid authentication credentials", {"WWW-Authenticate": "Bearer"}
        )

    @app.api_route("/items", methods=["GET", "HEAD", "POST"])
    def items(token: Annotated[str, Depends(current)]) -> dict[str, str]:
        return {"ok": token}

    @app.middleware("http")
    async def count(request: Any, call_next: Callable[[Any], Any]) -> Any:
        if request.url.path == "/items":
            calls.bump()
        return await call_next(request)

    @app.get("/count")
    def count_route() -> dict[str, int]:
        return {"count": calls.value}

    if options is not None:
        app.add_middleware(AuthHygiene, **options)
    return app, calls


def flask_httpauth(options: dict[str, Any] | None) -> tuple[Any, Counter]:
    """Flask-HTTPAuth's token auth, as its docs show it."""
    app = Flask(__name__)
    auth = HTTPTokenAuth(scheme="Bearer")
    calls = Counter()

    @auth.verify_token
    def verify(token: str) -> None:
        return None  # no token is valid here

    @app.route("/items", methods=["GET", "HEAD", "POST"])
    @auth.login_required
    def items() -> dict[str, bool]:
        return {"ok": True}

    @app.before_request
    def count() -> None:
        from flask import request

        if request.path == "/items":
            calls.bump()

    @app.get("/count")
    def count_route() -> dict[str, int]:
        return {"count": calls.value}

    if options is not None:
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **options)  # type: ignore[method-assign]
    return app, calls


def _echo(headers: Iterable[tuple[str, str]], query: str) -> tuple[bytes, str]:
    """What a careless app answers: everything the client sent that it read."""
    sent = [f"{name}={value}" for name, value in headers if name.lower() != "host"]
    sent.append(f"query={query}")
    detail = PADDING + "; ".join(sent)
    return json.dumps({"detail": detail}).encode(), detail


def _debug_header(detail: str) -> str:
    # Header values cannot hold CR/LF; the echo keeps the rest.
    return "".join(ch for ch in detail if 32 <= ord(ch) < 127)[:4096]


def echo_asgi(options: dict[str, Any] | None) -> tuple[Any, Counter]:
    calls = Counter()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        if scope["path"] == "/count":
            body = json.dumps({"count": calls.value}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        calls.bump()
        body, detail = _echo(headers, scope["query_string"].decode("latin-1"))
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                    (b"x-debug", _debug_header(detail).encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return (AuthHygiene(app, **options) if options is not None else app), calls


def echo_wsgi(options: dict[str, Any] | None) -> tuple[Any, Counter]:
    calls = Counter()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        if environ.get("PATH_INFO") == "/count":
            start_response("200 OK", [("Content-Type", "application/json")])
            return iter([json.dumps({"count": calls.value}).encode()])
        calls.bump()
        headers = [
            (key[5:].replace("_", "-").lower(), str(value))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        body, detail = _echo(headers, environ.get("QUERY_STRING", ""))
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "application/json"),
                ("WWW-Authenticate", "Bearer"),
                ("X-Debug", _debug_header(detail)),
            ],
        )
        return iter([body])

    return (AuthHygieneWSGI(app, **options) if options is not None else app), calls


def gunicorn_echo_wsgi(variant: str) -> Any:
    """Factory the gunicorn worker calls; the default structlog logger
    prints to the worker's stdout, which the test reads back."""
    app, _ = echo_wsgi(None if variant == "bare" else {"realm": "api"})
    return app


def gunicorn_flask_httpauth(variant: str) -> Any:
    """Factory the gunicorn worker calls: Flask-HTTPAuth bare or wrapped
    (Basic only, so a Bearer header is another scheme to it)."""
    app, _ = flask_httpauth(None if variant == "bare" else {"realm": "api", "schemes": ("Basic",)})
    return app
