"""What the adapters share of `throttle=`: reading who a request comes from
(cheaply, from the protocol's own structure), refusing a blocked one
before the app, and counting a failure once its answer is decided, so that
one request is logged once, with the answer that leaves.

Counting waits on the storage (Redis): the ASGI adapter awaits `acount`,
the WSGI and Django adapters call `count`. The check before the app never
waits on anything: it reads the process's blocked table, and only while
that table holds a block."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import anyio.to_thread

from authhygiene._runtime import Runtime
from authhygiene.core.answer import Declared
from authhygiene.core.clients import client_address
from authhygiene.core.decision import Decision
from authhygiene.core.diagnose import AppAnswer
from authhygiene.core.events import Event
from authhygiene.core.ratelimit import ratelimit_fields
from authhygiene.core.reasons import Reason
from authhygiene.core.redact import clean_for_sink
from authhygiene.core.request import Request
from authhygiene.throttle.gate import Over, StorageError, Tally, ThrottleGate
from authhygiene.throttle.in_flight import InFlight, Ticket, Waiter, deadline
from authhygiene.throttle.keys import credential_material

__all__ = [
    "Caller",
    "aadmit",
    "admit",
    "afinish",
    "counted",
    "environ_caller",
    "finish",
    "leave",
    "refused",
    "scope_caller",
]

# The statuses of the failures counted: a credential refused, or malformed.
_COUNTED = frozenset({400, 401})
_ANONYMOUS_REASONS = frozenset({Reason.CREDENTIALS_MISSING.value})
_STORAGE_RETRY_S = 2


class Caller:
    """Who a request comes from, as the throttle counts it: `client` its
    address; `material` what its credential is counted under (for Basic,
    the user name); `proof` the credential itself (for Basic, with its
    password), which a success proves good (`in_flight`). Neither is ever
    stored as text. The address and the material are worked out when first
    asked for: a request with a proven credential and nothing blocked needs
    neither (behind trusted proxies, the address means decoding the request)."""

    __slots__ = ("_address", "_client", "_material", "api_key", "authorization")

    def __init__(
        self, address: Callable[[], str | None], authorization: str | None, api_key: str | None
    ) -> None:
        self._address = address
        self.authorization, self.api_key = authorization, api_key
        self._client: object = _UNREAD
        self._material: object = _UNREAD

    @property
    def client(self) -> str | None:
        if self._client is _UNREAD:
            self._client = self._address()
        return self._client  # type: ignore[return-value]

    @property
    def material(self) -> str | None:
        if self._material is _UNREAD:
            self._material = credential_material(self.authorization, self.api_key)
        return self._material  # type: ignore[return-value]

    @property
    def proof(self) -> str | None:
        return self.authorization if self.authorization is not None else self.api_key


_UNREAD = object()
NOBODY = Caller(lambda: None, None, None)


def _address(runtime: Runtime, peer: str | None, request: Request) -> Callable[[], str | None]:
    """The socket peer, or the address the trusted proxies vouch for."""
    trusted = runtime.policy.trusted_proxies
    if not trusted:
        return lambda: peer
    return lambda: client_address(trusted, request.decoded())


def scope_caller(runtime: Runtime, scope: Mapping[str, Any], request: Request) -> Caller | None:
    """From an ASGI scope; None for a CORS preflight (never throttled), and
    for a scope whose headers are not the bytes pairs ASGI specifies (a
    server's odd scope is never a reason to fail a request)."""
    authorization = api_key = None
    names = runtime.key_headers[0]
    preflight = False
    try:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"access-control-request-method":
                preflight = True
            elif api_key is None and name in names:
                api_key = value.decode("latin-1")
    except (TypeError, ValueError, AttributeError):
        return None
    if preflight and scope.get("method") == "OPTIONS":
        return None
    client = scope.get("client")
    peer = str(client[0]) if isinstance(client, list | tuple) and client else None
    return Caller(_address(runtime, peer, request), authorization, api_key)


def environ_caller(runtime: Runtime, environ: Mapping[str, Any], request: Request) -> Caller | None:
    """From a WSGI environ (or Django's `request.META`)."""
    if environ.get("REQUEST_METHOD") == "OPTIONS" and environ.get(
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD"
    ):
        return None
    authorization = environ.get("HTTP_AUTHORIZATION")
    api_key = None
    if not isinstance(authorization, str):
        authorization = None
        for key in runtime.key_headers[1]:
            value = environ.get(key)
            if isinstance(value, str):
                api_key = value
                break
    peer = environ.get("REMOTE_ADDR")
    return Caller(
        _address(runtime, peer if isinstance(peer, str) else None, request), authorization, api_key
    )


# --- before the app ----------------------------------------------------------


def refused(
    runtime: Runtime, request: Request, caller: Callable[[], Caller | None]
) -> Decision | None:
    """The 429 for a blocked client or credential (recorded), or None.
    The adapters call it only while `ThrottleGate.busy()`."""
    gate: ThrottleGate = runtime.throttle
    who = caller()
    if who is None:
        return None
    keys = gate.keys(who.client, who.material)
    if keys is None:
        return None
    now = time.time()
    over = gate.blocked(keys, now)
    if over is None:
        return None
    if gate.shadow or runtime.policy.report_only:
        _shadow(runtime, gate, over, who, now)
        return None
    return _too_many_recorded(runtime, request, over)


def _too_many(runtime: Runtime, request: Request, over: Over) -> Decision | None:
    what = "from this address" if over.by == "client" else "with these credentials"
    detail = (
        f"{over.limit.amount} failed authentication attempts {what} within"
        f" {over.limit.window_s} seconds; retry in {over.retry_after} seconds."
    )
    declared = Declared(Reason.TOO_MANY_FAILURES, over.facts(), detail, source="throttle")
    return runtime.decide(request, AppAnswer(429), declared, record=False)


def _too_many_recorded(runtime: Runtime, request: Request, over: Over) -> Decision | None:
    decision = _too_many(runtime, request, over)
    if decision is not None:
        runtime.record(decision)
    return decision


def _shadow(runtime: Runtime, gate: ThrottleGate, over: Over, who: Caller, now: float) -> None:
    """Shadow mode: say once per block what would have been refused."""
    if not gate.first_shadow(over, now):
        return
    with contextlib.suppress(Exception):  # the app's logger: the request goes on regardless
        runtime.logger.warning(
            Event.THROTTLE_SHADOW.value,
            would_status=429,
            reason=Reason.TOO_MANY_FAILURES.value,
            client=clean_for_sink(who.client or "", 64, [t for t in (who.proof,) if t]) or None,
            key_id=over.key[-12:],
            **over.facts(),
        )


# --- in flight ------------------------------------------------------------------


def _entered(
    runtime: Runtime, request: Request, who: Caller | None
) -> tuple[Decision | None, Ticket | None, InFlight | None, int]:
    """The first step of `admit`: refused now, admitted with a ticket or
    without one, or (last two members) the queue to wait in."""
    gate: ThrottleGate = runtime.throttle
    limit = gate.throttle.credential_limit
    if who is None or who.material is None or limit is None:
        return None, None, None, 0
    if gate.shadow or runtime.policy.report_only:
        return None, None, None, 0  # what never refuses never holds back either
    key = InFlight.key(who.material)
    proof = InFlight.key(who.proof or who.material)
    if gate.in_flight.proven(proof):
        return None, None, None, 0  # its parallel calls never wait
    ticket = gate.in_flight.try_enter(key, limit.amount, proof)
    if ticket is not None:
        return None, ticket, None, 0
    return None, None, gate.in_flight, key


def _blocked_now(runtime: Runtime, request: Request, who: Caller) -> Decision | None:
    """After a wait: the credential (or client) may be blocked by now."""
    gate: ThrottleGate = runtime.throttle
    keys = gate.keys(who.client, who.material)
    over = gate.blocked(keys, time.time()) if keys is not None else None
    if over is None or gate.shadow or runtime.policy.report_only:
        return None
    return _too_many_recorded(runtime, request, over)


Admission = tuple[Decision | None, Ticket | None]


def _admission(
    runtime: Runtime,
    request: Request,
    who: Caller | None,
    loop: asyncio.AbstractEventLoop | None,
) -> Generator[Waiter, None, Admission]:
    """The steps of `admit`, without the waiting: each waiter yielded is
    waited on by the driver (an Event's wait, or an awaited Future), until
    its `until`; then the steps go on. Returns the admission."""
    gate: ThrottleGate = runtime.throttle
    if gate.busy():
        blocked = refused(runtime, request, lambda: who)
        if blocked is not None:
            return blocked, None
    decision, ticket, queue, key = _entered(runtime, request, who)
    if queue is None or who is None:
        return _checked(runtime, request, who, ticket) if ticket else (decision, ticket)
    limit = gate.throttle.credential_limit
    assert limit is not None
    proof = InFlight.key(who.proof or who.material or "")
    until = deadline()
    while time.monotonic() < until:
        waiter = queue.waiter(key, loop, until)
        if waiter is None:
            # More waiting with one credential than any client needs: a
            # burst of guesses, refused without going near the app.
            over = Over("credential", limit, 1, "")
            return _too_many_recorded(runtime, request, over), None
        yield waiter
        queue.forget(key, waiter)
        ticket = queue.try_enter(key, limit.amount, proof)
        if ticket is not None:
            return _checked(runtime, request, who, ticket)
    # Waited its time (slots held by requests that never end, say): on it
    # goes with a slot of its own, so that a success still proves it.
    return _checked(runtime, request, who, queue.force_enter(key, proof))


def _checked(runtime: Runtime, request: Request, who: Caller | None, ticket: Ticket) -> Admission:
    """A slot taken: the credential may have been blocked meanwhile (the
    failure that spent the budget counted just before its slot was freed)."""
    if who is not None and runtime.throttle.busy():
        blocked = _blocked_now(runtime, request, who)
        if blocked is not None:
            runtime.throttle.in_flight.leave(ticket, prove=False)
            return blocked, None
    return None, ticket


def _free(runtime: Runtime, who: Caller | None) -> bool:
    """The common request, settled at once: nothing is blocked, and it
    needs no slot (no credential, or one a success proved)."""
    gate: ThrottleGate = runtime.throttle
    if gate.busy():
        return False
    if who is None or who.material is None or gate.throttle.credential_limit is None:
        return True
    return gate.in_flight.proven(InFlight.key(who.proof or who.material))


def admit(runtime: Runtime, request: Request, caller: Callable[[], Caller | None]) -> Admission:
    """Before the app (sync adapters): the 429 for a blocked key, or the
    request's slot among those in flight with its credential (waiting, a
    bounded time, while an unproven credential's budget is all in flight)."""
    runtime.throttle.warm()  # once per process; then a no-op
    who = caller()
    if _free(runtime, who):
        return None, None
    steps = _admission(runtime, request, who, None)
    try:
        while True:
            waiter = next(steps)
            if waiter.event is not None:
                waiter.event.wait(max(waiter.until - time.monotonic(), 0))
    except StopIteration as done:
        admission: Admission = done.value
        return admission


async def aadmit(
    runtime: Runtime, request: Request, caller: Callable[[], Caller | None]
) -> Admission:
    """`admit` for the ASGI adapter: no wait holds the event loop."""
    gate: ThrottleGate = runtime.throttle
    if gate.cold:
        await anyio.to_thread.run_sync(gate.warm)  # once per process
    who = caller()
    if _free(runtime, who):
        return None, None
    steps = _admission(runtime, request, who, asyncio.get_running_loop())
    try:
        while True:
            waiter = next(steps)
            if waiter.future is not None:
                with contextlib.suppress(TimeoutError):
                    wait = max(waiter.until - time.monotonic(), 0)
                    await asyncio.wait_for(asyncio.shield(waiter.future), wait)
    except StopIteration as done:
        admission: Admission = done.value
        return admission


def leave(runtime: Runtime, ticket: Ticket | None) -> None:
    """The request is over (its failure, if any, counted)."""
    if ticket is not None:
        runtime.throttle.in_flight.leave(ticket)


# --- after a failure -----------------------------------------------------------


def counted(runtime: Runtime, decision: Decision | None) -> bool:
    """Whether `decision` is a failure the throttle counts."""
    if decision is None or runtime.throttle is None:
        return False
    log = decision.log
    status = decision.status if decision.rewrite else log.get("would_status")
    if status not in _COUNTED:
        return False
    gate: ThrottleGate = runtime.throttle
    return gate.throttle.count_anonymous or log.get("reason") not in _ANONYMOUS_REASONS


def _settled(
    runtime: Runtime,
    request: Request,
    decision: Decision,
    who: Caller | None,
    tally: Tally | None,
    failed: StorageError | None,
) -> Decision:
    gate: ThrottleGate = runtime.throttle
    over = tally.over if tally is not None else None
    answer: Decision | None = None
    if not (gate.shadow or runtime.policy.report_only):
        if over is not None:
            answer = _too_many(runtime, request, over)
        elif failed is not None and gate.throttle.on_storage_error == "closed":
            declared = Declared(
                Reason.THROTTLE_UNAVAILABLE, {"retry_after": _STORAGE_RETRY_S}, source="throttle"
            )
            answer = runtime.decide(request, AppAnswer(503), declared, record=False)
    elif over is not None:
        _shadow(runtime, gate, over, who or NOBODY, time.time())
    final = answer if answer is not None else _with_quotas(decision, tally)
    runtime.record(final)
    return final


def _with_quotas(decision: Decision, tally: Tally | None) -> Decision:
    """A counted failure answered as it was, with where the client stands
    in each limit (R29: RateLimit fields on other answers than the 429)."""
    if tally is None or not tally.quotas or not decision.rewrite:
        return decision
    fields = ratelimit_fields(tally.quotas)
    # Built directly: dataclasses.replace() costs several times as much.
    return Decision(
        decision.status,
        (*decision.headers, *fields),
        decision.body,
        decision.event,
        decision.log,
        decision.rewrite,
        decision.misconfig,
    )


def _uncounted(runtime: Runtime, decision: Decision | None) -> bool:
    """True for a decision the throttle does not count (recorded here, as it
    leaves); False for a failure to count first."""
    if decision is None:
        return True
    if counted(runtime, decision):
        return False
    runtime.record(decision)
    return True


def finish(
    runtime: Runtime,
    request: Request,
    caller: Callable[[], Caller | None],
    decision: Decision | None,
) -> Decision | None:
    """Count the failure `decision` answers (sync storage) and record the
    answer that leaves: `decision`, or the 429 (503) that replaces it."""
    if _uncounted(runtime, decision):
        return decision
    assert decision is not None
    who = caller()
    tally = failed = None
    try:
        if who is not None:
            tally = runtime.throttle.count(who.client, who.material, time.time(), who.proof)
    except StorageError as exc:
        failed = exc
    return _settled(runtime, request, decision, who, tally, failed)


async def afinish(
    runtime: Runtime,
    request: Request,
    caller: Callable[[], Caller | None],
    decision: Decision | None,
) -> Decision | None:
    """`finish`, awaiting the storage."""
    if _uncounted(runtime, decision):
        return decision
    assert decision is not None
    who = caller()
    tally = failed = None
    try:
        if who is not None:
            tally = await runtime.throttle.acount(who.client, who.material, time.time(), who.proof)
    except StorageError as exc:
        failed = exc
    return _settled(runtime, request, decision, who, tally, failed)
