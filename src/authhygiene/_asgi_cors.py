"""The ASGI side of CORS: the step that answers preflights and decorates
response starts, and what we learn once from a Starlette/FastAPI app.

Why Starlette gets attention of its own: its server-error layer is built
outside every ``add_middleware`` middleware, so the 500 it renders never
passes through us; and its `CORSMiddleware`, when the app keeps its own CORS
layer, sits inside us, so a failure we answer ourselves (an exception that
escaped it) never passes through it. Both are found once, at the first call,
by walking the middleware chain the running app built; nothing is patched
but the app's own `middleware_stack` attribute, and only with ``cors=``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from authhygiene._asgi_types import ASGIApp, Message, Receive, Scope, Send
from authhygiene.core.cors import TOUCHED, CorsLayer, headers_from_layer, request_origin
from authhygiene.core.origin_patterns import matches_any_site
from authhygiene.core.request import is_preflight

__all__ = [
    "CORS_DONE",
    "Inspection",
    "app_layer_headers",
    "cors_step",
    "find_app_cors",
    "inspect_app",
]


# Set on the scope once the CORS step ran (outside the server-error layer),
# so the middleware itself does not run it a second time.
CORS_DONE = "authhygiene.cors"
_TOUCHED = frozenset(name.encode("latin-1") for name in TOUCHED)
_MAX_DEPTH = 64


def _decode(headers: Any) -> list[tuple[str, str]]:
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in headers]


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _request_origins(raw_headers: Any) -> list[str]:
    fields = dict(raw_headers)
    if len(fields) == len(raw_headers):  # no repeated name: one lookup
        found = fields.get(b"origin")
        return [found.decode("latin-1")] if found is not None else []
    return [value.decode("latin-1") for name, value in raw_headers if name == b"origin"]


def _requested(raw_headers: Any) -> tuple[str | None, list[str]]:
    """A preflight's Access-Control-Request-Method and -Headers."""
    method = None
    headers: list[str] = []
    for name, value in raw_headers:
        if name == b"access-control-request-method":
            method = value.decode("latin-1")
        elif name == b"access-control-request-headers":
            headers.append(value.decode("latin-1"))
    return method, headers


class _CorsSend:
    """`send` with the CORS headers put on the response start."""

    __slots__ = ("layer", "origin", "send", "started")

    def __init__(self, layer: CorsLayer, origin: Any, send: Send) -> None:
        self.layer, self.origin, self.send = layer, origin, send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            raw = message.get("headers", ())
            status = message["status"]
            layer, origin = self.layer, self.origin
            for name, _ in raw:
                if name.lower() in _TOUCHED:
                    headers = _encode(layer.headers(origin, _decode(raw), status))
                    break
            else:
                headers = [*raw, *layer.added_encoded(origin, status)]
            message = {**message, "headers": headers}
        await self.send(message)


async def cors_step(
    layer: CorsLayer,
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    server_errors: Any = None,
) -> None:
    """Answer a preflight, or run `app` with CORS headers on its response.

    `server_errors` is Starlette's server-error layer when this request
    already runs inside it (the first request, before the step could be
    placed in front of it): an unhandled exception's 500 is then rendered by
    that very layer, through this step, so even that one is readable."""
    if layer.passes and layer.leaves(str(scope.get("path", ""))):
        # Answered with CORS of its own (open to any origin), before this step
        # would rewrite it: the metadata document. Marked done all the same:
        # `app` is the middleware, which must not come back here (report-only
        # mode serves no document, and the app answers the path itself).
        scope[CORS_DONE] = True
        await app(scope, receive, send)
        return
    raw_headers = scope.get("headers", ())
    origins = _request_origins(raw_headers)
    scope[CORS_DONE] = True
    if origins and scope.get("method") == "OPTIONS":
        requested_method, requested_headers = _requested(raw_headers)
        if is_preflight(scope.get("method"), requested_method):
            assert requested_method is not None
            await _preflight(layer, send, origins, requested_method, requested_headers)
            return
    cors_send = _CorsSend(layer, layer.origin(origins), send)
    if server_errors is None:
        await app(scope, receive, cors_send)
        return
    try:
        await app(scope, receive, cors_send)
    except Exception as exc:
        if cors_send.started:
            raise
        await _render_server_error(server_errors, exc, scope, receive, cors_send)
        raise


async def _render_server_error(
    server_errors: Any, error: Exception, scope: Scope, receive: Receive, send: Send
) -> None:
    """The server-error layer's own rendering (debug page, the app's 500
    handler or its plain 500), through our send; it re-raises, and the outer
    layer, seeing a response started, only re-raises too."""
    renderer = copy.copy(server_errors)

    async def raise_again(scope: Scope, receive: Receive, send: Send) -> None:
        raise error

    renderer.app = raise_again
    await renderer(scope, receive, send)


async def _preflight(
    layer: CorsLayer,
    send: Send,
    origins: list[str],
    requested_method: str,
    requested_headers: list[str],
) -> None:
    # R20: the app's auth never sees a preflight, so it is never a 401.
    status, headers, body = layer.preflight_encoded(
        origins, requested_method, ",".join(requested_headers) or None
    )
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CorsOutside:
    """The CORS step in front of Starlette's server-error layer, so that the
    500 it renders for an unhandled exception is readable by the page too."""

    def __init__(self, app: ASGIApp, layer: CorsLayer) -> None:
        self.app = app
        self.layer = layer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await cors_step(self.layer, self.app, scope, receive, send)


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the first call taught us about the app around and inside us."""

    # Starlette's server-error layer, when the step was placed in front of it.
    server_errors: Any = None
    # The app's own Starlette CORSMiddleware inside us, if any.
    app_cors: Any = None
    misconfig: tuple[str, ...] = ()


def _chain(app: object) -> list[object]:
    """The layers from `app` inwards: each middleware's `app`, and a
    Starlette/FastAPI app's `middleware_stack` once it has built it (at its
    first request, so only after the app has run once)."""
    found = []
    for _ in range(_MAX_DEPTH):
        if app is None:
            break
        found.append(app)
        inner = getattr(app, "app", None)
        app = inner if inner is not None else getattr(app, "middleware_stack", None)
    return found


def find_app_cors(app: object) -> Any:
    """The app's own Starlette CORSMiddleware inside `app`, if any."""
    try:
        from starlette.middleware.cors import CORSMiddleware
    except ImportError:  # pragma: no cover - starlette is a dependency
        return None
    return next((a for a in _chain(app) if isinstance(a, CORSMiddleware)), None)


def _reflects_any_site(app_cors: Any) -> bool:
    """Starlette's CORSMiddleware with credentials and `allow_origins=["*"]`
    (it then reflects the origin of any request with a cookie) or an
    `allow_origin_regex` that admits unrelated sites: every site can read
    the app's authenticated responses."""
    if "Access-Control-Allow-Credentials" not in getattr(app_cors, "simple_headers", {}):
        return False
    if getattr(app_cors, "allow_all_origins", False):
        return True
    regex = getattr(app_cors, "allow_origin_regex", None)
    return regex is not None and matches_any_site(regex.fullmatch)


def inspect_app(
    middleware: object, inner: object, layer: CorsLayer | None, scope: Scope
) -> Inspection:
    """Walk the chains once: place the CORS step in front of the
    Starlette/FastAPI server-error layer this middleware sits behind (with
    ``cors=``), and find the app's own CORSMiddleware inside us."""
    try:
        from starlette.middleware.cors import CORSMiddleware
        from starlette.middleware.errors import ServerErrorMiddleware
    except ImportError:  # pragma: no cover - starlette is a dependency
        return Inspection()
    app_cors = next((a for a in _chain(inner) if isinstance(a, CORSMiddleware)), None)
    misconfig = []
    if app_cors is not None:
        if layer is not None:
            misconfig.append("cors_configured_twice")
        elif _reflects_any_site(app_cors):
            misconfig.append("cors_any_origin_with_credentials")
    server_errors = None
    app = scope.get("app")
    stack = getattr(app, "middleware_stack", None)
    if (
        layer is not None
        and isinstance(stack, ServerErrorMiddleware)
        and any(a is middleware for a in _chain(stack.app))
    ):
        app.middleware_stack = CorsOutside(stack, layer)  # type: ignore[union-attr]
        server_errors = stack
    return Inspection(server_errors, app_cors, tuple(misconfig))


async def app_layer_headers(app_cors: Any, scope: Scope, status: int) -> list[tuple[str, str]]:
    """For a failure we answer ourselves: the headers the app's own
    Starlette CORSMiddleware would have put on it, computed by that layer's
    own `send` on our response start (no request reaches the app), of which
    we keep only an allow-origin naming this exact origin (or `*`), its
    credentials flag and its exposed headers."""
    origin = request_origin(
        [v.decode("latin-1") for n, v in scope.get("headers", ()) if n == b"origin"]
    )
    if origin is None or app_cors is None:
        return []
    try:
        from starlette.datastructures import Headers

        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        start = {"type": "http.response.start", "status": status, "headers": []}
        await app_cors.send(start, send=capture, request_headers=Headers(scope=scope))
    except Exception:  # a CORS layer of another shape: copy nothing
        return []
    if not captured:
        return []
    return headers_from_layer(origin, _decode(captured[0].get("headers", ())))
