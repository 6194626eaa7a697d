"""`AuthHygieneWSGI` on a real Flask app under real WSGI servers.

Flask runs under werkzeug's threaded server for the full shared
`FailureContract` (conftest.py): challenges, RFC 6750 codes, 401-versus-403,
the problem body, headers, logs and report-only mode. This module adds what
only Flask does (an `AuthFailure` raised in a view or in `before_request` is
rendered by Flask as a response, not passed up as an exception) and runs the
RFC 6750 table again under gunicorn with one sync worker, a separate process
whose printed output is read back to prove no credential reaches it.
"""

import pytest

from .conftest import (
    BAD_TOKEN,
    CODE_CASES,
    REVOKED_DETAIL,
    SECRETS,
    VALID_TOKEN,
    FailureContract,
    Headers,
    Stack,
    bearer,
    challenge_errors,
    check_logged_once,
    expired_jwt,
)
from .servers import assert_absent, assert_problem


class TestFailureContract(FailureContract):
    @pytest.fixture
    def stack(self, flask_stack: Stack) -> Stack:
        return flask_stack


# path, request headers, status, reason, RFC 6750 error in the challenge
RAISED_CASES = [
    pytest.param(
        "/raise/endpoint",
        bearer(BAD_TOKEN),
        401,
        "token_revoked",
        "invalid_token",
        id="flask-view",
    ),
    pytest.param("/raise/endpoint", (), 401, "token_revoked", None, id="flask-view-anonymous"),
    pytest.param(
        "/guarded/area",
        bearer(BAD_TOKEN),
        401,
        "token_revoked",
        "invalid_token",
        id="flask-before-request",
    ),
    pytest.param(
        "/private/scoped",
        bearer(VALID_TOKEN),
        403,
        "insufficient_scope",
        "insufficient_scope",
        id="flask-view-scope",
    ),
]


@pytest.mark.parametrize(("path", "headers", "status", "reason", "error"), RAISED_CASES)
def test_auth_failure_raised(
    flask_stack: Stack, path: str, headers: Headers, status: int, reason: str, error: str | None
) -> None:
    reply = flask_stack.fetch(path, headers=headers)

    problem = assert_problem(reply, status=status, reason=reason)
    assert challenge_errors(reply) == [error]
    if reason == "token_revoked":
        assert problem["detail"] == REVOKED_DETAIL
    else:
        assert problem["required_scope"] == "items:write"
    check_logged_once(flask_stack, reply, path=path, credential_sent=bool(headers))


class TestGunicornSyncWorker:
    """The same refusals through gunicorn's sync worker, a separate process
    logging with structlog's default configuration to its stdout."""

    @pytest.mark.parametrize(
        ("path", "headers", "status", "error", "reason", "scope", "credential_sent"), CODE_CASES
    )
    def test_rfc6750_codes(
        self,
        gunicorn_stack: Stack,
        path: str,
        headers: Headers,
        status: int,
        error: str | None,
        reason: str,
        scope: str | None,
        credential_sent: bool,
    ) -> None:
        before = gunicorn_stack.log_text().count("auth.failure")
        reply = gunicorn_stack.fetch(path, headers=headers)

        problem = assert_problem(reply, status=status, reason=reason)
        assert challenge_errors(reply) == [error]
        assert problem.get("error") == error  # no OAuth code where RFC 6750 has none
        # The worker printed its event before it answered; exactly one more.
        output = gunicorn_stack.log_text()
        assert output.count("auth.failure") == before + 1
        assert problem["request_id"] in output
        assert_absent(SECRETS, output, reply.wire_text)

    def test_expired_jwt_never_printed(self, gunicorn_stack: Stack) -> None:
        token, _ = expired_jwt(95)
        reply = gunicorn_stack.fetch("/private", headers=bearer(token))

        assert_problem(reply, status=401, reason="token_expired")
        output = gunicorn_stack.log_text()
        assert "token_expired" in output
        assert_absent((token, *token.split(".")), output, reply.wire_text)
