"""The pieces the MCP end-to-end tests are built from.

- `serving`: uvicorn on 127.0.0.1 in a thread, on a socket bound before the
  app is built (so an app may know its own URL: an audience, an issuer);
  stopped by the context manager that started it.
- `AuthorizationServer`: a small OAuth 2.1 authorization server (RFC 8414
  metadata, RFC 7591 registration, an `/authorize` that approves at once,
  `/token` with PKCE S256 and refresh tokens, `/jwks`) issuing RS256 JWTs
  whose `aud` is the RFC 8707 `resource` the client sent. It records every
  request it gets.
- `Recorder`: an ASGI layer that records what a resource server was asked
  and what it answered (status, challenge).
- `mcp_server`: the SDK's `MCPServer` with the tools `echo` and
  `admin_reset`; `ScopeGate` is how an app would say `admin_reset` needs
  `mcp:admin`.
- `Proxy`: a streaming reverse proxy that adds forwarded headers.
- `connect`: the SDK's own OAuth client (`OAuthClientProvider`) and
  `Client`, with an in-memory token store and a "browser" that follows the
  authorization URL without following its redirect.

Every issued token, code and refresh token is remembered by the leak check
(`tests/leaks.py`): the SDK sends them with httpx2, which that check does
not watch, and none may reach what a test captured.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from werkzeug.datastructures import WWWAuthenticate

from tests import leaks

__all__ = [
    "ADMIN",
    "MODES",
    "TOOLS",
    "AuthorizationServer",
    "Browser",
    "Flow",
    "MemoryStorage",
    "Proxy",
    "Recorder",
    "Running",
    "ScopeGate",
    "Seen",
    "connect",
    "mcp_server",
    "reserve",
    "run_flow",
    "serving",
    "without_resource_metadata",
]

# How the SDK client opens a session: "legacy" sends `initialize` and talks
# over SSE streams (a GET stream too); "auto" probes `server/discover`
# (2026-07-28) and gets JSON answers.
MODES = ("legacy", "auto")
PRM_PATH = "/.well-known/oauth-protected-resource"
TOOLS = "mcp:tools"
ADMIN = "mcp:admin"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
IO_TIMEOUT_S = 15.0
# One whole SDK flow (discovery, registration, authorization, tool calls).
FLOW_TIMEOUT_S = 60.0
_POLL_S = 0.02
_MAX_BODY = 1 << 20

ASGIApp = Callable[..., Awaitable[None]]


# --- servers -------------------------------------------------------------------


@dataclass
class Running:
    port: int
    app: Any

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def reserve() -> socket.socket:
    """A socket bound to 127.0.0.1 on a port the OS picks, for `serving`:
    its port is known before the app behind another server is built."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serving(
    build: Callable[[int], Any], *, name: str = "mcp-e2e", sock: socket.socket | None = None
) -> Iterator[Running]:
    """uvicorn serving `build(port)` on 127.0.0.1 (on `sock` if given), in a thread."""
    sock = sock or reserve()
    try:
        port = sock.getsockname()[1]
        app = build(port)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            timeout_graceful_shutdown=2,
            # uvicorn's own default trusts X-Forwarded-Proto/-For from
            # 127.0.0.1 and rewrites the scope's scheme and client before
            # any app runs: off, so forwarding is the middleware's call.
            proxy_headers=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start")
                time.sleep(_POLL_S)
            yield Running(port, app)
        finally:
            server.should_exit = True
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                raise RuntimeError(f"{name} did not stop")
    finally:
        sock.close()


# --- the authorization server ---------------------------------------------------


@functools.cache
def _signing_key() -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, {**jwk, "kid": "as-1", "use": "sig", "alg": "RS256"}


@dataclass(frozen=True)
class Seen:
    """One request an authorization server (or resource server) received."""

    method: str
    path: str
    params: Mapping[str, str]


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str
    resource: str | None
    challenge: str = ""


class AuthorizationServer:
    """See the module. `issuer` is its base URL (RFC 8414 §2, no path)."""

    SCOPES = (TOOLS, ADMIN)

    def __init__(self, port: int) -> None:
        self.issuer = f"http://127.0.0.1:{port}"
        self.seen: list[Seen] = []
        # The access tokens' lifetime, seconds (`expires_in` and `exp`).
        self.expires_in = 300
        self._clients: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", self._metadata),
                Route("/register", self._register, methods=["POST"]),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/jwks", self._jwks),
            ]
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # --- what the tests read ---------------------------------------------------

    def requests(self, path: str) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.seen if seen.path == path]

    def issue(self, scope: str, resource: str, *, lifetime: int = 300, **claims: Any) -> str:
        """An access token as `/token` would issue it (for raw-HTTP tests)."""
        private, jwk = _signing_key()
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "sub": "mcp-user",
            "aud": resource,
            "client_id": "test-client",
            "scope": scope,
            "iat": now,
            "exp": now + lifetime,
            **claims,
        }
        token = jwt.encode(body, private, algorithm="RS256", headers={"kid": jwk["kid"]})
        leaks.remember(token, *token.split("."))
        return token

    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    # --- endpoints --------------------------------------------------------------

    async def _record(self, request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            if request.headers.get("content-type", "").startswith("application/json"):
                body = await request.json()
                params.update({k: json.dumps(v) for k, v in body.items()})
            else:
                params.update({k: str(v) for k, v in (await request.form()).items()})
        with self._lock:
            self.seen.append(Seen(request.method, request.url.path, params))
        return params

    async def _metadata(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "registration_endpoint": f"{self.issuer}/register",
                "jwks_uri": self.jwks_url(),
                "scopes_supported": list(self.SCOPES),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"keys": [_signing_key()[1]]})

    async def _register(self, request: Request) -> Response:
        await self._record(request)
        metadata = await request.json()
        redirect_uris = metadata.get("redirect_uris")
        if not isinstance(redirect_uris, list) or not redirect_uris:
            return _oauth_error("invalid_redirect_uri", 400)
        client_id = f"client-{secrets.token_hex(8)}"
        info = {
            **metadata,
            "client_id": client_id,
            "client_id_issued_at": int(time.time()),
            "token_endpoint_auth_method": "none",
        }
        with self._lock:
            self._clients[client_id] = info
        return JSONResponse(info, status_code=201)

    async def _authorize(self, request: Request) -> Response:
        params = await self._record(request)
        with self._lock:
            client = self._clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None or redirect_uri not in client["redirect_uris"]:
            return _oauth_error("invalid_request", 400)
        if params.get("response_type") != "code" or params.get("code_challenge_method") != "S256":
            return _oauth_error("invalid_request", 400)
        code = secrets.token_urlsafe(24)
        leaks.remember(code)
        with self._lock:
            self._codes[code] = _Grant(
                client["client_id"],
                redirect_uri,
                params.get("scope", ""),
                params.get("resource"),
                params.get("code_challenge", ""),
            )
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    async def _token(self, request: Request) -> Response:
        params = await self._record(request)
        grant_type = params.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(params.get("code", ""), None)
                refused = _code_refusal(grant, params)
            elif grant_type == "refresh_token":
                grant = self._refresh.pop(params.get("refresh_token", ""), None)
                refused = None if grant is not None else "invalid_grant"
            else:
                grant, refused = None, "unsupported_grant_type"
        if refused is not None or grant is None:
            return _oauth_error(refused or "invalid_grant", 400)
        resource = params.get("resource") or grant.resource
        if grant.resource is not None and resource != grant.resource:
            return _oauth_error("invalid_target", 400)
        refresh = secrets.token_urlsafe(24)
        leaks.remember(refresh)
        with self._lock:
            self._refresh[refresh] = grant
        access = self.issue(
            grant.scope, resource or "", lifetime=self.expires_in, client_id=grant.client_id
        )
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "scope": grant.scope,
                "refresh_token": refresh,
            },
            headers={"Cache-Control": "no-store"},
        )


def _code_refusal(grant: _Grant | None, params: Mapping[str, str]) -> str | None:
    if grant is None or params.get("client_id") != grant.client_id:
        return "invalid_grant"
    if params.get("redirect_uri") != grant.redirect_uri:
        return "invalid_grant"
    verifier = params.get("code_verifier", "").encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    if not secrets.compare_digest(digest, grant.challenge):  # RFC 7636 §4.6
        return "invalid_grant"
    return None


def _oauth_error(error: str, status: int) -> Response:
    return JSONResponse({"error": error}, status_code=status, headers={"Cache-Control": "no-store"})


# --- the resource server ---------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """One request a resource server received, and what it answered."""

    method: str
    path: str
    status: int
    challenge: str | None
    authorized: bool
    content_type: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """The challenge's auth-params, parsed by werkzeug (the oracle)."""
        if self.challenge is None:
            return {}
        parsed = WWWAuthenticate.from_header(self.challenge)
        return dict(parsed.parameters) if parsed is not None else {}


class Recorder:
    """Records each HTTP exchange that passes through it (outermost layer)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[Answered] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorized = any(name == b"authorization" for name, _ in scope["headers"])

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = {
                    name.lower(): value.decode("latin-1")
                    for name, value in message.get("headers", [])
                }
                answered = Answered(
                    scope["method"],
                    scope["path"],
                    message["status"],
                    headers.get(b"www-authenticate"),
                    authorized,
                    headers.get(b"content-type"),
                )
                with self._lock:
                    self.seen.append(answered)
            await send(message)

        await self.app(scope, receive, recording_send)

    def answered(self) -> list[Answered]:
        with self._lock:
            return list(self.seen)

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()


def mcp_server(**options: Any) -> MCPServer[Any]:
    """The SDK's server with the two tools every test calls."""
    server: MCPServer[Any] = MCPServer("authhygiene-e2e", **options)

    @server.tool()
    def echo(text: str) -> str:
        """Say `text` back."""
        return text

    @server.tool()
    def admin_reset() -> str:
        """An administrative tool: needs mcp:admin (see ScopeGate)."""
        return "reset done"

    return server


ScopesOf = Callable[[Any], Sequence[str]]


class ScopeGate:
    """How an app says one tool needs one more scope: it reads the JSON-RPC
    `tools/call` and, when the caller's token lacks `mcp:admin`, refuses
    with `refuse(scope, receive, send)` before the MCP app sees the call."""

    ADMIN_TOOLS = frozenset({"admin_reset"})

    def __init__(
        self,
        app: Any,
        *,
        scopes_of: ScopesOf,
        refuse: Callable[[Any, Any, Any], Awaitable[None]],
    ) -> None:
        self.app = app
        self.scopes_of = scopes_of
        self.refuse = refuse

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more and len(body) <= _MAX_BODY:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(b"", receive, message), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if self._needs_admin(bytes(body)) and ADMIN not in self.scopes_of(scope):
            await self.refuse(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _needs_admin(self, body: bytes) -> bool:
        try:
            message = json.loads(body)
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            return False
        params = message.get("params")
        return isinstance(params, dict) and params.get("name") in self.ADMIN_TOOLS


def _replay(body: bytes, receive: Any, first: Any = None) -> Callable[[], Awaitable[Any]]:
    pending = [first if first is not None else {"type": "http.request", "body": body}]

    async def replaying() -> Any:
        if pending:
            return pending.pop()
        return await receive()

    return replaying


def scopes_in_auth(scope: Any) -> Sequence[str]:
    """The verified identity's scopes, as Starlette's `scope["auth"]` holds them."""
    auth = scope.get("auth")
    return list(getattr(auth, "scopes", ()) or ())


def scopes_in_token(scope: Any) -> Sequence[str]:
    """The scopes of the Bearer token this request carries, checked with the
    authorization server's key (for an app whose auth runs elsewhere)."""
    header = next((v for n, v in scope["headers"] if n == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return []
    try:
        claims = jwt.decode(
            token,
            _signing_key()[0].public_key(),
            algorithms=["RS256"],
            options={"verify_aud": False},
        )
    except jwt.PyJWTError:
        return []
    return str(claims.get("scope", "")).split()


def without_resource_metadata(app: Any, *, hide_path_metadata: bool = False) -> Any:
    """A gateway in front that rewrites challenges and drops the parameters
    it does not know (here `resource_metadata`); with `hide_path_metadata`
    it routes only the root well-known path to the server."""

    async def gateway(scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and hide_path_metadata
            and scope["path"].startswith(f"{PRM_PATH}/")
        ):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return

        async def rewriting(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"www-authenticate":
                        challenge = WWWAuthenticate.from_header(value.decode("latin-1"))
                        if challenge is None:
                            headers.append((name, value))
                            continue
                        challenge.parameters.pop("resource_metadata", None)
                        value = challenge.to_header().encode("latin-1")
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, rewriting)

    return gateway


# --- a reverse proxy ---------------------------------------------------------------

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class Proxy:
    """Forwards every request to `upstream`, streaming both ways, adding
    `forwarded` headers (e.g. X-Forwarded-Host naming the proxy itself)."""

    def __init__(self, upstream: str, forwarded: Callable[[Request], Mapping[str, str]]) -> None:
        self.upstream = upstream
        self.forwarded = forwarded
        self.client = httpx.AsyncClient(
            base_url=upstream, timeout=httpx.Timeout(IO_TIMEOUT_S, read=60.0)
        )
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._forward,
                    methods=["GET", "POST", "DELETE", "OPTIONS", "PUT", "PATCH", "HEAD"],
                )
            ]
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, request: Request) -> Response:
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
        ]
        headers += list(self.forwarded(request).items())
        upstream = self.client.build_request(
            request.method,
            request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        response = await self.client.send(upstream, stream=True)
        kept = {
            name: value
            for name, value in response.headers.multi_items()
            if name.lower() not in _HOP_BY_HOP and name.lower() != "www-authenticate"
        }
        answer = StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers=kept,
            background=BackgroundTask(response.aclose),
        )
        for value in response.headers.get_list("www-authenticate"):
            answer.raw_headers.append((b"www-authenticate", value.encode("latin-1")))
        return answer


# --- the SDK's client ------------------------------------------------------------------


class MemoryStorage:
    """The SDK's `TokenStorage`, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


REDIRECT_URI = "http://127.0.0.1:1/callback"  # never contacted: the browser stops at the 302


@dataclass
class Browser:
    """The user's browser: opens the authorization URL, does not follow the
    redirect to the client, hands the client the code and state from it."""

    opened: list[str] = field(default_factory=list)
    _pending: list[AuthorizationCodeResult] = field(default_factory=list)

    async def redirect_handler(self, authorization_url: str) -> None:
        self.opened.append(authorization_url)
        async with httpx.AsyncClient(follow_redirects=False, timeout=IO_TIMEOUT_S) as client:
            response = await client.get(authorization_url)
        if response.status_code != 302:
            raise AssertionError(f"the authorization server answered {response.status_code}")
        query = parse_qs(urlsplit(response.headers["location"]).query)
        self._pending.append(
            AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0])
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        return self._pending.pop()

    def scopes_asked(self) -> list[str]:
        """The `scope` of each authorization URL opened, in order."""
        return [parse_qs(urlsplit(url).query).get("scope", [""])[0] for url in self.opened]

    def resources_asked(self) -> list[str]:
        return [parse_qs(urlsplit(url).query).get("resource", [""])[0] for url in self.opened]


@dataclass
class Flow:
    """What one client run did and got."""

    browser: Browser
    storage: MemoryStorage
    results: list[Any] = field(default_factory=list)


@contextlib.asynccontextmanager
async def connect(
    server_url: str, *, flow: Flow | None = None, mode: str = "auto"
) -> AsyncIterator[tuple[Client, Flow]]:
    """The SDK's `Client` over streamable HTTP with its OAuth provider."""
    flow = flow or Flow(Browser(), MemoryStorage())
    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="authhygiene-e2e",
            redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=flow.storage,
        redirect_handler=flow.browser.redirect_handler,
        callback_handler=flow.browser.callback_handler,
    )
    timeout = httpx2.Timeout(IO_TIMEOUT_S, read=30.0)
    async with (
        httpx2.AsyncClient(auth=provider, timeout=timeout) as http,
        Client(
            streamable_http_client(server_url, http_client=http),
            mode=mode,  # type: ignore[arg-type]
            read_timeout_seconds=IO_TIMEOUT_S,
        ) as client,
    ):
        yield client, flow


def run_flow(
    server_url: str,
    calls: Sequence[tuple[str, dict[str, Any]]] = (("echo", {"text": "hello"}),),
    *,
    flow: Flow | None = None,
    mode: str = "auto",
    pause: float = 0.0,
) -> Flow:
    """Connect, list the tools, make `calls` (`pause` seconds before each);
    bounded by FLOW_TIMEOUT_S."""

    async def run() -> Flow:
        with anyio.fail_after(FLOW_TIMEOUT_S):
            async with connect(server_url, flow=flow, mode=mode) as (client, done):
                tools = await client.list_tools()
                done.results.append(sorted(tool.name for tool in tools.tools))
                for name, arguments in calls:
                    await anyio.sleep(pause)
                    try:
                        done.results.append(await client.call_tool(name, arguments))
                    except MCPError as refused:  # the HTTP refusal, as the SDK reports it
                        done.results.append(refused)
                return done

    return anyio.run(run)
