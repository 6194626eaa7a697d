"""Apps for tests/hostile/test_credentials.py (issue 12, findings 1 and 4).

Two written the way their users write them (FastAPI `HTTPBearer` with
`add_middleware`, Flask-HTTPAuth's `HTTPTokenAuth`) and two careless ones
that echo every credential-bearing field the client sent (every
Authorization field, every API-key header, the whole Cookie, the request
id) into their 401: in the JSON `detail` and in a header of their own.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from flask import Flask
from flask_httpauth import HTTPTokenAuth

from authhygiene import AuthHygiene, AuthHygieneWSGI

__all__ = ["echo_asgi", "echo_wsgi", "fastapi_bearer", "flask_httpauth", "gunicorn_echo"]

# Fields a careless app echoes: where clients put credentials.
ECHOED = ("authorization", "x-api-key", "x-auth-token", "api-key", "cookie", "x-request-id")


def fastapi_bearer(options: dict[str, Any] | None) -> Any:
    """The README's FastAPI app: `HTTPBearer`, and a token nobody accepts."""
    app = FastAPI()
    security = HTTPBearer()

    def current(credentials: Annotated[HTTPAuthorizationCredentials, Depends(security)]) -> str:
        raise HTTPException(
            401, "Invalid authentication credentials", {"WWW-Authenticate": "Bearer"}
        )

    @app.get("/items")
    def items(token: Annotated[str, Depends(current)]) -> dict[str, str]:
        return {"ok": token}

    if options is not None:
        app.add_middleware(AuthHygiene, **options)
    return app


def flask_httpauth(options: dict[str, Any] | None) -> Any:
    """Flask-HTTPAuth's token auth, as its docs show it; no token is valid."""
    app = Flask(__name__)
    auth = HTTPTokenAuth(scheme="Bearer")

    @auth.verify_token
    def verify(token: str) -> None:
        return None

    @app.get("/items")
    @auth.login_required
    def items() -> dict[str, bool]:
        return {"ok": True}

    if options is not None:
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **options)  # type: ignore[method-assign]
    return app


def _echo(headers: Iterable[tuple[str, str]]) -> tuple[bytes, str]:
    # Values only: a "name: value" line would be masked by its shape alone,
    # and the test is whether each value is known as a secret.
    sent = " / ".join(value for name, value in headers if name in ECHOED)
    detail = f"Rejected what you sent: {sent}"
    return json.dumps({"detail": detail}).encode(), detail


def _header_value(text: str) -> str:
    return "".join(ch for ch in text if 32 <= ord(ch) < 127)


def echo_asgi(options: dict[str, Any] | None) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        body, detail = _echo(headers)
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                    (b"x-echo", _header_value(detail).encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return AuthHygiene(app, **options) if options is not None else app


def echo_wsgi(options: dict[str, Any] | None) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        headers = [
            (key[5:].replace("_", "-").lower(), str(value))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        body, detail = _echo(headers)
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "application/json"),
                ("WWW-Authenticate", "Bearer"),
                ("X-Echo", _header_value(detail)),
            ],
        )
        return iter([body])

    return AuthHygieneWSGI(app, **options) if options is not None else app


def gunicorn_echo(variant: str) -> Any:
    """Factory for the gunicorn worker; the default structlog logger prints
    the middleware's events to the worker's stdout, which the test reads."""
    return echo_wsgi(None if variant == "bare" else {"realm": "api"})
