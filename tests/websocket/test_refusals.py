"""A handshake the app refuses reaches the client as a correct auth failure.

Each app refuses in its framework's idiom (see `apps`). Through a server
that offers the `websocket.http.response` extension (uvicorn, hypercorn)
the client reads a 401 with a challenge, a problem+json body naming the
reason and no-store, where the bare app gave a bare 403 (a close), its own
JSON, or a 500 (a raised AuthFailure). Without the extension the refusal is
a close 1008 whose reason is the reason code. One `auth.failure` event per
refusal; no credential anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import LogCapture

from authhygiene import AuthHygiene

from ..e2e.servers import assert_absent, assert_problem, challenges
from .apps import APPS, dispatch, wrapped
from .conftest import SECRETS, bearer, drive, events
from .servers import SERVERS, refused, served, without_extension

REFUSING = [name for name in APPS if name != "echo"]
# Starlette's `@requires` closes an anonymous handshake with a plain 1000,
# as its router closes a path it does not route: no auth failure we can
# tell (`close_refusal`), left as the server answers it (a bare 403).
PLAIN_ANONYMOUS = {("starlette-authmiddleware", None)}


def cases() -> list[Any]:
    return [
        pytest.param(app, credential, id=f"{app}-{credential or 'none'}")
        for app in REFUSING
        for credential in CREDENTIALS
        if (app, credential) not in PLAIN_ANONYMOUS
    ]


# credential -> (status, reason, RFC 6750 error in the challenge)
CREDENTIALS = {
    None: (401, "credentials_missing", None),
    "garbage": (401, "credentials_invalid", "invalid_token"),
    "expired95": (401, "token_expired", "invalid_token"),
}


@pytest.fixture(scope="module", params=SERVERS)
def port(request: pytest.FixtureRequest, logger: Any) -> Iterator[int]:
    with served(request.param, dispatch(wrapped(logger))) as server_port:
        yield server_port


@pytest.mark.parametrize(("app", "credential"), cases())
def test_a_refused_handshake_is_a_correct_401(
    port: int, logs: LogCapture, app: str, credential: str | None
) -> None:
    status, reason, error = CREDENTIALS[credential]

    reply = refused(port, APPS[app][0], headers=bearer(credential))

    problem = assert_problem(reply, status=status, reason=reason)
    assert problem["status"] == status
    (challenge,) = challenges(reply)
    assert challenge.type == "bearer"
    assert challenge.parameters.get("error") == error
    failures = events(logs, "auth.failure")
    assert [(event["reason"], event["status"]) for event in failures] == [(reason, status)]
    assert_absent(SECRETS, reply.wire_text, json.dumps(logs.entries, default=str))


# --- no `websocket.http.response`: a close 1008 with the reason code ---------


@pytest.mark.parametrize(
    ("app", "credential"), [case for case in cases() if case.values[0] != "send-denial-response"]
)
def test_without_the_extension_the_refusal_is_a_close_1008_with_the_reason(
    logger: Any, logs: LogCapture, app: str, credential: str | None
) -> None:
    path, factory = APPS[app]
    _, reason, _ = CREDENTIALS[credential]

    exchange = drive(AuthHygiene(factory(), realm="api", logger=logger), path, bearer(credential))

    assert exchange.sent == [{"type": "websocket.close", "code": 1008, "reason": reason}]
    assert exchange.received == 1  # websocket.connect, read once (by the app or by us)
    assert [event["reason"] for event in events(logs, "auth.failure")] == [reason]
    assert_absent(SECRETS, json.dumps(exchange.sent), json.dumps(logs.entries, default=str))


def test_an_anonymous_plain_close_is_left_as_the_server_answers_it(
    port: int, logs: LogCapture
) -> None:
    reply = refused(port, APPS["starlette-authmiddleware"][0])
    assert reply.status == 403
    assert reply.get("www-authenticate") is None
    assert events(logs, "auth.failure") == []


def test_the_extension_is_used_where_the_scope_offers_it(logger: Any, logs: LogCapture) -> None:
    path, factory = APPS["fastapi-ws1008"]

    exchange = drive(
        AuthHygiene(factory(), realm="api", logger=logger), path, bearer(None), extension=True
    )

    start, body = exchange.sent
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 401
    assert body["type"] == "websocket.http.response.body"
    assert json.loads(body["body"])["reason"] == "credentials_missing"
    assert exchange.received == 1


@pytest.mark.parametrize("server", SERVERS)
def test_a_server_without_the_extension_answers_the_close_itself(
    server: str, logger: Any, logs: LogCapture
) -> None:
    # The ASGI spec: a close before accept is answered 403 by the server;
    # the failure is still explained in the log, once.
    app = without_extension(dispatch(wrapped(logger)))
    with served(server, app) as port:
        reply = refused(port, "/fastapi/ws", headers=bearer("expired95"))

    assert reply.status == 403
    assert [event["reason"] for event in events(logs, "auth.failure")] == ["token_expired"]
    assert_absent(SECRETS, reply.wire_text)


# --- enforce mode: refused before the app, and the app's own refusals -------


def test_enforce_mode_answers_the_apps_refusal_after_admission(
    logger: Any, logs: LogCapture
) -> None:
    from authhygiene.verify import JWT
    from tests.stacks.tokens import SIGNING_KEY

    path, factory = APPS["raw-close"]
    app = AuthHygiene(
        factory(),
        realm="api",
        logger=logger,
        mode="enforce",
        verify=JWT(algorithms=["HS256"], keys=SIGNING_KEY, audience="api"),
        require=[("*", "/raw/*", None)],  # public: the app decides
    )

    refused_by_us = drive(app, path, bearer("garbage"), extension=True)
    anonymous = drive(app, path, (), extension=False)

    assert refused_by_us.sent[0]["status"] == 401
    assert json.loads(refused_by_us.sent[1]["body"])["reason"] == "credentials_invalid"
    assert anonymous.sent == [
        {"type": "websocket.close", "code": 1008, "reason": "credentials_missing"}
    ]
