"""`AuthHygiene` on real ASGI apps under real uvicorn.

Three stacks, each a documented way to add the middleware: FastAPI with
`app.add_middleware` in front of `HTTPBearer`, plain Starlette with
`add_middleware`, and Starlette wrapped from the outside
(`app = AuthHygiene(app, ...)`), where Starlette's ServerErrorMiddleware
starts a 500 before an exception reaches us. The shared `FailureContract`
(conftest.py) checks challenges, RFC 6750 codes, 401-versus-403, the problem
body, headers, logs and report-only mode on each; this module adds what only
ASGI apps can do: raise `AuthFailure` from an endpoint or a FastAPI
dependency, behind or in front of the server-error layer.
"""

import pytest

from .conftest import (
    BAD_TOKEN,
    REVOKED_DETAIL,
    SECRETS,
    VALID_TOKEN,
    FailureContract,
    Headers,
    Stack,
    Stacks,
    bearer,
    challenge_errors,
    check_logged_once,
)
from .servers import assert_absent, assert_problem, without_date


class TestFailureContract(FailureContract):
    @pytest.fixture
    def stack(self, asgi_stack: Stack) -> Stack:
        return asgi_stack


# stack, path, request headers, status, reason, RFC 6750 error in the challenge
RAISED_CASES = [
    pytest.param(
        "fastapi",
        "/raise/endpoint",
        bearer(BAD_TOKEN),
        401,
        "token_revoked",
        "invalid_token",
        id="fastapi-endpoint",
    ),
    pytest.param(
        "fastapi",
        "/raise/dependency",
        bearer(BAD_TOKEN),
        401,
        "token_revoked",
        "invalid_token",
        id="fastapi-dependency",
    ),
    pytest.param(
        "fastapi",
        "/private/scoped",
        bearer(VALID_TOKEN),
        403,
        "insufficient_scope",
        "insufficient_scope",
        id="fastapi-endpoint-scope",
    ),
    pytest.param(
        "starlette",
        "/raise/endpoint",
        bearer(BAD_TOKEN),
        401,
        "token_revoked",
        "invalid_token",
        id="starlette-endpoint",
    ),
    # Outside ServerErrorMiddleware: it sends a 500 and then re-raises; the
    # answer must still be the refusal the app meant, never that 500.
    pytest.param(
        "starlette-outside",
        "/raise/endpoint",
        bearer(BAD_TOKEN),
        401,
        "token_revoked",
        "invalid_token",
        id="starlette-outside-endpoint",
    ),
    pytest.param(
        "starlette-outside",
        "/raise/endpoint",
        (),
        401,
        "token_revoked",
        None,
        id="starlette-outside-endpoint-anonymous",
    ),
    pytest.param(
        "starlette-outside",
        "/private/scoped",
        bearer(VALID_TOKEN),
        403,
        "insufficient_scope",
        "insufficient_scope",
        id="starlette-outside-endpoint-scope",
    ),
]


@pytest.mark.parametrize(("name", "path", "headers", "status", "reason", "error"), RAISED_CASES)
def test_auth_failure_raised(
    stacks: Stacks,
    name: str,
    path: str,
    headers: Headers,
    status: int,
    reason: str,
    error: str | None,
) -> None:
    stack = stacks.get(name)
    stack.clear_logs()
    reply = stack.fetch(path, headers=headers)

    problem = assert_problem(reply, status=status, reason=reason)
    assert challenge_errors(reply) == [error]
    if reason == "token_revoked":
        assert problem["detail"] == REVOKED_DETAIL
    else:
        assert problem["required_scope"] == "items:write"
    check_logged_once(stack, reply, path=path, credential_sent=bool(headers))


def test_raised_auth_failure_in_report_only_is_the_bare_answer(stacks: Stacks) -> None:
    # Report-only changes nothing on the wire, even for a raised AuthFailure:
    # the framework's own 500 goes out, as without the middleware.
    stack = stacks.get("starlette-outside")
    stack.clear_logs()
    bare = stack.fetch("/raise/endpoint", variant="bare", headers=bearer(BAD_TOKEN))
    reply = stack.fetch("/raise/endpoint", variant="report_only", headers=bearer(BAD_TOKEN))

    assert bare.status == 500
    assert reply.status == bare.status
    assert without_date(reply.headers) == without_date(bare.headers)
    assert reply.body == bare.body
    events = stack.events("auth.report_only", variant="report_only")
    assert [event["would_status"] for event in events] == [401]
    assert_absent(SECRETS, stack.log_text(), reply.wire_text)
