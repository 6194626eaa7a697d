"""WebSocket handshakes: the app's refusals made correct, foreign origins
refused before the app, and the one writer of every refused handshake.

An app refuses a handshake in one of three ways, and each reaches the
client badly without us: a `websocket.close` before `websocket.accept`
(Starlette's AuthenticationMiddleware and ``@requires`` close with 1000,
FastAPI's ``WebSocketException(1008)`` closes with 1008) becomes a bare
HTTP 403 from the server; a `websocket.http.response` denial carries
whatever the app wrote; a raised `AuthFailure` becomes a 500. We watch the
exchange only until the handshake is settled: once the app accepts, every
later message and every `receive` costs one flag check and is forwarded.

The refusal goes through `Runtime.decide`, as an HTTP one does, and is
written as an HTTP answer through the `websocket.http.response` extension
when the server offers it (uvicorn and hypercorn do). Without it the only
thing an app may send is a close before accept, which the server answers
403 on its own (the ASGI spec); that close carries 1008 (policy violation,
RFC 6455 §7.4.1) and the reason code, for servers that pass it on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from authhygiene._asgi_types import ASGIApp, Message, Receive, Scope, Send
from authhygiene._runtime import Runtime
from authhygiene.core.answer import AppAnswer, Declared
from authhygiene.core.cors import CORS
from authhygiene.core.decision import Decision
from authhygiene.core.exchange import declared_failure, raised_status, watched
from authhygiene.core.origin_check import ORIGIN_REFUSAL, ORIGIN_REFUSED_ANSWER, origin_refused
from authhygiene.core.reasons import Reason
from authhygiene.request_views import ScopeRequest, scope_carries_credentials

__all__ = [
    "MAX_CLOSE_REASON_BYTES",
    "CloseRefusal",
    "Decide",
    "WebSocketDenial",
    "close_reason",
    "close_refusal",
    "offers_http_response",
    "origin_refusal",
    "watch_handshake",
]

EXTENSION = "websocket.http.response"
_START = "websocket.http.response.start"
_BODY = "websocket.http.response.body"
# RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of
# which are the close code.
MAX_CLOSE_REASON_BYTES = 123
# A registered application code (IANA WebSocket close codes, 3000-3999):
# 3000 "Unauthorized" and 3003 "Forbidden", the twins of HTTP 401 and 403.
_FORBIDDEN_CLOSE = 3003
_POLICY_VIOLATION = 1008
# Closes that refuse access whatever the request carried (RFC 6455 §7.4.1
# 1008 policy violation; IANA 3000, 3003), and the plain close (1000, or a
# close message without a code) that may or may not (see `close_refusal`).
_REFUSING_CLOSES = frozenset({_POLICY_VIOLATION, 3000, _FORBIDDEN_CLOSE})
_PLAIN_CLOSES = frozenset({1000, None})
# How much of an app's close reason is read at all (a valid one is at most
# 123 bytes; a longer one is the app's bug, and only its start is evidence).
_MAX_APP_REASON_CHARS = 512
_TEXT = (("content-type", "text/plain; charset=utf-8"),)
_REASON_CODES = frozenset(reason.value for reason in Reason)
_MAX_REASON_CODE = max(map(len, _REASON_CODES))

# `Runtime.decide` as the middleware runs it for one handshake (in a worker
# thread when explaining may wait; counted by the throttle).
Decide = Callable[[AppAnswer, Declared | None], Awaitable[Decision | None]]


def offers_http_response(scope: Scope) -> bool:
    """Whether the server lets the app answer the handshake with HTTP."""
    extensions = scope.get("extensions")
    return isinstance(extensions, dict) and EXTENSION in extensions


def close_reason(decision: Decision) -> str:
    """The reason code for a close frame: short, ASCII, never request text."""
    reason = decision.log.get("reason")
    if not isinstance(reason, str) or not reason.isascii() or not reason.isprintable():
        return ""
    return reason[:MAX_CLOSE_REASON_BYTES]


@dataclass(frozen=True, slots=True)
class CloseRefusal:
    """What an app's close before accept means: its answer, and the reason
    it declared when its close reason is exactly one of ours."""

    answer: AppAnswer
    declared: Declared | None = None


def close_refusal(message: Message, guarded: Callable[[], bool]) -> CloseRefusal | None:
    """The app's close before accept as the HTTP answer it means, its reason
    as the body (bounded); None for a close that is no refusal of access,
    which passes on unchanged.

    A close says little, so it is read as an auth refusal only where it can
    be one. A reason that is exactly a reason code (``"insufficient_scope"``,
    as our own 1008 fallback closes with) is the app declaring it, as a
    raised `AuthFailure` would. 3000 (Unauthorized) and 3003 (Forbidden)
    are refusals. 1008 (policy violation) is FastAPI's documented idiom for
    a refused dependency, and also what it closes with for a request that
    fails validation, its reason then the errors as a JSON list: that one is
    a refusal only when `guarded()`. 1000 or no code is what Starlette's
    `AuthenticationMiddleware` and ``@requires`` close with, and also what
    its router closes with for a path it does not route: a refusal only
    when `guarded()` says the request carried credentials or its route is
    one `require=` guards. Anything else (the app's own 4000-4999 codes,
    1003, 1007, 1009, 1010, server errors 1011-1014) is the app's business,
    as a 404 or 422 is."""
    code = message.get("code", 1000)
    reason = message.get("reason")
    if isinstance(reason, str) and len(reason) <= _MAX_REASON_CODE and reason in _REASON_CODES:
        declared = Declared(Reason(reason), {}, None, source="app:close")
        return CloseRefusal(AppAnswer(raised_status(declared), closed=True), declared)
    # FastAPI hands the errors over as a list (its JSON form, on the wire).
    validation = code == _POLICY_VIOLATION and (
        isinstance(reason, list | dict) or (isinstance(reason, str) and reason[:1] in ("[", "{"))
    )
    if code in _PLAIN_CLOSES or validation:
        if not guarded():
            return None
    elif code not in _REFUSING_CLOSES:
        return None
    status = 403 if code == _FORBIDDEN_CLOSE else 401
    if not isinstance(reason, str) or not reason:
        return CloseRefusal(AppAnswer(status, closed=True))
    # Bounded before encoding; a lone surrogate must not raise here.
    body = reason[:_MAX_APP_REASON_CHARS].encode("utf-8", "replace")
    return CloseRefusal(AppAnswer(status, _TEXT, body, closed=True))


def origin_refusal(runtime: Runtime, request: ScopeRequest, cors: CORS | None) -> Decision | None:
    """Cross-site WebSocket hijacking: a browser sends no preflight for a
    handshake and sends its cookies along, so a page on any site could act
    as the user. A handshake from an origin `cors` does not allow is refused
    403 before the app (the decision, recorded; None: the origin may come).
    Not counted by the throttle: a hostile page could otherwise lock its
    visitors' credentials out."""
    values = [
        value.decode("latin-1")
        for name, value in request.scope.get("headers", ())
        if name == b"origin"
    ]
    if not origin_refused(cors, values):
        return None
    return runtime.decide(request, ORIGIN_REFUSED_ANSWER, ORIGIN_REFUSAL)


class WebSocketDenial:
    """The one writer of a refused handshake, before the app (enforce mode,
    a blocked client, a foreign origin) or in place of the app's refusal.

    `connected`: whether the client's `websocket.connect` was already
    received (by the app). The ASGI spec has the app receive it before it
    answers, so we read it when the app did not.
    """

    __slots__ = ("connected", "receive", "scope", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send, *, connected: bool = False):
        self.scope, self.receive, self.send = scope, receive, send
        self.connected = connected

    async def write(self, decision: Decision) -> None:
        if not self.connected:
            first = await self.receive()
            if first.get("type") == "websocket.disconnect":
                return  # the client left: there is no one to answer
        if offers_http_response(self.scope):
            headers = decision.raw_headers
            if headers is None:
                headers = [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in decision.headers
                ]
            await self.send({"type": _START, "status": decision.status, "headers": headers})
            await self.send({"type": _BODY, "body": decision.body})
            return
        await self.send(
            {"type": "websocket.close", "code": _POLICY_VIOLATION, "reason": close_reason(decision)}
        )


class _HeldDenial:
    """The app's `websocket.http.response` refusal, held until its body is
    complete (or too large to wait for)."""

    __slots__ = ("complete", "messages", "size", "start")

    def __init__(self, start: Message) -> None:
        self.start = start
        self.messages: list[Message] = [start]
        self.size = 0
        self.complete = False

    def add(self, message: Message) -> None:
        self.messages.append(message)
        body = message.get("body", b"")
        self.size += len(body) if isinstance(body, bytes | bytearray) else 0
        self.complete = not message.get("more_body", False)

    def answer(self, limit: int) -> AppAnswer:
        chunks, size = [], 0
        for message in self.messages[1:]:
            body = message.get("body", b"")
            if isinstance(body, bytes | bytearray):
                chunks.append(bytes(body[: limit - size]))
                size += len(body)
            if size >= limit:
                break
        headers = self.start.get("headers", ())
        return AppAnswer(
            self.start["status"],
            tuple(
                (name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in headers
                if isinstance(name, bytes) and isinstance(value, bytes)
            ),
            b"".join(chunks),
        )


class _Handshake:
    """One handshake until it is settled: what the app did so far.

    `open`: the handshake is settled and not ours (accepted, or a refusal
    left as the app sent it): everything passes. `answered`: our answer
    has left in place of the app's; whatever the app sends after is
    dropped, as the HTTP path drops the rest of a refusal it replaced.
    """

    __slots__ = (
        "answered",
        "connected",
        "decide",
        "guarded",
        "held",
        "limit",
        "open",
        "receive",
        "scope",
        "send",
    )

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        decide: Decide,
        limit: int,
        guarded: Callable[[], bool],
    ):
        self.scope, self.receive, self.send = scope, receive, send
        self.decide, self.limit, self.guarded = decide, limit, guarded
        self.open = False
        self.answered = False
        self.connected = False
        self.held: _HeldDenial | None = None

    async def on_send(self, message: Message) -> None:
        """A message the app sends before the handshake is settled."""
        if self.answered:
            return
        if self.held is not None:
            await self._holding(self.held, message)
            return
        kind = message.get("type")
        if kind == "websocket.close":
            refusal = close_refusal(message, self.guarded)
            if refusal is not None:
                await self._refuse(refusal.answer, refusal.declared, [message])
                return
        elif kind == _START:
            status = message.get("status")
            if isinstance(status, int) and watched(
                status, lambda: scope_carries_credentials(self.scope)
            ):
                self.held = _HeldDenial(message)
                return
        elif kind != "websocket.accept":
            # Before the handshake and not one of its answers (an extension
            # message): not ours, passed on as sent.
            await self.send(message)
            return
        self.open = True
        await self.send(message)

    async def _holding(self, held: _HeldDenial, message: Message) -> None:
        if message.get("type") == _BODY:
            held.add(message)
            if not held.complete and held.size <= self.limit:
                return
            # Complete, or too large (or endless) to wait for: decided on
            # what is held. Not ours to answer: it streams on unchanged.
            await self._refuse(held.answer(self.limit), None, held.messages)
            return
        # Anything else (an accept, a close) after the start: the app's
        # refusal is as complete as it will get. If we answered it, the
        # message is dropped; else it follows the app's answer, in order.
        if not await self._refuse(held.answer(self.limit), None, held.messages):
            await self.send(message)

    async def _refuse(
        self, answer: AppAnswer, declared: Declared | None, sent: list[Message]
    ) -> bool:
        """Our answer in place of the app's refusal (True), or the app's
        messages `sent` passed on exactly as it sent them (False)."""
        self.held = None
        try:
            decision = await self.decide(answer, declared)
        except Exception:  # never raise on the refusal path: the app's own answer goes
            decision = None
        if decision is not None and decision.rewrite:
            self.answered = True
            denial = WebSocketDenial(self.scope, self.receive, self.send, connected=self.connected)
            await denial.write(decision)
            return True
        self.open = True
        for message in sent:
            await self.send(message)
        return False

    async def raised(self, exc: Exception) -> bool:
        """The app raised before the handshake was settled: answer the
        refusal it means (True), or let the exception go on (False)."""
        declared = declared_failure(exc)
        if declared is None:
            await self.cut_short()
            return False
        if self.open or self.answered:
            return False  # accepted (or answered) already: not a handshake refusal
        # What the app may have started is not its answer: the exception is.
        held = self.held.messages if self.held is not None else []
        answer = AppAnswer(raised_status(declared))
        # Report-only: the app's messages leave as they were, and the
        # exception goes on as it would without us.
        return await self._refuse(answer, declared, held)

    async def cut_short(self) -> None:
        """The app stopped (returned or raised) while we held its refusal:
        it still leaves, correct."""
        if self.held is not None and not self.answered:
            await self._refuse(self.held.answer(self.limit), None, self.held.messages)


async def watch_handshake(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    decide: Decide,
    limit: int,
    guarded: Callable[[], bool] = lambda: True,
) -> None:
    """Run the app for a websocket scope, its handshake refusals made
    correct; `limit` bounds the denial body held (policy.max_body_bytes);
    `guarded()`: whether a plain close may be a refusal (`close_refusal`)."""
    handshake = _Handshake(scope, receive, send, decide, limit, guarded)

    async def handshake_send(message: Message) -> None:
        if handshake.open:
            await send(message)
            return
        await handshake.on_send(message)

    async def handshake_receive() -> Message:
        message = await receive()
        if not handshake.open:
            handshake.connected = True  # the first message is websocket.connect
        return message

    try:
        await app(scope, handshake_receive, handshake_send)
    except Exception as exc:
        if not await handshake.raised(exc):
            raise
        return
    except BaseException:
        await handshake.cut_short()
        raise
    await handshake.cut_short()
