"""Apps that refuse a handshake badly, oddly or hostilely: whatever they
send, the client gets a well-formed answer, nothing unbounded is echoed,
no credential leaves, and what is not an auth refusal is left alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from structlog.testing import LogCapture

from authhygiene import AuthFailure, AuthHygiene, Reason

from ..e2e.servers import assert_absent, assert_problem
from .conftest import SECRETS, TOKENS, bearer, drive, events
from .servers import SERVERS, refused, served

START = "websocket.http.response.start"
BODY = "websocket.http.response.body"
Message = dict[str, Any]


def sending(*messages: Message, raises: BaseException | None = None) -> Any:
    """A raw app that reads the connect, sends `messages`, then raises."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        for message in messages:
            await send(message)
        if raises is not None:
            raise raises

    return app


def close(**fields: Any) -> Message:
    return {"type": "websocket.close", **fields}


def start(status: int, headers: Sequence[tuple[bytes, bytes]] = ()) -> Message:
    return {"type": START, "status": status, "headers": list(headers)}


def body(data: bytes, more: bool = False) -> Message:
    return {"type": BODY, "body": data, "more_body": more}


def problem_of(sent: list[Message]) -> tuple[int, dict[str, Any]]:
    first, *rest = sent
    assert first["type"] == START
    assert [message["type"] for message in rest] == [BODY]
    return first["status"], json.loads(rest[0]["body"])


def wrap(app: Any, logger: Any, **options: Any) -> AuthHygiene:
    return AuthHygiene(app, realm="api", logger=logger, **options)


# --- the app's close, read within bounds -------------------------------------

HUGE = "no " * 50_000


@pytest.mark.parametrize(
    ("message", "credential", "status", "reason"),
    [
        (close(code=1000, reason=HUGE), "garbage", 401, "credentials_invalid"),
        (
            close(code=1008, reason="bad \udcff\x00\x85 \u202e"),
            "garbage",
            401,
            "credentials_invalid",
        ),
        (close(), "expired95", 401, "token_expired"),  # no code: 1000
        (close(code=None, reason=None), "garbage", 401, "credentials_invalid"),
        (close(code=3003), "valid", 403, "forbidden"),  # 3003 "Forbidden"
        (close(code=3003), None, 401, "credentials_missing"),  # no credentials: a 401
        (close(code=1008, reason="token_expired"), "valid", 401, "token_expired"),
        (close(code=1008, reason="insufficient_scope"), "valid", 403, "insufficient_scope"),
    ],
    ids=[
        "huge-reason",
        "invalid-utf8ish-reason",
        "no-code",
        "null-fields",
        "3003-with-token",
        "3003-anonymous",
        "reason-code-declared",
        "insufficient-scope-declared",
    ],
)
def test_a_close_before_accept_is_answered_within_bounds(
    logger: Any,
    logs: LogCapture,
    message: Message,
    credential: str | None,
    status: int,
    reason: str,
) -> None:
    exchange = drive(wrap(sending(message), logger), "/ws", bearer(credential), extension=True)

    got_status, problem = problem_of(exchange.sent)
    assert (got_status, problem["reason"]) == (status, reason)
    assert len(exchange.sent[1]["body"]) < 4096  # the app's words are bounded, not echoed
    assert len(str(problem.get("app_detail", ""))) <= 200
    assert len(events(logs, "auth.failure")) == 1


def test_a_huge_close_reason_is_bounded_on_the_wire(logger: Any) -> None:
    app = wrap(sending(close(code=1000, reason=HUGE)), logger)
    for server in SERVERS:
        with served(server, app) as port:
            reply = refused(port, "/ws", headers=bearer("garbage"))
        assert_problem(reply, status=401, reason="credentials_invalid")
        assert len(reply.body) < 4096


@pytest.mark.parametrize(
    ("message", "credential"),
    [
        *[
            (close(code=code, reason="database down"), "garbage")
            for code in (1011, 1012, 1013, 1014)
        ],
        # The app's own codes and the protocol's: its business, as a 404 is.
        (close(code=4429, reason="room full"), "garbage"),
        (close(code=1003, reason="binary only"), "garbage"),
        # A plain close without credentials, on a route nothing guards: a
        # path the router does not route looks just so.
        (close(code=1000), None),
        (close(), None),
        # FastAPI's close for a handshake that fails validation.
        (close(code=1008, reason=[{"type": "missing", "loc": ["query", "room"]}]), None),
        (close(code="1008", reason=b"bytes"), None),  # no close of the spec's
    ],
    ids=[
        "1011",
        "1012",
        "1013",
        "1014",
        "4429",
        "1003",
        "1000-anonymous",
        "no-code-anonymous",
        "fastapi-validation",
        "wrong-types",
    ],
)
def test_a_close_that_refuses_no_access_passes_unchanged(
    logger: Any, logs: LogCapture, message: Message, credential: str | None
) -> None:
    exchange = drive(wrap(sending(message), logger), "/ws", bearer(credential), extension=True)

    assert exchange.sent == [message]
    assert events(logs, "auth.failure") == []


def test_report_only_passes_the_apps_close_unchanged(logger: Any, logs: LogCapture) -> None:
    message = close(code=1000, reason="go away")

    exchange = drive(
        wrap(sending(message), logger, report_only=True), "/ws", bearer("garbage"), extension=True
    )

    assert exchange.sent == [message]
    assert [event["reason"] for event in events(logs, "auth.report_only")] == [
        "credentials_invalid"
    ]


def test_the_secret_in_the_apps_close_reason_never_leaves(logger: Any, logs: LogCapture) -> None:
    token = TOKENS["garbage"]
    app = sending(close(code=1008, reason=f"token {token} is not valid"))

    for extension in (True, False):
        exchange = drive(wrap(app, logger), "/ws", bearer("garbage"), extension=extension)
        wire = json.dumps(exchange.sent, default=str)
        assert_absent(SECRETS, wire, json.dumps(logs.entries, default=str))


# --- the app's websocket.http.response, held within bounds --------------------


def test_a_denial_with_the_token_in_its_body_is_scrubbed(logger: Any, logs: LogCapture) -> None:
    token = TOKENS["expired95"]
    detail = json.dumps({"detail": f"expired: {token}"}).encode()
    app = sending(start(401, [(b"content-type", b"application/json")]), body(detail))

    exchange = drive(wrap(app, logger), "/ws", bearer("expired95"), extension=True)

    status, problem = problem_of(exchange.sent)
    assert (status, problem["reason"]) == (401, "token_expired")
    assert_absent(SECRETS, json.dumps(exchange.sent, default=str), str(logs.entries))


@pytest.mark.parametrize(
    ("status", "credential", "watched"),
    [
        (400, "garbage", True),  # Starlette's AuthenticationMiddleware shape
        (400, None, False),  # a form error from a request without credentials
        (404, "garbage", False),
        (429, None, False),
        (500, "garbage", False),
    ],
)
def test_only_auth_denials_are_held(
    logger: Any, logs: LogCapture, status: int, credential: str | None, watched: bool
) -> None:
    sent = [start(status, [(b"content-type", b"text/plain")]), body(b"Invalid bearer token")]

    exchange = drive(wrap(sending(*sent), logger), "/ws", bearer(credential), extension=True)

    if watched:
        assert problem_of(exchange.sent)[1]["reason"] == "credentials_invalid"
    else:
        assert exchange.sent == sent
        assert events(logs, "auth.failure") == []


def test_an_endless_denial_body_is_decided_on_what_is_held(logger: Any) -> None:
    chunk = b"x" * 8192
    app = sending(start(401), *(body(chunk, more=True) for _ in range(64)))

    exchange = drive(wrap(app, logger, max_body_bytes=16384), "/ws", extension=True)

    status, problem = problem_of(exchange.sent)
    assert (status, problem["reason"]) == (401, "credentials_missing")


def test_an_endless_denial_that_is_not_ours_streams_on(logger: Any) -> None:
    chunks = [body(b"x" * 8192, more=True) for _ in range(8)]
    app = sending(start(401), *chunks, body(b"", more=False))

    exchange = drive(
        wrap(app, logger, max_body_bytes=16384, report_only=True), "/ws", extension=True
    )

    assert exchange.sent == [start(401), *chunks, body(b"")]


@pytest.mark.parametrize(
    "after",
    [
        {"type": "websocket.accept"},
        close(code=1000),
        {"type": "websocket.send", "text": "sneaky"},
    ],
    ids=["accept", "close", "send"],
)
def test_a_message_after_the_denial_start_is_dropped(logger: Any, after: Message) -> None:
    app = sending(start(401), after, body(b"late"))

    exchange = drive(wrap(app, logger), "/ws", extension=True)

    status, problem = problem_of(exchange.sent)  # our answer, and nothing after it
    assert (status, problem["reason"]) == (401, "credentials_missing")


def test_a_denial_cut_short_still_leaves_correct(logger: Any) -> None:
    exchange = drive(wrap(sending(start(403)), logger), "/ws", bearer("valid"), extension=True)

    assert problem_of(exchange.sent)[0] == 403


# --- exceptions ---------------------------------------------------------------


def test_an_authfailure_before_accept_is_answered(logger: Any, logs: LogCapture) -> None:
    app = sending(raises=AuthFailure(Reason.TOKEN_REVOKED))

    with_extension = drive(wrap(app, logger), "/ws", bearer("valid"), extension=True)
    without = drive(wrap(app, logger), "/ws", bearer("valid"))

    assert problem_of(with_extension.sent)[1]["reason"] == "token_revoked"
    assert without.sent == [{"type": "websocket.close", "code": 1008, "reason": "token_revoked"}]
    assert len(events(logs, "auth.failure")) == 2


ACCEPT = {"type": "websocket.accept"}


@pytest.mark.parametrize(
    ("app", "sent"),
    [
        (sending(ACCEPT, raises=AuthFailure(Reason.TOKEN_EXPIRED)), [ACCEPT]),
        (sending(ACCEPT, raises=ValueError("boom")), [ACCEPT]),
        (sending(raises=ValueError("boom")), []),
    ],
    ids=["authfailure-after-accept", "error-after-accept", "error-before-accept"],
)
def test_other_exceptions_propagate_without_an_answer_of_ours(
    logger: Any, logs: LogCapture, app: Any, sent: list[Message]
) -> None:
    outcome: list[Message] = []

    async def record(scope: Any, receive: Any, send: Any) -> None:
        async def keep(message: Message) -> None:
            outcome.append(message)
            await send(message)

        await wrap(app, logger)(scope, receive, keep)

    with pytest.raises((AuthFailure, ValueError)):
        drive(record, "/ws", bearer("valid"), extension=True)
    assert outcome == sent
    assert events(logs, "auth.failure") == []


def test_report_only_lets_a_raised_authfailure_propagate(logger: Any, logs: LogCapture) -> None:
    app = sending(raises=AuthFailure(Reason.TOKEN_EXPIRED))

    with pytest.raises(AuthFailure):
        drive(wrap(app, logger, report_only=True), "/ws", extension=True)
    assert [event["reason"] for event in events(logs, "auth.report_only")] == ["token_expired"]


def test_an_error_after_accept_on_a_real_server_reaches_the_server(logger: Any) -> None:
    from websockets.exceptions import ConnectionClosed

    from .servers import accepted

    app = wrap(sending({"type": "websocket.accept"}, raises=RuntimeError("after")), logger)
    for server in SERVERS:
        with served(server, app) as port, accepted(port, "/ws") as websocket:
            # The connection ends as the server ends it for any app error
            # after accept (a 1011 close or an abrupt one): not an answer of ours.
            with pytest.raises(ConnectionClosed) as closed:
                websocket.recv(timeout=10)
            assert closed.value.rcvd is None or closed.value.rcvd.code == 1011


# --- the refusal path never raises -------------------------------------------


def test_a_bug_in_deciding_still_answers(logger: Any) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("decider bug")

    app = wrap(sending(close(code=1000)), logger)
    object.__setattr__(app.runtime, "decider", boom)

    exchange = drive(app, "/ws", bearer("garbage"), extension=True)

    assert exchange.sent[0]["type"] == START
    assert exchange.sent[0]["status"] == 401


def test_a_client_gone_before_our_answer_gets_nothing(logger: Any) -> None:
    # Enforce mode answers before the app: the connect we read is a disconnect.
    from authhygiene.verify import JWT

    app = wrap(
        sending({"type": "websocket.accept"}),
        logger,
        mode="enforce",
        verify=JWT(algorithms=["HS256"], keys="k" * 32),
    )

    async def gone() -> Message:
        return {"type": "websocket.disconnect", "code": 1006}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    import asyncio

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    asyncio.run(app(scope, gone, send))
    assert sent == []
