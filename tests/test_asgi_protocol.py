"""ASGI message handling at the edges, driven with small real ASGI apps.

End-to-end behaviour through uvicorn is in tests/e2e; these cases pin the
protocol corners a server rarely produces on demand: bodies split across
messages, oversized held responses, a 500 followed by an exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from authhygiene import AuthFailure, AuthHygiene, Reason

Message = dict[str, Any]


def run(app: Any, scope: dict[str, Any] | None = None) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    base = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer tok-123456")],
        "client": ("127.0.0.1", 5000),
    }
    asyncio.run(app({**base, **(scope or {})}, receive, send))
    return sent


def app_sending(*messages: Message, raise_after: BaseException | None = None) -> Any:
    async def app(scope: Any, receive: Any, send: Callable[[Message], Awaitable[None]]) -> None:
        for message in messages:
            await send(message)
        if raise_after is not None:
            raise raise_after

    return app


def start(status: int, *headers: tuple[bytes, bytes]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": list(headers)}


def body(data: bytes, more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


def wrap(app: Any, **options: Any) -> AuthHygiene:
    return AuthHygiene(app, realm="api", logger=structlog.get_logger("test"), **options)


def test_success_messages_are_the_same_objects() -> None:
    messages = (start(200, (b"content-type", b"text/plain")), body(b"a", True), body(b"b"))
    sent = run(wrap(app_sending(*messages)))
    assert all(a is b for a, b in zip(sent, messages, strict=True))


def test_split_401_body_is_read_whole() -> None:
    app = app_sending(
        start(401, (b"content-type", b"application/json")), body(b'{"detail":', True), body(b'"x"}')
    )
    sent = run(wrap(app))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert json.loads(sent[1]["body"])["detail"] == "x"


def test_head_failure_has_no_body() -> None:
    sent = run(wrap(app_sending(start(401), body(b""))), {"method": "HEAD"})
    headers = dict(sent[0]["headers"])
    assert int(headers[b"content-length"]) > 0
    assert sent[1]["body"] == b""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(AuthFailure(Reason.TOKEN_REVOKED), 401, id="auth-failure"),
        pytest.param(AuthFailure(Reason.INSUFFICIENT_SCOPE, required_scope="a"), 403, id="scope"),
    ],
)
def test_500_then_auth_failure_is_answered(error: AuthFailure, expected: int) -> None:
    # Starlette's ServerErrorMiddleware sends its 500 and then re-raises.
    app = app_sending(start(500), body(b"Internal Server Error"), raise_after=error)
    sent = run(wrap(app))
    assert sent[0]["status"] == expected
    assert json.loads(sent[1]["body"])["reason"] == error.reason.value


def test_500_then_other_exception_is_flushed_and_reraised() -> None:
    app = app_sending(start(500), body(b"boom"), raise_after=RuntimeError("x"))
    captured: list[Message] = []

    async def main() -> None:
        async def receive() -> Message:
            return {"type": "http.request"}

        async def send(message: Message) -> None:
            captured.append(message)

        with pytest.raises(RuntimeError):
            await wrap(app)({"type": "http", "headers": []}, receive, send)

    asyncio.run(main())
    assert [m.get("status") for m in captured] == [500, None]
    assert captured[1]["body"] == b"boom"


def test_plain_500_passes_unchanged() -> None:
    messages = (start(500), body(b"a", True), body(b"b"))
    assert run(wrap(app_sending(*messages))) == list(messages)


def test_oversized_500_streams_on() -> None:
    big = b"x" * 2048
    messages = (start(503), body(big, True), body(big, True), body(b"end"))
    assert run(wrap(app_sending(*messages), max_body_bytes=1024)) == list(messages)


def test_oversized_401_is_still_rewritten() -> None:
    big = b"x" * 2048
    sent = run(wrap(app_sending(start(401), body(big, True), body(big)), max_body_bytes=1024))
    assert sent[0]["status"] == 401
    assert b"problem" in dict(sent[0]["headers"])[b"content-type"]


def test_report_only_oversized_401_streams_on() -> None:
    big = b"x" * 2048
    messages = (start(401), body(big, True), body(big))
    assert run(wrap(app_sending(*messages), max_body_bytes=1024, report_only=True)) == list(
        messages
    )


def test_report_only_raised_failure_propagates() -> None:
    app = app_sending(raise_after=AuthFailure(Reason.TOKEN_REVOKED))
    with pytest.raises(AuthFailure):
        run(wrap(app, report_only=True))


def test_failure_after_response_started_propagates() -> None:
    app = app_sending(start(200), body(b"ok"), raise_after=AuthFailure(Reason.TOKEN_REVOKED))
    with pytest.raises(AuthFailure):
        run(wrap(app))


@pytest.mark.parametrize(
    ("scope_type", "options"),
    [
        pytest.param("lifespan", {"log_limit": None}, id="lifespan-without-log-limit"),
    ],
)
def test_other_scopes_are_passed_through(scope_type: str, options: dict[str, Any]) -> None:
    # A websocket scope reaches the app as it is, but its handshake is
    # watched: see tests/websocket.
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {}

    async def send(message: Message) -> None:
        return None

    scope = {"type": scope_type}
    asyncio.run(wrap(app, **options)(scope, receive, send))
    assert seen == [(scope, receive, send)]


def test_lifespan_messages_pass_unchanged_and_shutdown_writes_pending_counts() -> None:
    """uvicorn ends by re-raising SIGTERM, so `atexit` never runs: the counts
    the flood gate holds are written when the app reports its shutdown."""
    captured = structlog.testing.CapturingLogger()
    middleware = AuthHygiene(
        app_sending(start(401), body(b"no")),
        realm="api",
        logger=captured,
        log_limit={"per_key": 1, "total": 10, "window_s": 3600},
    )
    for _ in range(3):
        run(middleware)
    assert [call.args[0] for call in captured.calls].count("auth.failure") == 1
    sent: list[Message] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def lifespan_app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    middleware.app = lifespan_app
    asyncio.run(middleware({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    summaries = [
        call.kwargs for call in captured.calls if call.args[0] == "auth.failure.suppressed"
    ]
    assert len(summaries) == 1
    assert summaries[0]["count"] == 2


def test_pathsend_after_401_completes_the_hold() -> None:
    app = app_sending(start(401), {"type": "http.response.pathsend", "path": "/tmp/x"})
    sent = run(wrap(app))
    assert sent[0]["status"] == 401
    assert len(sent) == 2


def test_large_non_auth_403_streams_on_whole() -> None:
    # A 100 KB CSRF page: not an auth failure, so every byte passes, in order.
    chunk = b"<p>CSRF verification failed.</p>" + b"x" * 4000
    messages = [start(403, (b"content-type", b"text/html"))]
    messages += [body(chunk, True) for _ in range(25)] + [body(b"end")]
    sent = run(wrap(app_sending(*messages)))
    assert sent == messages


def test_endless_401_is_answered_without_waiting() -> None:
    sent: list[Message] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(401))
        for _ in range(1000):  # bounded stand-in for a stream that never ends
            await send(body(b"x" * 1024, True))

    sent = run(wrap(app))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 401
    assert json.loads(sent[1]["body"])["reason"] == "credentials_invalid"


def test_401_cut_short_by_an_error_still_leaves_correct() -> None:
    captured: list[Message] = []

    async def main() -> None:
        async def receive() -> Message:
            return {"type": "http.request"}

        async def send(message: Message) -> None:
            captured.append(message)

        app = app_sending(start(401), body(b"half", True), raise_after=RuntimeError("x"))
        with pytest.raises(RuntimeError):
            await wrap(app)({"type": "http", "headers": []}, receive, send)

    asyncio.run(main())
    headers = dict(captured[0]["headers"])
    assert captured[0]["status"] == 401
    assert headers[b"www-authenticate"] == b'Bearer realm="api"'
    assert headers[b"cache-control"] == b"no-store"


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        pytest.param(jwt.ExpiredSignatureError("x"), 401, "token_expired", id="exp"),
        pytest.param(jwt.InvalidAudienceError("x"), 401, "token_audience_mismatch", id="aud"),
    ],
)
def test_uncaught_pyjwt_exception_is_answered(error: Exception, status: int, reason: str) -> None:
    sent = run(wrap(app_sending(start(500), body(b"Internal Server Error"), raise_after=error)))
    assert sent[0]["status"] == status
    assert json.loads(sent[1]["body"])["reason"] == reason


def test_jwks_failure_is_not_a_401() -> None:
    with pytest.raises(jwt.PyJWKClientError):
        run(wrap(app_sending(raise_after=jwt.PyJWKClientError("unreachable"))))


@pytest.mark.parametrize(
    ("headers", "rewritten"),
    [
        pytest.param([(b"authorization", b"Bearer tok-123456")], True, id="with-credentials"),
        pytest.param([], False, id="without-credentials"),
    ],
)
def test_422_is_held_only_with_credentials(headers: list[Any], rewritten: bool) -> None:
    messages = (
        start(422, (b"content-type", b"application/json")),
        body(b'{"msg":"Signature verification failed"}'),
    )
    sent = run(wrap(app_sending(*messages)), {"headers": headers})
    if rewritten:
        assert sent[0]["status"] == 401
    else:
        assert sent == list(messages)


@pytest.mark.parametrize(
    ("report_only", "event"),
    [
        pytest.param(False, "auth.failure.suppressed", id="rewriting"),
        pytest.param(True, "auth.report_only.suppressed", id="report-only"),
    ],
)
def test_the_summary_names_the_events_it_counted(report_only: bool, event: str) -> None:
    """In report-only mode the events held back were `auth.report_only`; the
    log summary must not count them as failures sent on the wire."""
    captured = structlog.testing.CapturingLogger()
    middleware = AuthHygiene(
        app_sending(start(401), body(b"no")),
        realm="api",
        logger=captured,
        report_only=report_only,
        log_limit={"per_key": 1, "total": 10, "window_s": 3600},
    )
    for _ in range(3):
        run(middleware)
    middleware.runtime.summaries.flush()  # type: ignore[union-attr]
    summaries = [c.kwargs for c in captured.calls if c.args[0].endswith(".suppressed")]
    assert [c.args[0] for c in captured.calls if c.args[0].endswith(".suppressed")] == [event]
    assert summaries[0]["count"] == 2


# --- messages before the start: not ours, passed on as sent ------------------------

EXTENSION_MESSAGES = [
    pytest.param({"type": "http.response.debug", "info": {"template": "t"}}, id="debug"),
    pytest.param({"type": "http.response.push", "path": "/a.css", "headers": []}, id="push"),
    pytest.param({"type": "http.response.early_hint", "links": [b"</a>"]}, id="early-hint"),
    pytest.param({"type": "http.response.zz-made-up", "status": 401}, id="made-up-with-status"),
    pytest.param({"type": "http.response.zz-made-up"}, id="made-up"),
]


@pytest.mark.parametrize("extension", EXTENSION_MESSAGES)
@pytest.mark.parametrize("status", [200, 204, 302, 404, 500, 503])
def test_extension_messages_before_start_pass_on_in_order(extension: Message, status: int) -> None:
    messages = (extension, dict(extension), start(status), body(b"x", True), body(b"y"))
    sent = run(wrap(app_sending(*messages)))
    assert sent == list(messages)
    assert sent[0] is extension


@pytest.mark.parametrize("extension", EXTENSION_MESSAGES)
def test_extension_message_before_a_401_then_the_refusal(extension: Message) -> None:
    sent = run(wrap(app_sending(extension, start(401), body(b"no"))))
    assert sent[0] is extension
    assert sent[1]["status"] == 401
    assert json.loads(sent[2]["body"])["reason"] == "credentials_invalid"


def test_extension_message_inside_a_held_401_keeps_its_place() -> None:
    # Not an auth failure after all (report-only): every message, in order.
    note = {"type": "http.response.zz-made-up"}
    messages = (start(401), body(b"a", True), note, body(b"b"))
    assert run(wrap(app_sending(*messages), report_only=True)) == list(messages)


@given(
    before=st.lists(st.sampled_from(["debug", "push", "early_hint", "zz"]), max_size=6),
    status=st.sampled_from([100, 200, 201, 301, 404, 409, 500, 502, 503, 599]),
    chunks=st.lists(st.binary(max_size=8), min_size=1, max_size=4),
)
@settings(max_examples=60, deadline=None)
def test_passed_on_responses_are_the_app_messages(
    before: list[str], status: int, chunks: list[bytes]
) -> None:
    """Whatever extension messages come first, a response that is not an
    auth failure leaves as the very messages the app sent, in order."""
    messages: list[Message] = [{"type": f"http.response.{kind}"} for kind in before]
    messages.append(start(status))
    messages += [body(chunk, True) for chunk in chunks[:-1]] + [body(chunks[-1])]
    sent = run(wrap(app_sending(*messages)))
    assert len(sent) == len(messages)
    assert all(a is b for a, b in zip(sent, messages, strict=True))


# --- a 5xx is not held, but for the server-error layer's plain 500 ------------------


def run_watching(app_steps: Any) -> tuple[list[Message], list[int]]:
    """Run `app_steps(send, seen)` wrapped; `seen` records, at each point the
    app chooses, how many messages had reached the server."""
    sent: list[Message] = []
    seen: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def server_send(message: Message) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await app_steps(send, lambda: seen.append(len(sent)))

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "client": None}
    asyncio.run(wrap(app)(scope, receive, server_send))
    return sent, seen


@pytest.mark.parametrize("status", [501, 502, 503, 504, 599])
def test_complete_non_500_passes_at_once(status: int) -> None:
    async def steps(send: Any, mark: Any) -> None:
        await send(start(status))
        await send(body(b"busy"))
        mark()  # still in the app: nothing awaited since

    sent, seen = run_watching(steps)
    assert seen == [2]
    assert [m.get("status") for m in sent] == [status, None]


def test_streamed_500_passes_at_once() -> None:
    async def steps(send: Any, mark: Any) -> None:
        await send(start(500))
        await send(body(b"a", True))
        mark()
        await send(body(b"b"))

    sent, seen = run_watching(steps)
    assert seen == [2]
    assert len(sent) == 3


@pytest.mark.parametrize("turns", [1, 10])
def test_complete_500_leaves_while_a_background_task_runs(turns: int) -> None:
    async def steps(send: Any, mark: Any) -> None:
        await send(start(500))
        await send(body(b"Internal Server Error"))
        mark()  # held: an exception may follow at once
        for _ in range(turns * 5):  # a background task's awaits
            await asyncio.sleep(0)
        mark()

    sent, seen = run_watching(steps)
    assert seen == [0, 2]
    assert [m.get("status") for m in sent] == [500, None]


def test_complete_500_then_trailers_leave_in_order() -> None:
    trailers = {"type": "http.response.trailers", "headers": [], "more_trailers": False}

    async def steps(send: Any, mark: Any) -> None:
        await send(start(500))
        await send(body(b"e"))
        await send(trailers)
        mark()

    sent, seen = run_watching(steps)
    assert seen == [3]
    assert sent[2] is trailers


@pytest.mark.parametrize("awaits", [0, 1, 2])
def test_500_then_auth_failure_after_a_few_awaits_is_answered(awaits: int) -> None:
    # A layer around the server-error layer may await while the error unwinds.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(500))
        await send(body(b"Internal Server Error"))
        for _ in range(awaits):
            await asyncio.sleep(0)
        raise AuthFailure(Reason.TOKEN_REVOKED)

    sent = run(wrap(app))
    assert [m.get("status") for m in sent] == [401, None]
    assert json.loads(sent[1]["body"])["reason"] == "token_revoked"


def test_500_released_before_the_exception_is_not_sent_twice() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start(500))
        await send(body(b"Internal Server Error"))
        for _ in range(20):
            await asyncio.sleep(0)
        raise AuthFailure(Reason.TOKEN_REVOKED)

    captured: list[Message] = []

    async def main() -> None:
        async def receive() -> Message:
            return {"type": "http.request"}

        async def send(message: Message) -> None:
            captured.append(message)

        with pytest.raises(AuthFailure):  # the 500 is on the wire: nothing to add
            await wrap(app)({"type": "http", "headers": []}, receive, send)

    asyncio.run(main())
    assert [m.get("status") for m in captured] == [500, None]
