"""The apps, middlewares and requests of the child-process sections
("refusal instructions (callgrind)" and "refusal flood memory").

Kept light on purpose: a callgrind child pays for every line of code it
runs at start-up (valgrind translates each new basic block), so this module
imports only the standard library and structlog, and authhygiene only when a
variant is built. No werkzeug, no PyJWT: the tokens are HS256 JWTs signed
here with `hmac`, from a fixed throwaway key and fixed claims, so that two
runs execute the same instructions.

Variants, each for ASGI and WSGI:

- ``bare``: the app alone, answering what FastAPI answers a request whose
  bearer token does not validate: 401, ``WWW-Authenticate: Bearer``,
  ``{"detail": "Could not validate credentials"}``;
- ``anchor``: the same app behind a hand-written, correct refusal
  middleware: the challenge with realm and error, a 9-member problem+json
  body from `json.dumps`, ``Cache-Control: no-store``, a uuid4 request id
  header and one structlog ``auth.failure`` event (reason, status, path,
  request_id): what doing it right by hand costs;
- ``same`` / ``new``: the same app behind `AuthHygiene` / `AuthHygieneWSGI`
  (the suite's `failure_options`, ``metrics=False``), the same token on
  every request, or a new one on every request;
- ``ok.bare`` / ``ok.floor`` / ``ok.authhygiene``: a JSON 200, alone, behind
  a middleware that only wraps ``send`` / ``start_response`` (the floor),
  behind authhygiene.

Every refusal variant builds the same list of distinct expired tokens
before it serves (``same`` then sends the first one every time), so token
generation costs all of them alike.

And the flood of "refusal flood memory": `flood_app` (the bare 401 behind
authhygiene) and `flood_request` (a token, a path and a user agent of its
own per request), served by `flood`.

Every token made here is a credential for the suite's rules: none may reach
stdout, the JSON file or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

__all__ = [
    "ANCHOR_CHALLENGE",
    "ANCHOR_MEMBERS",
    "BODY_401",
    "BODY_OK",
    "PROTOCOLS",
    "REFUSAL",
    "SUCCESS",
    "VARIANTS",
    "AsgiAnchor",
    "AsgiFloor",
    "WsgiAnchor",
    "WsgiFloor",
    "build",
    "environ",
    "exchange",
    "expired_token",
    "flood",
    "flood_app",
    "flood_request",
    "requests_for",
    "scope",
    "serve",
]

PROTOCOLS = ("asgi", "wsgi")
REFUSAL = ("bare", "anchor", "same", "new")
SUCCESS = ("ok.bare", "ok.floor", "ok.authhygiene")
VARIANTS = REFUSAL + SUCCESS

# FastAPI's answer to a bearer token that does not validate (its OAuth2/JWT
# tutorial): HTTPException(401, "Could not validate credentials",
# headers={"WWW-Authenticate": "Bearer"}), rendered by JSONResponse.
BODY_401 = b'{"detail":"Could not validate credentials"}'
BODY_OK = json.dumps(
    {"items": [{"id": i, "name": f"item {i}", "price": 9.5 + i} for i in range(3)]}
).encode()
ANCHOR_CHALLENGE = 'Bearer realm="api", error="invalid_token"'
ANCHOR_MEMBERS = 9

_KEY = b"callgrind-benchmark-throwaway-key-0001"
_EPOCH = 1_700_000_000  # November 2023: every token made here has expired
_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
_ORIGIN = "https://app.example.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_JOSE = _b64(b'{"alg":"HS256","typ":"JWT"}')


def expired_token(i: int) -> str:
    """The `i`-th distinct HS256 JWT, expired (a real JWT: claims and
    signature, ~240 characters), the same on every run."""
    claims = {
        "sub": f"user-{i:06d}",
        "jti": f"{i:08x}",
        "iss": "https://issuer.example",
        "scope": "items:read",
        "iat": _EPOCH + i,
        "exp": _EPOCH + 3600 + i,
    }
    signing = f"{_JOSE}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = hmac.new(_KEY, signing.encode("ascii"), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


def _headers(token: str, user_agent: str) -> tuple[tuple[str, str], ...]:
    """A same-origin API call as the suite's `workload.plain_request` sends
    it, less its ``X-Request-Id``: without one, the anchor and authhygiene
    both mint a request id. 8 headers."""
    return (
        ("host", "api.example.com"),
        ("user-agent", user_agent),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate, br"),
        ("accept-language", "en-US,en;q=0.9"),
        ("authorization", f"Bearer {token}"),
        ("referer", f"{_ORIGIN}/items"),
        ("connection", "keep-alive"),
    )


def scope(token: str, path: str = "/items", user_agent: str = _USER_AGENT) -> dict[str, Any]:
    """An ASGI HTTP scope for ``GET path?limit=20`` (as `asgi_kit.scope`)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("10.0.0.5", 8000),
        "client": ("203.0.113.7", 51514),
        "scheme": "https",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"limit=20",
        "headers": [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in _headers(token, user_agent)
        ],
        "state": {},
    }


def environ(token: str, path: str = "/items", user_agent: str = _USER_AGENT) -> dict[str, Any]:
    """A WSGI environ for ``GET path?limit=20`` (as `wsgi_kit.environ`)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "limit=20",
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "REMOTE_PORT": "51514",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in _headers(token, user_agent):
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


# --- ASGI ------------------------------------------------------------------

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


async def asgi_unauthorized(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-length", str(len(BODY_401)).encode()),
                (b"content-type", b"application/json"),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY_401, "more_body": False})


async def asgi_ok(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(BODY_OK)).encode()),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY_OK, "more_body": False})


def _problem(path: str, request_id: str) -> bytes:
    """The anchor's problem+json body: 9 members, `json.dumps`."""
    return json.dumps(
        {
            "type": "https://errors.example.com/auth/invalid-token",
            "title": "Invalid access token",
            "status": 401,
            "detail": "The access token is invalid or has expired.",
            "instance": path,
            "reason": "invalid_token",
            "request_id": request_id,
            "hint": "Obtain a new access token and retry.",
            "docs": "https://errors.example.com/auth",
        }
    ).encode()


def _log_refusal(logger: Any, path: str, request_id: str) -> None:
    logger.warning(
        "auth.failure", reason="invalid_token", status=401, path=path, request_id=request_id
    )


class AsgiAnchor:
    """A hand-written, correct refusal middleware: what doing it right by
    hand costs. On a 401 from the app: the challenge with realm and error,
    a problem+json body, no-store, a request id, one log event."""

    def __init__(self, app: ASGIApp, logger: Any) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced: list[bytes] = []

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                request_id = str(uuid.uuid4())
                path = scope["path"]
                body = _problem(path, request_id)
                _log_refusal(self.logger, path, request_id)
                replaced.append(body)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"www-authenticate", ANCHOR_CHALLENGE.encode()),
                            (b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"),
                            (b"x-request-id", request_id.encode()),
                        ],
                    }
                )
            elif replaced and message["type"] == "http.response.body":
                if not message.get("more_body", False):  # the app's body is dropped
                    await send({"type": "http.response.body", "body": replaced[0]})
            else:
                await send(message)

        await self.app(scope, receive, wrapped)


class AsgiFloor:
    """The least a response-watching ASGI middleware can do: wrap send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        async def wrapped(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, wrapped)


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    return None


# --- WSGI ------------------------------------------------------------------

StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _write(chunk: bytes) -> None:
    return None


def wsgi_unauthorized(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response(
        "401 Unauthorized",
        [
            ("content-length", str(len(BODY_401))),
            ("content-type", "application/json"),
            ("www-authenticate", "Bearer"),
        ],
    )
    return [BODY_401]


def wsgi_ok(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response(
        "200 OK", [("content-length", str(len(BODY_OK))), ("content-type", "application/json")]
    )
    return [BODY_OK]


class WsgiAnchor:
    """`AsgiAnchor` for WSGI (for apps that call start_response before
    returning, as Flask and Django do)."""

    def __init__(self, app: WSGIApp, logger: Any) -> None:
        self.app = app
        self.logger = logger

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started: list[Any] = []

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started[:] = [status, headers, exc_info]
            return _write

        result = self.app(environ, capture)
        if not started[0].startswith("401"):
            start_response(*started)
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()
        request_id = str(uuid.uuid4())
        path = environ["PATH_INFO"]
        body = _problem(path, request_id)
        _log_refusal(self.logger, path, request_id)
        start_response(
            "401 Unauthorized",
            [
                ("WWW-Authenticate", ANCHOR_CHALLENGE),
                ("Content-Type", "application/problem+json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("X-Request-Id", request_id),
            ],
        )
        return [body]


class WsgiFloor:
    """The least a response-watching WSGI middleware can do: wrap start_response."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def wrapped(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            return start_response(status, headers, exc_info)

        return self.app(environ, wrapped)


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], object]:
    return _write


# --- building and serving ----------------------------------------------------


def build(proto: str, variant: str, logger: Any) -> Any:
    """The app of one variant, logging (where it logs) with `logger`."""
    if proto not in PROTOCOLS or variant not in VARIANTS:
        raise ValueError(f"unknown variant {proto}.{variant}")
    asgi = proto == "asgi"
    if variant in SUCCESS:
        app: Any = asgi_ok if asgi else wsgi_ok
        if variant == "ok.floor":
            return AsgiFloor(app) if asgi else WsgiFloor(app)
    else:
        app = asgi_unauthorized if asgi else wsgi_unauthorized
        if variant == "anchor":
            return AsgiAnchor(app, logger) if asgi else WsgiAnchor(app, logger)
    if variant in ("same", "new", "ok.authhygiene"):
        from authhygiene import AuthHygiene, AuthHygieneWSGI
        from benchmarks.setup import failure_options

        middleware = AuthHygiene if asgi else AuthHygieneWSGI
        return middleware(app, **failure_options(logger, metrics=False))
    return app


def requests_for(proto: str, variant: str, count: int) -> list[dict[str, Any]]:
    """What `serve` sends: for a refusal variant, `count` requests with
    distinct expired tokens (made by every refusal variant, used in turn by
    all but ``same``); for a success variant, one request."""
    make = scope if proto == "asgi" else environ
    if variant in SUCCESS:
        return [make(expired_token(0))]
    return [make(expired_token(i)) for i in range(count)]


def serve(
    proto: str,
    variant: str,
    app: Any,
    requests: Sequence[dict[str, Any]],
    stops: Sequence[int],
    mark: Callable[[], object] = lambda: None,
) -> None:
    """Serve requests ``0 .. stops[-1] - 1`` as a server would (ASGI awaited
    directly in one event loop, WSGI called, iterated and closed), each a
    fresh copy of its scope or environ, and call `mark()` on reaching each
    of `stops`. ``same`` and the success variants send ``requests[0]``
    every time, the others ``requests[i]``."""
    one = variant == "same" or variant in SUCCESS
    if proto == "asgi":
        import asyncio

        async def loop() -> None:
            i = 0
            for stop in stops:
                while i < stop:
                    await app(dict(requests[0 if one else i]), _receive, _discard)
                    i += 1
                mark()

        asyncio.run(loop())
        return
    i = 0
    for stop in stops:
        while i < stop:
            result = app(dict(requests[0 if one else i]), _start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
            i += 1
        mark()


def flood_app(proto: str, logger: Any) -> Any:
    """The app of "refusal flood memory": the bare 401 behind authhygiene
    with the suite's options (metrics as a user gets them: on when
    prometheus-client is installed)."""
    from authhygiene import AuthHygiene, AuthHygieneWSGI
    from benchmarks.setup import failure_options

    if proto == "asgi":
        return AuthHygiene(asgi_unauthorized, **failure_options(logger))
    return AuthHygieneWSGI(wsgi_unauthorized, **failure_options(logger))


def flood_request(proto: str, i: int) -> dict[str, Any]:
    """The `i`-th request of a flood: its own token, path and user agent."""
    make = scope if proto == "asgi" else environ
    return make(expired_token(i), f"/items/{i}", f"{_USER_AGENT[:-2]}.{i}.0")


def flood(
    proto: str,
    app: Any,
    request: Callable[[int], dict[str, Any]],
    stops: Sequence[int],
    mark: Callable[[int], bool],
) -> int:
    """Serve ``request(i)`` for i = 0, 1, ... and call ``mark(i)`` on
    reaching each of `stops`; stop there when it returns False. Returns how
    many requests were served."""
    served = [0]
    if proto == "asgi":
        import asyncio

        async def loop() -> None:
            i = 0
            for stop in stops:
                while i < stop:
                    await app(request(i), _receive, _discard)
                    i += 1
                served[0] = i
                if not mark(i):
                    return

        asyncio.run(loop())
        return served[0]
    i = 0
    for stop in stops:
        while i < stop:
            result = app(request(i), _start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
            i += 1
        if not mark(i):
            break
    return i


def exchange(proto: str, app: Any, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of one request: for the self-checks."""
    if proto == "asgi":
        import asyncio

        sent: list[Message] = []

        async def record(message: Message) -> None:
            sent.append(message)

        asyncio.run(app(dict(request), _receive, record))
        start = sent[0]
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        status = int(start["status"])
        body = b"".join(m.get("body", b"") for m in sent[1:])
    else:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started[:] = [status, headers]
            return _write

        result = app(dict(request), start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, pairs = int(started[0][:3]), started[1]
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return status, headers, body
