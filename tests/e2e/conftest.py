"""The small apps the end-to-end tests serve, and the fixtures that serve them.

Each framework gets one app written the way its docs teach (FastAPI's
`HTTPBearer` dependency raising `HTTPException(401, headers={"WWW-Authenticate":
"Bearer"})`, Starlette endpoints returning responses, Flask views using
`abort`/tuples), with the same URL map, so one case table reads the same on
every stack. Every app is started in variants: `bare` (no middleware, the
reference for byte-for-byte comparisons), `wrapped` (the documented one-liner),
`compat` (`compat_403=True`) and `report_only`. Servers are started once per
session, lazily, and stopped at the end; each wrapped variant logs into its
own `structlog.testing.LogCapture`.

`FailureContract` at the end is the set of tests both adapters are held to
(challenges, RFC 6750 codes, 401 versus 403, body, headers, logs,
report-only); test_asgi.py and test_wsgi.py subclass it with their stacks, so
the case tables are written once and the adapters cannot drift apart.

The gunicorn worker imports this module to build its Flask app
(`gunicorn_flask_app`), so nothing here may need pytest at import time beyond
the import itself.
"""

# No `from __future__ import annotations` here: FastAPI reads the apps'
# `Annotated[..., Depends(local_function)]` hints at definition time.
import asyncio
import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import jwt
import pytest
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from flask import Flask, abort, jsonify, redirect
from flask import Response as FlaskResponse
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from structlog.testing import LogCapture

from authhygiene import AuthFailure, AuthHygiene, AuthHygieneWSGI, Reason

# servers.py holds shared assertions: let pytest explain their failures too.
pytest.register_assert_rewrite(f"{__package__}.servers")

from .servers import (  # noqa: E402
    GunicornProcess,
    Reply,
    UvicornThread,
    WerkzeugThread,
    assert_absent,
    assert_problem,
    challenges,
    fetch,
    without_date,
)

# --- credentials the tests send ------------------------------------------------
# Obviously fake, so a failing assertion can never show a real secret.

VALID_TOKEN = "e2e-valid-token-not-a-secret"
BAD_TOKEN = "e2e-rejected-token-0001"
OTHER_BAD_TOKEN = "e2e-rejected-token-0002"
BASIC_CREDENTIAL = "ZTJlOm5vdC1hLXNlY3JldA=="  # base64("e2e:not-a-secret")
SECRETS = (VALID_TOKEN, BAD_TOKEN, OTHER_BAD_TOKEN, BASIC_CREDENTIAL)

REVOKED_DETAIL = "This token was revoked by its owner."

# --- answers the apps give on purpose ----------------------------------------


@dataclass(frozen=True)
class Canned:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    media_type: str = "application/json"


_JSON = "application/json"
CANNED: dict[str, Canned] = {
    # FastAPI style: bare "Bearer" challenge, message in `detail`.
    "challenge-bearer": Canned(
        401, (("WWW-Authenticate", "Bearer"),), b'{"detail":"Could not validate credentials"}'
    ),
    # A 401 without any challenge (RFC 9110 §15.5.2 violation by the app).
    "no-challenge": Canned(401, (), b'{"detail":"Login required"}'),
    # CR/LF-free but not a valid challenge: must be replaced, not kept.
    "bad-challenge": Canned(
        401, (("WWW-Authenticate", 'Bearer realm=unquoted"x'),), b'{"detail":"Token rejected"}'
    ),
    "forbidden": Canned(403, (), b'{"detail":"This account may not do that"}'),
    # FastAPI docs, "OAuth2 scopes": 401 "Not enough permissions" + scope challenge.
    "not-enough": Canned(
        401,
        (("WWW-Authenticate", 'Bearer scope="items:write"'),),
        b'{"detail":"Not enough permissions"}',
    ),
    "message": Canned(
        401, (("WWW-Authenticate", "Bearer"),), b'{"message":"Token rejected by the gateway"}'
    ),
    "text": Canned(
        401,
        (("WWW-Authenticate", "Bearer"),),
        b"Token rejected, log in again",
        "text/plain; charset=utf-8",
    ),
    "cacheable": Canned(
        401,
        (
            ("WWW-Authenticate", "Bearer"),
            ("Cache-Control", "public, max-age=600"),
            ("Vary", "Accept-Encoding"),
            ("X-Custom", "kept"),
            ("Set-Cookie", "theme=dark; Path=/"),
        ),
        b'{"detail":"Token rejected"}',
    ),
}

# --- streaming: chunks and the gate that proves they are not buffered --------

CHUNKS = tuple(b"chunk-%d " % i + b"x" * (100 * i) + b"\n" for i in range(1, 5))
GATE_TIMEOUT_S = 10.0
GATES: dict[str, threading.Event] = {}
# key -> whether the client released the app after reading the first chunk
RELEASED: dict[str, bool] = {}


def open_gate(key: str) -> threading.Event:
    """An app streaming `/stream?gate=key` waits on this after its first chunk."""
    GATES[key] = threading.Event()
    return GATES[key]


def _sync_chunks(key: str) -> Iterator[bytes]:
    yield CHUNKS[0]
    gate = GATES.get(key)
    if gate is not None:
        RELEASED[key] = gate.wait(GATE_TIMEOUT_S)
    yield from CHUNKS[1:]


async def _async_chunks(key: str) -> AsyncIterator[bytes]:
    yield CHUNKS[0]
    gate = GATES.get(key)
    if gate is not None:
        RELEASED[key] = await asyncio.to_thread(gate.wait, GATE_TIMEOUT_S)
    for chunk in CHUNKS[1:]:
        yield chunk


# --- the apps ------------------------------------------------------------------


def _starlette_canned(name: str) -> Response:
    canned = CANNED[name]
    return Response(
        canned.body, canned.status, headers=dict(canned.headers), media_type=canned.media_type
    )


def fastapi_app(options: dict[str, Any] | None, lifespan_events: list[str]) -> FastAPI:
    """FastAPI with `HTTPBearer` as its docs teach; `options` None = no middleware."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.phase = "started"
        lifespan_events.append("startup")
        yield
        lifespan_events.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    security = HTTPBearer()

    def current_token(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(security)],
    ) -> str:
        if credentials.credentials != VALID_TOKEN:
            raise HTTPException(
                status_code=401,
                detail="Invalid authentication credentials",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return credentials.credentials

    def revoked(credentials: Annotated[HTTPAuthorizationCredentials, Depends(security)]) -> str:
        raise AuthFailure(Reason.TOKEN_REVOKED, REVOKED_DETAIL)

    @app.api_route("/json", methods=["GET", "HEAD"])
    def json_endpoint() -> JSONResponse:
        return JSONResponse({"hello": "world"}, headers={"X-Custom": "kept"})

    @app.get("/stream")
    def stream(gate: str = "") -> StreamingResponse:
        return StreamingResponse(_async_chunks(gate), media_type="text/plain")

    @app.get("/redirect")
    def to_json() -> RedirectResponse:
        return RedirectResponse("/json", status_code=302)

    @app.get("/validate")
    def validate(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/bad")
    def bad() -> None:
        raise HTTPException(status_code=400, detail="bad input")

    @app.get("/answer/{name}")
    def answer(name: str) -> Response:
        return _starlette_canned(name)

    @app.api_route("/private", methods=["GET", "HEAD"])
    def private(token: Annotated[str, Depends(current_token)]) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/private/scoped")
    def scoped(token: Annotated[str, Depends(current_token)]) -> None:
        raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")

    @app.get("/raise/endpoint")
    def raise_in_endpoint() -> None:
        raise AuthFailure(Reason.TOKEN_REVOKED, REVOKED_DETAIL)

    @app.get("/raise/dependency")
    def raise_in_dependency(token: Annotated[str, Depends(revoked)]) -> None:
        return None

    @app.get("/state")
    def state(request: Request) -> dict[str, str]:
        return {"phase": request.app.state.phase}

    if options is not None:
        app.add_middleware(AuthHygiene, **options)
    return app


def starlette_app(lifespan_events: list[str]) -> Starlette:
    """A plain Starlette app: endpoints return responses, HTTPException for 400."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.phase = "started"
        lifespan_events.append("startup")
        yield
        lifespan_events.append("shutdown")

    async def json_endpoint(request: Any) -> Response:
        return JSONResponse({"hello": "world"}, headers={"X-Custom": "kept"})

    async def stream(request: Any) -> Response:
        return StreamingResponse(
            _async_chunks(request.query_params.get("gate", "")), media_type="text/plain"
        )

    async def to_json(request: Any) -> Response:
        return RedirectResponse("/json", status_code=302)

    async def validate(request: Any) -> Response:
        value = request.query_params.get("n", "")
        if not value.isdigit():
            return JSONResponse({"detail": "n must be an integer"}, status_code=422)
        return JSONResponse({"n": int(value)})

    async def bad(request: Any) -> Response:
        raise StarletteHTTPException(status_code=400, detail="bad input")

    async def answer(request: Any) -> Response:
        return _starlette_canned(request.path_params["name"])

    async def private(request: Any) -> Response:
        if request.headers.get("authorization") != f"Bearer {VALID_TOKEN}":
            return JSONResponse(
                {"detail": "Invalid token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return JSONResponse({"ok": True})

    async def scoped(request: Any) -> Response:
        if request.headers.get("authorization") != f"Bearer {VALID_TOKEN}":
            return JSONResponse(
                {"detail": "Invalid token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")

    async def raise_in_endpoint(request: Any) -> Response:
        raise AuthFailure(Reason.TOKEN_REVOKED, REVOKED_DETAIL)

    async def state(request: Any) -> Response:
        return JSONResponse({"phase": request.app.state.phase})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"echo:{text}")
        await websocket.close()

    return Starlette(
        routes=[
            Route("/json", json_endpoint),
            Route("/stream", stream),
            Route("/redirect", to_json),
            Route("/validate", validate),
            Route("/bad", bad),
            Route("/answer/{name}", answer),
            Route("/private", private),
            Route("/private/scoped", scoped),
            Route("/raise/endpoint", raise_in_endpoint),
            Route("/state", state),
            WebSocketRoute("/ws", echo),
        ],
        lifespan=lifespan,
    )


def flask_app(options: dict[str, Any] | None) -> Flask:
    """Flask with views returning 401s and `abort`, the way its docs teach."""
    app = Flask("authhygiene_e2e")

    @app.before_request
    def guard() -> None:
        if flask_request.path.startswith("/guarded/"):
            raise AuthFailure(Reason.TOKEN_REVOKED, REVOKED_DETAIL)

    @app.get("/json")
    def json_endpoint() -> Any:
        response = jsonify(hello="world")
        response.headers["X-Custom"] = "kept"
        return response

    @app.get("/stream")
    def stream() -> Any:
        return FlaskResponse(
            _sync_chunks(flask_request.args.get("gate", "")), mimetype="text/plain"
        )

    @app.get("/redirect")
    def to_json() -> Any:
        return redirect("/json")

    @app.get("/validate")
    def validate() -> Any:
        value = flask_request.args.get("n", "")
        if not value.isdigit():
            return {"detail": "n must be an integer"}, 422
        return {"n": int(value)}

    @app.get("/bad")
    def bad() -> Any:
        abort(400)

    @app.get("/answer/<name>")
    def answer(name: str) -> Any:
        canned = CANNED[name]
        return FlaskResponse(
            canned.body, canned.status, headers=list(canned.headers), content_type=canned.media_type
        )

    def check_token() -> Any:
        authorization = flask_request.headers.get("Authorization")
        if authorization is None:
            abort(401)  # werkzeug's HTML Unauthorized page, no challenge
        if authorization != f"Bearer {VALID_TOKEN}":
            return {"detail": "Invalid token"}, 401, {"WWW-Authenticate": "Bearer"}
        return None

    @app.get("/private")
    def private() -> Any:
        refused = check_token()
        return refused if refused is not None else {"ok": True}

    @app.get("/private/scoped")
    def scoped() -> Any:
        refused = check_token()
        if refused is not None:
            return refused
        raise AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="items:write")

    @app.get("/raise/endpoint")
    def raise_in_view() -> Any:
        raise AuthFailure(Reason.TOKEN_REVOKED, REVOKED_DETAIL)

    @app.get("/guarded/area")
    def guarded() -> Any:
        return {"reached": True}  # never: before_request refuses first

    if options is not None:
        app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **options)  # type: ignore[method-assign]
    return app


def gunicorn_flask_app(variant: str) -> Flask:
    """Factory the gunicorn worker calls: the default structlog logger prints
    to the worker's stdout, which the test reads back."""
    return flask_app(None if variant == "bare" else {"realm": "api"})


# --- stacks: one app in its variants, each behind a real server ---------------

VARIANT_OPTIONS: dict[str, dict[str, Any] | None] = {
    "bare": None,
    "wrapped": {},
    "compat": {"compat_403": True},
    "report_only": {"report_only": True},
}


@dataclass
class Variant:
    port: int
    logs: LogCapture | None = None
    lifespan: list[str] = field(default_factory=list)


@dataclass
class Stack:
    """One app behind one kind of server, in its variants."""

    name: str
    variants: dict[str, Variant]
    output: Callable[[], str] | None = None

    def fetch(
        self,
        path: str,
        *,
        variant: str = "wrapped",
        method: str = "GET",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Reply:
        return fetch(self.variants[variant].port, path, method=method, headers=headers)

    def port(self, variant: str = "wrapped") -> int:
        return self.variants[variant].port

    def events(self, name: str, variant: str = "wrapped") -> list[dict[str, Any]]:
        logs = self.variants[variant].logs
        assert logs is not None
        return [entry for entry in logs.entries if entry["event"] == name]

    def log_text(self) -> str:
        """Everything logged so far by every variant (and the server process)."""
        parts = [repr(v.logs.entries) for v in self.variants.values() if v.logs is not None]
        if self.output is not None:
            parts.append(self.output())
        return "\n".join(parts)

    def clear_logs(self) -> None:
        for variant in self.variants.values():
            if variant.logs is not None:
                variant.logs.entries.clear()


def _options(variant: str, logs: LogCapture) -> dict[str, Any] | None:
    extra = VARIANT_OPTIONS[variant]
    if extra is None:
        return None
    return {"realm": "api", **extra, "logger": structlog.wrap_logger(None, processors=[logs])}


ASGI_STACKS = ("fastapi", "starlette", "starlette-outside")
WSGI_STACKS = ("flask", "flask-gunicorn")


class Stacks:
    """Starts each stack on first use; everything stops when the session ends."""

    def __init__(self, exits: contextlib.ExitStack, workdir: Path) -> None:
        self._exits = exits
        self._workdir = workdir
        self._built: dict[str, Stack] = {}

    def get(self, name: str) -> Stack:
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def _build(self, name: str) -> Stack:
        if name == "flask-gunicorn":
            return self._gunicorn()
        variants = {}
        for variant in VARIANT_OPTIONS:
            logs = LogCapture()
            events: list[str] = []
            options = _options(variant, logs)
            app: Any
            if name == "fastapi":
                app = fastapi_app(options, events)
            elif name == "starlette":
                app = starlette_app(events)
                if options is not None:
                    app.add_middleware(AuthHygiene, **options)
            elif name == "starlette-outside":
                # The "any ASGI app" one-liner: outside ServerErrorMiddleware,
                # which sends its 500 before re-raising an exception.
                app = starlette_app(events)
                if options is not None:
                    app = AuthHygiene(app, **options)
            elif name == "flask":
                app = flask_app(options)
            else:
                raise ValueError(name)
            if name == "flask":
                server: Any = self._exits.enter_context(WerkzeugThread(app))
            else:
                server = self._exits.enter_context(UvicornThread(app))
            variants[variant] = Variant(server.port, logs if options is not None else None, events)
        return Stack(name, variants)

    def _gunicorn(self) -> Stack:
        # This module's import name under pytest (e.g. "e2e.conftest") and the
        # directory that makes it importable, for the worker's --pythonpath.
        pythonpath = Path(__file__).resolve().parents[__name__.count(".")]
        variants = {}
        processes = {}
        for variant in ("bare", "wrapped"):
            process = self._exits.enter_context(
                GunicornProcess(
                    f"{__name__}:gunicorn_flask_app({variant!r})",
                    pythonpath=pythonpath,
                    workdir=self._workdir,
                    name=f"gunicorn-{variant}",
                )
            )
            processes[variant] = process
            variants[variant] = Variant(process.port)
        return Stack("flask-gunicorn", variants, output=processes["wrapped"].output)


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    with contextlib.ExitStack() as exits:
        yield Stacks(exits, tmp_path_factory.mktemp("servers"))


def _started(request: pytest.FixtureRequest, stacks: Stacks) -> Stack:
    stack = stacks.get(request.param)
    stack.clear_logs()
    return stack


@pytest.fixture(params=ASGI_STACKS)
def asgi_stack(request: pytest.FixtureRequest, stacks: Stacks) -> Stack:
    """FastAPI (add_middleware), Starlette (add_middleware) and Starlette
    wrapped from the outside, each under uvicorn."""
    return _started(request, stacks)


@pytest.fixture(params=("flask",))
def flask_stack(request: pytest.FixtureRequest, stacks: Stacks) -> Stack:
    """Flask under werkzeug's threaded server, in all four variants."""
    return _started(request, stacks)


@pytest.fixture(params=("flask-gunicorn",))
def gunicorn_stack(request: pytest.FixtureRequest, stacks: Stacks) -> Stack:
    """Flask under gunicorn with one sync worker: `bare` and `wrapped` only,
    logging through structlog's default logger to the worker's stdout."""
    return _started(request, stacks)


@pytest.fixture(params=ASGI_STACKS + WSGI_STACKS)
def any_stack(request: pytest.FixtureRequest, stacks: Stacks) -> Stack:
    """Every stack, for what must hold on all of them."""
    return _started(request, stacks)


# --- the failure contract both adapters are held to ----------------------------
# test_asgi.py and test_wsgi.py subclass FailureContract with a `stack` fixture
# of their own; the case tables and checks below are written once, so the two
# adapters cannot drift apart without a test saying so.

Headers = tuple[tuple[str, str], ...]


def bearer(token: str) -> Headers:
    return (("Authorization", f"Bearer {token}"),)


def expired_jwt(seconds_ago: int = 95) -> tuple[str, int]:
    """A JWT whose `exp` is `seconds_ago` in the past, signed with a throwaway key."""
    exp = int(time.time()) - seconds_ago
    token = jwt.encode(
        {"sub": "e2e-user", "exp": exp},
        "e2e-throwaway-signing-key-not-a-secret",
        algorithm="HS256",
    )
    return token, exp


def check_logged_once(
    stack: Stack, reply: Reply, *, path: str, credential_sent: bool, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Exactly one `auth.failure` event for this failure, with the fields an
    operator groups by, and no credential anywhere in it (R24)."""
    events = stack.events("auth.failure")
    assert len(events) == 1
    event = events[0]
    problem = reply.json()
    assert event["reason"] == problem["reason"]
    assert event["status"] == reply.status
    assert event["path"] == path.split("?", 1)[0]
    assert event["request_id"] == problem["request_id"]
    if credential_sent:
        assert re.fullmatch(r"[0-9a-f]{16}", event["credential_fingerprint"])
    else:
        assert "credential_fingerprint" not in event
    assert_absent(SECRETS + secrets, stack.log_text(), reply.wire_text)
    return event


def challenge_errors(reply: Reply) -> list[str | None]:
    return [c.parameters.get("error") for c in challenges(reply)]


# id, path, request headers, status, RFC 6750 error (None: no error param),
# reason, scope param, whether a credential was sent (so a fingerprint is logged)
CODE_CASES = [
    pytest.param(
        "/private", (), 401, None, "credentials_missing", None, False, id="no-credentials"
    ),
    pytest.param(
        "/private",
        (("Authorization", f"Basic {BASIC_CREDENTIAL}"),),
        401,
        None,
        "scheme_not_accepted",
        None,
        True,
        id="basic-to-bearer-api",
    ),
    pytest.param(
        "/private",
        bearer(BAD_TOKEN),
        401,
        "invalid_token",
        "credentials_invalid",
        None,
        True,
        id="bad-token",
    ),
    pytest.param(
        "/private",
        (("Authorization", "Bearer "),),
        400,
        "invalid_request",
        "credentials_malformed",
        None,
        False,
        id="empty-bearer",
    ),
    pytest.param(
        "/private",
        bearer(BAD_TOKEN) + bearer(OTHER_BAD_TOKEN),
        400,
        "invalid_request",
        "credentials_malformed",
        None,
        True,
        id="two-authorization-lines",
    ),
    pytest.param(
        f"/private?access_token={OTHER_BAD_TOKEN}",
        bearer(BAD_TOKEN),
        400,
        "invalid_request",
        "credentials_malformed",
        None,
        True,
        id="token-in-header-and-query",
    ),
    pytest.param(
        "/private/scoped",
        bearer(VALID_TOKEN),
        403,
        "insufficient_scope",
        "insufficient_scope",
        "items:write",
        True,
        id="insufficient-scope-raised",
    ),
]

# id, path, request headers, RFC 6750 error the challenge must carry (None: none)
CHALLENGE_CASES = [
    pytest.param("/answer/no-challenge", (), None, id="app-sends-none"),
    pytest.param(
        "/answer/no-challenge", bearer(BAD_TOKEN), "invalid_token", id="app-sends-none-bad-token"
    ),
    pytest.param("/answer/challenge-bearer", (), None, id="app-sends-bearer"),
    pytest.param(
        "/answer/challenge-bearer",
        bearer(BAD_TOKEN),
        "invalid_token",
        id="app-sends-bearer-bad-token",
    ),
    pytest.param("/answer/bad-challenge", (), None, id="app-sends-invalid"),
    pytest.param(
        "/answer/bad-challenge",
        bearer(BAD_TOKEN),
        "invalid_token",
        id="app-sends-invalid-bad-token",
    ),
    pytest.param("/private", bearer(BAD_TOKEN), "invalid_token", id="framework-bad-token"),
]

# id, variant, path, request headers, status, reason
STATUS_CASES = [
    pytest.param(
        "wrapped", "/answer/forbidden", (), 401, "credentials_missing", id="403-anonymous-to-401"
    ),
    pytest.param(
        "compat", "/answer/forbidden", (), 403, "credentials_missing", id="403-anonymous-compat"
    ),
    pytest.param(
        "wrapped",
        "/answer/forbidden",
        bearer(VALID_TOKEN),
        403,
        "forbidden",
        id="403-with-token-stays",
    ),
    pytest.param(
        "wrapped",
        "/answer/not-enough",
        bearer(VALID_TOKEN),
        403,
        "insufficient_scope",
        id="401-not-enough-permissions-to-403",
    ),
]

# id, path, the app's own message that must survive in `detail`
MESSAGE_CASES = [
    pytest.param("/answer/challenge-bearer", "Could not validate credentials", id="json-detail"),
    pytest.param("/answer/message", "Token rejected by the gateway", id="json-message"),
    pytest.param("/answer/text", "Token rejected, log in again", id="text-plain"),
]

# id, path, request headers, status the middleware would have answered
REPORT_CASES = [
    pytest.param("/private", (), 401, id="no-credentials"),
    pytest.param("/private", bearer(BAD_TOKEN), 401, id="bad-token"),
    pytest.param("/private", (("Authorization", "Bearer "),), 400, id="empty-bearer"),
    pytest.param("/answer/forbidden", (), 401, id="403-anonymous"),
    pytest.param("/answer/cacheable", bearer(BAD_TOKEN), 401, id="cacheable-401"),
]


class FailureContract:
    """What every auth failure answered through the middleware looks like.
    Subclasses provide a `stack` fixture."""

    @pytest.mark.parametrize(("path", "headers", "error"), CHALLENGE_CASES)
    def test_every_401_has_a_challenge(
        self, stack: Stack, path: str, headers: Headers, error: str | None
    ) -> None:
        reply = stack.fetch(path, headers=headers)

        assert reply.status == 401
        parsed = challenges(reply)  # R1, R3, werkzeug as the oracle
        assert [c.type for c in parsed] == ["bearer"]
        assert parsed[0].parameters.get("realm") == "api"
        assert parsed[0].parameters.get("error") == error  # R7 / R9
        assert ("error_description" in parsed[0].parameters) == (error is not None)
        assert 'unquoted"x' not in reply.wire_text  # an invalid challenge is replaced
        assert_problem(reply, status=401, reason=reply.json()["reason"])
        check_logged_once(stack, reply, path=path, credential_sent=bool(headers))

    @pytest.mark.parametrize(
        ("path", "headers", "status", "error", "reason", "scope", "credential_sent"), CODE_CASES
    )
    def test_rfc6750_codes(
        self,
        stack: Stack,
        path: str,
        headers: Headers,
        status: int,
        error: str | None,
        reason: str,
        scope: str | None,
        credential_sent: bool,
    ) -> None:
        reply = stack.fetch(path, headers=headers)

        problem = assert_problem(reply, status=status, reason=reason)
        assert challenge_errors(reply) == [error]  # R7, R8, R9, R10
        assert problem.get("error") == error  # no OAuth code where RFC 6750 has none
        parsed = challenges(reply)
        assert parsed[0].parameters.get("scope") == scope
        if scope is not None:
            assert problem["required_scope"] == scope
        check_logged_once(stack, reply, path=path, credential_sent=credential_sent)

    @pytest.mark.parametrize(("variant", "path", "headers", "status", "reason"), STATUS_CASES)
    def test_401_versus_403(
        self, stack: Stack, variant: str, path: str, headers: Headers, status: int, reason: str
    ) -> None:
        reply = stack.fetch(path, variant=variant, headers=headers)

        problem = assert_problem(reply, status=status, reason=reason)
        if reason == "insufficient_scope":
            assert challenge_errors(reply) == ["insufficient_scope"]
            assert challenges(reply)[0].parameters.get("scope") == "items:write"
            assert problem["error"] == "insufficient_scope"
        assert_absent(SECRETS, reply.wire_text, stack.log_text())
        events = stack.events("auth.failure", variant=variant)
        assert len(events) == 1
        assert events[0]["status"] == status

    @pytest.mark.parametrize(("path", "message"), MESSAGE_CASES)
    def test_app_message_survives_in_detail(self, stack: Stack, path: str, message: str) -> None:
        reply = stack.fetch(path, headers=bearer(BAD_TOKEN))

        problem = assert_problem(reply, status=401, reason="credentials_invalid")
        assert message in problem["detail"]
        assert message.rstrip(".") in problem["error_description"]
        check_logged_once(stack, reply, path=path, credential_sent=True)

    def test_expired_jwt_is_explained(self, stack: Stack) -> None:
        token, exp = expired_jwt(95)
        reply = stack.fetch("/private", headers=bearer(token))

        problem = assert_problem(reply, status=401, reason="token_expired")
        assert challenge_errors(reply) == ["invalid_token"]
        assert problem["expired_at"] == datetime.fromtimestamp(exp, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        server_time = datetime.strptime(problem["server_time"], "%Y-%m-%dT%H:%M:%S%z")
        assert server_time.timestamp() - exp >= 95  # the clock only moves forward
        check_logged_once(
            stack, reply, path="/private", credential_sent=True, secrets=tuple(token.split("."))
        )

    def test_request_id_is_echoed(self, stack: Stack) -> None:
        reply = stack.fetch("/private", headers=(("X-Request-ID", "abc-123"),))

        problem = assert_problem(reply, status=401, reason="credentials_missing")
        assert problem["request_id"] == "abc-123"
        assert reply.get_all("x-request-id") == ["abc-123"]
        check_logged_once(stack, reply, path="/private", credential_sent=False)

    def test_failure_headers(self, stack: Stack) -> None:
        reply = stack.fetch("/answer/cacheable", headers=bearer(BAD_TOKEN))

        assert_problem(reply, status=401, reason="credentials_invalid")
        assert reply.get_all("cache-control") == ["no-store"]  # the app's public, max-age=600
        assert reply.get_all("pragma") == ["no-cache"]
        vary = [item.strip().lower() for v in reply.get_all("vary") for item in v.split(",")]
        assert sorted(vary) == ["accept-encoding", "authorization", "cookie", "origin"]
        assert reply.get_all("x-custom") == ["kept"]
        assert reply.get_all("set-cookie") == ["theme=dark; Path=/"]
        check_logged_once(stack, reply, path="/answer/cacheable", credential_sent=True)

    @pytest.mark.parametrize(("path", "headers", "would_status"), REPORT_CASES)
    def test_report_only_changes_nothing(
        self, stack: Stack, path: str, headers: Headers, would_status: int
    ) -> None:
        bare = stack.fetch(path, variant="bare", headers=headers)
        reply = stack.fetch(path, variant="report_only", headers=headers)

        assert reply.status == bare.status
        assert without_date(reply.headers) == without_date(bare.headers)
        assert reply.body == bare.body
        assert stack.events("auth.failure", variant="report_only") == []
        events = stack.events("auth.report_only", variant="report_only")
        assert len(events) == 1
        assert events[0]["would_status"] == would_status
        assert events[0]["status"] == bare.status
        assert_absent(SECRETS, stack.log_text(), reply.wire_text)
