"""`AuthHygiene`: pure ASGI middleware (no BaseHTTPMiddleware).

The success path costs one status check: the wrapped `send` looks at
`http.response.start`, and for any status it does not watch it switches to
forwarding every later message unchanged. Messages the app sends before the
start (`http.response.debug`, `http.response.push`, early hints, any other
extension) pass on at once, unchanged and in order. A 401/403 is held
(bounded) until its body is complete and handed to the core.

One 5xx is held too: a 500 whose body is complete in its first message.
Starlette's ServerErrorMiddleware sends that plain 500 *before* re-raising
the exception, with nothing awaited in between, and an `AuthFailure` behind
it still deserves its own answer. So the 500 waits only until the app
returns, raises, sends again, or yields to the event loop (a background
task running), whichever comes first. Any other 5xx, and a 500 streamed in
several messages, passes on at once. Non-HTTP scopes are dealt with before
anything else happens: lifespan passes through, and a websocket handshake
is watched only until it is settled (`authhygiene._asgi_websocket`).

With ``cors=`` a CORS step runs first: it answers preflights before the app
(and its auth) see them, and puts the CORS headers on every response start.
Starlette and FastAPI place their server-error layer outside every
``add_middleware`` middleware, so its 500 would leave without them; the
step is therefore moved in front of that layer once, at the first lifespan
or HTTP call (see `authhygiene._asgi_cors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any

import anyio.to_thread

from authhygiene._asgi_cors import (
    CORS_DONE,
    Inspection,
    app_layer_headers,
    cors_step,
    find_app_cors,
    inspect_app,
)
from authhygiene._asgi_types import ASGIApp, Message, Receive, Scope, Send
from authhygiene._asgi_websocket import WebSocketDenial, origin_refusal, watch_handshake
from authhygiene._described import WELL_KNOWN, described, profile_refused
from authhygiene._enforcement import (
    PREFLIGHT_HEADERS,
    plan_blocks,
    planned,
    refusal_blocks,
    settled,
    verified_plan,
)
from authhygiene._refused_options import RefusedOptions, built_during_a_call, fail_start_up
from authhygiene._runtime import Runtime
from authhygiene._throttling import aadmit, afinish, leave, refused, scope_caller
from authhygiene.core.credentials import RequestView
from authhygiene.core.decision import Decision
from authhygiene.core.diagnose import AppAnswer, Declared
from authhygiene.core.enforce import read_credentials
from authhygiene.core.exchange import declared_failure, raised_status, watched
from authhygiene.core.policy import PolicyError
from authhygiene.identity import ANONYMOUS, NO_CREDENTIALS, credentials_of
from authhygiene.logging import emit_misconfig, flush_suppressed
from authhygiene.request_views import (
    Plans,
    ScopeRequest,
    full_path,
    scope_carries_credentials,
    view_from_scope,
)

__all__ = ["AuthHygiene"]

# The scope key marking an HTTP request the throttle has admitted.
_ADMITTED = "authhygiene.throttle.admitted"


def _watched(status: int, scope: Scope) -> bool:
    """Whether a response start of 400 or more is one to hold: a 401/403, a
    400/422 to a request with credentials, and of the 5xx only a 500 (the
    server-error layer's, see the module docstring)."""
    if status < 500:
        return watched(status, lambda: scope_carries_credentials(scope))
    return status == 500


# How many turns of the event loop a complete 500 waits for an exception
# that follows it. The server-error layer raises with nothing awaited in
# between; a layer around it may await once or twice while it unwinds.
_HOLD_TURNS = 3
_COMPLETES_ON_ITS_OWN = frozenset({"http.response.pathsend"})


class _Held:
    """A response the app started but we have not sent yet."""

    __slots__ = (
        "claimed",
        "complete",
        "messages",
        "release",
        "released",
        "size",
        "start",
        "status",
    )

    def __init__(self, start: Message) -> None:
        self.start = start
        self.status: int = start["status"]
        self.messages: list[Message] = []
        self.size = 0
        self.complete = False
        # For a held 500: the task that sends it once the app yields, and
        # whether that task (or the exchange) has taken it.
        self.release: asyncio.Task[None] | None = None
        self.claimed = False
        self.released = False  # taken by the release task

    def body(self, limit: int) -> bytes:
        chunks = []
        size = 0
        for message in self.messages:
            chunk = message.get("body", b"")
            chunks.append(chunk[: limit - size])
            size += len(chunk)
            if size >= limit:
                break
        return b"".join(chunks)

    def answer(self, limit: int) -> AppAnswer:
        return AppAnswer(
            self.status,
            tuple(
                (name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in self.start.get("headers", ())
            ),
            self.body(limit),
        )

    def add(self, message: Message, limit: int) -> None:
        """Keep a message of the response, in order (beyond the bound, count
        and drop), and note whether the response is now complete."""
        if self.size <= limit:
            self.messages.append(message)
        kind = message.get("type")
        if kind == "http.response.body":
            self.size += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        elif kind in _COMPLETES_ON_ITS_OWN:
            self.complete = True
        elif kind == "http.response.trailers":
            self.complete = not message.get("more_trailers", False)
        # Any other extension message rides along, in order.

    def claim(self) -> bool:
        """Take the response (to send it, or to answer in its place): True
        once, for whoever comes first. Nothing is awaited in between, so the
        exchange and the release task cannot both take it."""
        if self.claimed:
            return False
        self.claimed = True
        if self.release is not None:
            self.release.cancel()  # it has not taken the response: it never will
        return True

    def release_soon(self, send: Send) -> None:
        """Send this complete 500 once the app has yielded a few times
        without raising (a background task after it, say): nothing waits on
        the app's later work. Outside asyncio it waits until the app returns."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): held until the app returns
            return
        self.release = loop.create_task(self._release(send))

    async def _release(self, send: Send) -> None:
        for _ in range(_HOLD_TURNS):
            await asyncio.sleep(0)
        if not self.claimed:
            self.claimed = self.released = True
            await self.flush(send)

    async def sent(self) -> None:
        """Wait until the release task, if it took the response, has sent it."""
        if self.released and self.release is not None:
            await self.release

    async def flush(self, send: Send) -> None:
        await send(self.start)
        for message in self.messages:
            await send(message)

    async def pass_on(self, send: Send) -> None:
        """Make sure the response is on the wire, once."""
        if self.claim():
            await self.flush(send)
        else:
            await self.sent()


class AuthHygiene:
    """Make every auth failure an ASGI app answers correct and self-explaining.

    ``app.add_middleware(AuthHygiene, realm="api")`` in FastAPI/Starlette, or
    ``app = AuthHygiene(app, realm="api")`` around any ASGI app. Options are
    those of `authhygiene.core.Policy` plus ``logger``; they are validated
    here, so a bad one fails at start-up.
    """

    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        self.app = app
        try:
            self.runtime = Runtime.from_options(options)
        except PolicyError as exc:
            if not built_during_a_call():
                raise
            # Built lazily by Starlette/FastAPI: a raise would answer every
            # request 500 (`authhygiene._refused_options`).
            self.__class__ = _RefusedOptions
            self._refused = RefusedOptions(exc, options)
            return
        self._limit = self.runtime.policy.max_body_bytes
        self._report_only = self.runtime.policy.report_only
        self._cors = self.runtime.cors
        self._inspection: Inspection | None = None
        self._plans = Plans(self.runtime.policy)
        self._enforce = self.runtime.policy.mode == "enforce"
        self._may_block = self.runtime.policy.verifiers_may_block
        self._throttled = self.runtime.throttle is not None
        self._describes = self.runtime.policy.protected_resource is not None
        self._profiled = self.runtime.policy.profile is not None
        # Whether anything may be decided before the app runs.
        self._before_app = self._enforce or self._profiled or self._throttled

    def _flush_at_shutdown(self, send: Send) -> Send:
        """`send` for the lifespan scope, unchanged but for one thing: when
        the app has shut down, pending `auth.failure.suppressed` counts are
        written. uvicorn ends by re-raising SIGTERM, so `atexit` never runs."""

        async def lifespan_send(message: Message) -> None:
            await send(message)
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                # The log's stream may be closed by now; shutdown goes on.
                with contextlib.suppress(ValueError, OSError):
                    flush_suppressed()

        return lifespan_send

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server_errors = self._inspect(scope) if self._inspection is None else None
        if (scope["type"] != "http" or self._describes) and await self._aside(scope, receive, send):
            return
        if self._cors is not None and CORS_DONE not in scope:
            # Re-enters this method with the scope marked: the exchange below
            # stays inline, so the path without cors= pays no extra await.
            await cors_step(self._cors, self, scope, receive, send, server_errors)
            return
        if self._before_app:
            admitted = await self._guarded(scope, receive, send)
            if admitted is None:
                return  # answered before the app, or the exchange is over
            scope = admitted

        # One cell for the whole exchange: None until the response starts,
        # True once we forward everything, False once we drop the rest (our
        # answer has been sent), else the response we hold.
        state: _Held | bool | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal state
            if state is True:
                await send(message)
                return
            if state is None:
                if message["type"] != "http.response.start":
                    # Before the start (`http.response.debug`, a push promise,
                    # early hints, any extension): not ours, passed on as sent.
                    await send(message)
                    return
                # The success path: one comparison for 1xx-3xx.
                if message["status"] < 400 or not _watched(message["status"], scope):
                    state = True
                    await send(message)
                    return
                state = _Held(message)
                return
            if state is not False:
                state = await self._hold(scope, send, state, message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if not await self._answered(scope, send, state, exc):
                raise
            return
        except BaseException:
            await self._settle(scope, send, state)
            raise
        # `state is not True` first: the success path pays one identity check.
        if state is not True and isinstance(state, _Held):
            await state.pass_on(send)

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lifespan scopes untouched (but for shutdown flushing the pending
        suppressed-failure counts); websocket handshakes watched."""
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] == "lifespan" and self.runtime.summaries is not None:
            send = self._flush_at_shutdown(send)
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A handshake refused before the app (a blocked client, an origin
        ``cors=`` or ``profile="mcp"`` does not allow, enforce mode) as an HTTP request would
        be; else the app runs and a refusal of its own is made correct
        (`authhygiene._asgi_websocket`)."""
        if (
            self._throttled
            and self.runtime.throttle.busy()
            and (blocked := await self._blocked(scope))
        ):
            await WebSocketDenial(scope, receive, send).write(blocked)
            return
        refusal = self._profile_refusal(scope) if self._profiled else None
        if (refusal is None or not refusal.rewrite) and self._cors is not None:
            refusal = origin_refusal(
                self.runtime, ScopeRequest(scope, self._plans), self._cors.cors
            )
        if refusal is not None and refusal.rewrite:
            await WebSocketDenial(scope, receive, send).write(refusal)
            return
        if self._enforce:
            admitted = await self._admitted(scope, send, WebSocketDenial(scope, receive, send))
            if admitted is None:
                return
            scope = admitted
        decide = functools.partial(self._decision, scope)
        await watch_handshake(
            self.app, scope, receive, send, decide, self._limit, lambda: self._guards(scope)
        )

    def _profile_refusal(self, scope: Scope) -> Decision | None:
        """`profile=`'s refusal of an HTTP request or a handshake, decoded
        only when its raw path, query and Origin say it may be one."""
        query = scope.get("query_string", b"")
        return profile_refused(
            self.runtime,
            ScopeRequest(scope, self._plans),
            full_path(scope),
            query.decode("latin-1") if isinstance(query, bytes) else str(query),
            any(name == b"origin" for name, _ in scope.get("headers", ())),
        )

    def _guards(self, scope: Scope) -> bool:
        """Whether a plain close of this handshake can be refusing access:
        it carried credentials, or `require=` guards its route. (A path the
        app does not route is closed the same way, and is no auth failure.)"""
        view = ScopeRequest(scope, self._plans).decoded()
        policy = self.runtime.policy
        if read_credentials(policy, view).presented:
            return True
        if not policy.require.given:
            return False
        rule = policy.require.match(
            view.method, view.route if view.route is not None else view.path
        )
        return rule is not None and rule.scopes is not None

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> Scope | None:
        """Before the app: the scope to call it with, or None when the
        request has been answered: refused before the app, or (`throttle=`,
        with a slot among those in flight with its credential) its whole
        exchange run inside that slot, re-entering `__call__`, and the slot
        freed once the exchange is over (its failure, if any, counted).
        `profile=`'s refusals come first, once (not on the re-entry)."""
        if self._profiled and _ADMITTED not in scope:
            refusal = self._profile_refusal(scope)
            if refusal is not None and refusal.rewrite:
                await _write(send, refusal, head=scope.get("method") == "HEAD")
                return None
        if self._throttled and _ADMITTED not in scope:
            request = ScopeRequest(scope, self._plans)
            refusal, ticket = await aadmit(
                self.runtime, request, lambda: scope_caller(self.runtime, scope, request)
            )
            if refusal is not None:
                await _write(send, refusal, head=scope.get("method") == "HEAD")
                return None
            scope[_ADMITTED] = True
            if ticket is not None:
                try:
                    await self(scope, receive, send)
                finally:
                    leave(self.runtime, ticket)
                return None
        return await self._admitted(scope, send) if self._enforce else scope

    async def _admitted(
        self, scope: Scope, send: Send, denial: WebSocketDenial | None = None
    ) -> Scope | None:
        """Enforce mode, before the app: the scope to call it with (the
        identity in `user` and `auth`), or None once a refusal is sent
        (through `denial` for a websocket handshake). A verifier that may
        wait runs in a worker thread."""
        request = ScopeRequest(scope, self._plans)
        plan = planned(self.runtime, request.decoded())
        by, verdict = (
            await anyio.to_thread.run_sync(verified_plan, plan)
            if plan_blocks(plan)
            else verified_plan(plan)
        )
        outcome = settled(self.runtime, request, plan, by, verdict, record=not self._throttled)
        if outcome.preflight:
            await _write_preflight(send)
            return None
        decision = outcome.decision
        if decision is not None and self._throttled:
            decision = await self._counted(scope, decision)
        if decision is not None and decision.rewrite:
            if denial is not None:
                await denial.write(decision)
            else:
                await _write(send, decision, head=scope.get("method") == "HEAD")
            return None
        if outcome.identity is None:
            if "user" in scope:
                return scope  # set by a layer outside ours
            return {**scope, "user": ANONYMOUS, "auth": NO_CREDENTIALS}
        return {**scope, "user": outcome.identity, "auth": credentials_of(outcome.identity)}

    async def _aside(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """The exchanges not answered by the HTTP path below (True): other
        scopes, and a request for the metadata document."""
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return True
        return await self._described(scope, send)

    async def _described(self, scope: Scope, send: Send) -> bool:
        """`protected_resource=`: answer a request for the metadata document
        (True), before the CORS step, the throttle and the app's auth."""
        if WELL_KNOWN not in scope.get("path", ""):
            return False
        answer = described(self.runtime, view_from_scope(scope))
        if answer is None:
            return False
        headers = [(name.encode(), value.encode()) for name, value in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        return True

    def _inspect(self, scope: Scope) -> Any:
        """At the first call: look at the app once (its CORS and server-error
        layers); Starlette's server-error layer when this call runs inside it."""
        self._inspection = inspect_app(self, self.app, self._cors, scope)
        if self._inspection.misconfig:
            emit_misconfig(self.runtime.logger, self._inspection.misconfig, {})
        return self._inspection.server_errors

    async def _answered(
        self, scope: Scope, send: Send, state: _Held | bool | None, exc: Exception
    ) -> bool:
        """The app raised: answer the refusal it means (True), or settle what
        it started and let the exception go on (False)."""
        # The app's own AuthFailure, or a library's auth exception it let
        # escape (pyjwt): answered as the refusal it is, not as a 500.
        declared = declared_failure(exc)
        if declared is None:
            await self._settle(scope, send, state)
            return False
        if state is True or state is False:
            return False  # a response is already on the wire
        if state is not None and not state.claim():
            await state.sent()  # the held 500 left before the exception came
            return False
        if await self._answer(scope, send, None, declared) is None:
            # Report-only: change nothing, not even a 500 the app started.
            if state is not None:
                await state.flush(send)
            return False
        return True

    async def _settle(self, scope: Scope, send: Send, state: _Held | bool | None) -> None:
        """Before an exception propagates: send what the app started."""
        if state is not True and isinstance(state, _Held):
            if state.status < 500:
                # A 401/403 cut short: none of it reached the wire, so it
                # still leaves correct, then the error propagates.
                await self._answer(scope, send, state, None)
            else:
                await state.pass_on(send)  # e.g. the server-error layer's own 500

    async def _hold(self, scope: Scope, send: Send, held: _Held, message: Message) -> _Held | bool:
        """Add a message to the held response; the exchange's next state."""
        if held.claimed:
            # The held 500 was released while the app went on: what it sends
            # now follows it, in order.
            await held.sent()
            await send(message)
            return True
        held.add(message, self._limit)
        if held.status >= 500:
            if (
                held.complete
                and len(held.messages) == 1
                and message["type"] == "http.response.body"
            ):
                # The server-error layer's plain 500: an exception may follow.
                held.release_soon(send)
                return held
            await held.pass_on(send)  # streamed, or more than one message
            return True
        if held.complete:
            await self._answer(scope, send, held, None)
            return True
        if held.size > self._limit:
            # Too large (or endless) to wait for: decide on what we have. If it
            # is ours to answer, drop the rest; if not, stream it on unchanged.
            rewritten = await self._answer(scope, send, held, None)
            return not rewritten
        return held

    async def _answer(
        self, scope: Scope, send: Send, held: _Held | None, declared: Declared | None
    ) -> bool | None:
        """Send the decision (True), or the held answer unchanged (False).
        None when there is nothing to send (a raised AuthFailure in
        report-only mode)."""
        if declared is not None:
            # The app raised: what it may have started (a 500) is not its answer.
            status = raised_status(declared)
            answer = AppAnswer(status, tuple(await self._app_cors(scope, status)))
        else:
            assert held is not None
            answer = held.answer(self._limit)
        decision = await self._decision(scope, answer, declared)
        if decision is not None and decision.rewrite:
            await _write(send, decision, head=scope.get("method") == "HEAD")
            return True
        if held is not None:
            await held.flush(send)
            return False
        return None

    async def _decision(
        self, scope: Scope, answer: AppAnswer, declared: Declared | None
    ) -> Decision | None:
        """The refusal path's decision for the app's answer, counted by the
        throttle: the answer that leaves."""
        if self._may_block and refusal_blocks(self.runtime, self._view(scope)):
            # Explaining may wait on a verifier (keys to fetch, a password
            # hash): never on the event loop.
            decision = await anyio.to_thread.run_sync(self._decide, scope, answer, declared)
        else:
            decision = self._decide(scope, answer, declared)
        if decision is not None and self._throttled:
            decision = await self._counted(scope, decision)
        return decision

    def _view(self, scope: Scope) -> RequestView:
        return ScopeRequest(scope, self._plans).decoded()

    def _decide(
        self, scope: Scope, answer: AppAnswer, declared: Declared | None
    ) -> Decision | None:
        request = ScopeRequest(scope, self._plans)
        return self.runtime.decide(request, answer, declared, record=not self._throttled)

    async def _blocked(self, scope: Scope) -> Decision | None:
        """`throttle=`: the 429 for a blocked client or credential."""
        gate = self.runtime.throttle
        if gate.cold:
            await anyio.to_thread.run_sync(gate.warm)  # once per process
        request = ScopeRequest(scope, self._plans)
        return refused(self.runtime, request, lambda: scope_caller(self.runtime, scope, request))

    async def _counted(self, scope: Scope, decision: Decision) -> Decision | None:
        """`throttle=`: count the failure; the answer that leaves (recorded)."""
        request = ScopeRequest(scope, self._plans)
        return await afinish(
            self.runtime, request, lambda: scope_caller(self.runtime, scope, request), decision
        )

    async def _app_cors(self, scope: Scope, status: int) -> list[tuple[str, str]]:
        """For a failure we answer ourselves (an exception escaped the app and
        its own CORS layer): the CORS headers that layer would have added."""
        if self._cors is not None or self._report_only or self._inspection is None:
            return []  # report-only sends the app's own answer anyway
        app_cors = self._inspection.app_cors
        if app_cors is None:
            # Around a Starlette/FastAPI app, its CORSMiddleware only exists
            # once the app built its stack, at its first request: after our
            # inspection. Looked up here, on this rare path, every time.
            app_cors = find_app_cors(self.app)
        return await app_layer_headers(app_cors, scope, status)


async def _write_preflight(send: Send) -> None:
    headers = [(name.encode(), value.encode()) for name, value in PREFLIGHT_HEADERS]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _write(send: Send, decision: Decision, *, head: bool) -> None:
    start: Message = {
        "type": "http.response.start",
        "status": decision.status,
        "headers": decision.raw_headers
        if decision.raw_headers is not None
        else [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in decision.headers
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b"" if head else decision.body})


class _RefusedOptions(AuthHygiene):
    """An `AuthHygiene` whose options were refused while a framework built
    it during a call: it fails the lifespan start-up; where no lifespan
    reaches it, it refuses what its options guarded and lets the rest
    through unchanged, saying so in the log (`authhygiene._refused_options`)."""

    _refused: RefusedOptions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await fail_start_up(self._refused.error, receive, send)
            return
        self._refused.seen()
        if self._refused.closed:
            await self._refused.refuse(scope, send)
            return
        await self.app(scope, receive, send)
