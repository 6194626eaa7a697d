"""Each real stack, as its docs teach, answers each case of cases.py: first
on its own (the "before" recorded in the table must still be what the
installed package answers), then with the one line (status, reason, RFC 6750
`error`, challenge, problem body, headers, one log event, no credential
anywhere), then with the one line plus `verify=` and `require=` (the same
checks, against the case's verified answer), and byte-for-byte unchanged
where the case is not an auth failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.servers import Reply, assert_absent, challenges, without_date

from .cases import (
    CASES,
    FAULT,
    FOUR_FAILURES,
    FOUR_REASONS,
    NOT_TRUE,
    STACK_TITLES,
    Case,
    WithVerify,
    bearer,
)
from .live import LiveStacks, run
from .render_table import END, README, START, notes, render, rows, structure
from .verified import NO_TOKENS

PROBLEM_MEMBERS = ("type", "title", "status", "detail", "reason", "hint", "request_id")
_NOT_YET_FACTS = (("valid_in_seconds", range(1, 31)), ("clock_skew_suspected", True))
CASE_PARAMS = [pytest.param(case, id=case.id) for case in CASES]


def _comparable(reply: Reply) -> list[tuple[str, str]]:
    """Headers minus Date; DRF builds `Allow` from a set, so its order differs
    between two processes (hash randomisation): compared as a set."""
    out = []
    for key, value in without_date(reply.headers):
        if key.lower() == "allow":
            value = ", ".join(sorted(item.strip() for item in value.split(",")))
        out.append((key, value))
    return out


def _own_words(reply: Reply) -> str:
    return (
        reply.body.decode("utf-8", "replace") + "\n" + "\n".join(reply.get_all("www-authenticate"))
    )


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_stack_answers_on_its_own(live: LiveStacks, case: Case) -> None:
    """The table's "before" column: what the installed package answers."""
    reply = run(live, case, "bare").reply

    assert reply.status == case.before
    assert case.says in _own_words(reply)


def _check_fact(problem: dict[str, Any], name: str, expected: object) -> None:
    value = problem.get(name)
    if expected is NOT_TRUE:
        assert value in (None, False), name
    elif isinstance(expected, range):
        assert isinstance(value, int), name
        assert value in expected, name
    elif isinstance(expected, type):
        assert isinstance(value, expected), name
    else:
        assert value == expected, name


def _check_failure(case: Case, reply: Reply) -> None:
    assert reply.status == case.status
    assert reply.get("content-type") == "application/problem+json"
    assert reply.get_all("cache-control") == ["no-store"]
    assert reply.get_all("pragma") == ["no-cache"]
    vary = {item.strip().lower() for value in reply.get_all("vary") for item in value.split(",")}
    assert {"authorization", "cookie", "origin"} <= vary
    problem = reply.json()
    for member in PROBLEM_MEMBERS:
        assert member in problem, member
    assert problem["status"] == reply.status
    assert problem["reason"] == case.reason
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    assert isinstance(problem["hint"], str)
    assert problem["hint"]
    assert problem.get("error") == case.error  # none where RFC 6750 §3.1 has none
    parsed = challenges(reply)  # werkzeug parses each; realm quoted when present
    if reply.status == 401:
        assert parsed  # RFC 9110 §15.5.2
    # RFC 6750 error codes live in Bearer/DPoP challenges only: a DRF "Token" or
    # a Basic challenge never carries one.
    token_challenges = [c for c in parsed if c.type in ("bearer", "dpop")]
    errors = [c.parameters.get("error") for c in token_challenges if c.parameters.get("error")]
    assert not [c for c in parsed if c not in token_challenges and c.parameters.get("error")]
    if case.error is None:
        assert errors == []
    elif token_challenges or reply.status == 401:
        assert errors == [case.error]
    if case.scope is not None:
        assert problem["required_scope"] == case.scope
        assert [c.parameters.get("scope") for c in parsed if c.parameters.get("error")] == [
            case.scope
        ]
    for name, expected in case.facts:
        _check_fact(problem, name, expected)
    if case.detail is not None:
        assert case.detail in problem["detail"]
    # Every challenge names a realm (RFC 9110 §11.5): ours, or the app's own
    # when its valid challenge already named one (Flask-HTTPAuth's
    # "Authentication Required"), which is kept.
    realms = [c.parameters.get("realm") for c in parsed if c.token is None]
    assert all(realms), realms


def _check_variant(live: LiveStacks, case: Case, variant: str) -> None:
    exchange = run(live, case, variant)
    reply = exchange.reply
    failures = [event for event in exchange.events if event["event"] == "auth.failure"]

    if case.reason is None:
        # Not an auth failure: the app's own bytes, and nothing logged.
        bare = run(live, case, "bare").reply
        assert reply.status == bare.status == case.status
        assert _comparable(reply) == _comparable(bare)
        assert reply.body == bare.body
        assert failures == []
    elif case.reason == FAULT:
        # A key or JWKS failure is the server's fault, never the caller's.
        assert 500 <= reply.status < 600
        assert reply.get_all("www-authenticate") == []
        for leak in (b"Traceback", b"Error:", b"jwt."):  # a safe body: no exception text
            assert leak not in reply.body
    else:
        _check_failure(case, reply)
        assert len(failures) == 1
        if "reason" in failures[0]:  # in-process capture (gunicorn's is text)
            assert failures[0]["reason"] == case.reason
            assert failures[0]["status"] == reply.status
    assert_absent(exchange.secrets, reply.wire_text, exchange.log_text)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_stack_answers_with_the_one_line(live: LiveStacks, case: Case) -> None:
    _check_variant(live, case, "wrapped")


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_stack_answers_with_verify(live: LiveStacks, case: Case) -> None:
    """The one line with the stack's own keys (`verify=`) and its routes'
    scopes (`require=`): the app still decides, the keys say why."""
    _check_variant(live, case.with_verify(), "verified")


@pytest.mark.parametrize("stack", sorted(set(STACK_TITLES) - set(NO_TOKENS)))
def test_verify_tells_the_four_token_failures_apart(stack: str) -> None:
    """The issue's acceptance, read off the table the live tests check: on
    every stack that takes JWTs, expired, bad signature, `nbf` in the future
    and garbage are four distinct reasons with verify=, where the one line
    alone cannot tell at least a bad signature from garbage on most."""
    path = FOUR_FAILURES[stack]
    found = {}
    for token in FOUR_REASONS:
        (case,) = [
            c for c in CASES if c.stack == stack and c.path == path and c.headers == bearer(token)
        ]
        found[token] = case.with_verify().reason

    assert found == FOUR_REASONS
    assert len(set(found.values())) == 4


def test_every_stack_is_told_apart_or_says_why_not() -> None:
    assert set(FOUR_FAILURES) | set(NO_TOKENS) == set(STACK_TITLES)
    assert not set(FOUR_FAILURES) & set(NO_TOKENS)


# --- what verify= once said wrong (found by these tests, fixed in core.diagnose) ---------


def _case_of(stack: str, path: str, token: str, says: str, verified: WithVerify) -> Case:
    return Case(
        stack, f"{token} on {path}", path, bearer(token), 0, says, 0, None, verified=verified
    )


def test_scope_rule_waits_for_a_token_the_app_found_not_yet_valid(live: LiveStacks) -> None:
    # FastAPI's scopes tutorial: "Could not validate credentials" (401) for a
    # token that is not valid for 30 s more; the route requires `items`, the
    # token has only `profile`. The one line alone says token_not_yet_valid.
    case = _case_of(
        "fastapi",
        "/items",
        "nbf30",
        "Could not validate credentials",
        WithVerify(401, "token_not_yet_valid", "invalid_token", facts=_NOT_YET_FACTS),
    )
    _check_variant(live, case.with_verify(), "verified")


def test_starlette_400_for_a_verified_token_says_valid_token_refused(live: LiveStacks) -> None:
    case = _case_of(
        "starlette-jwt",
        "/me",
        "deleted_user",
        "Invalid bearer token",
        WithVerify(
            401, "credentials_invalid", "invalid_token", facts=(("problem", "valid_token_refused"),)
        ),
    )
    _check_variant(live, case.with_verify(), "verified")


def test_uncaught_decode_error_says_not_a_jwt(live: LiveStacks) -> None:
    case = _case_of(
        "fastapi-outside",
        "/uncaught",
        "garbage",
        "Internal Server Error",
        WithVerify(401, "credentials_invalid", "invalid_token", facts=(("problem", "not_a_jwt"),)),
    )
    _check_variant(live, case.with_verify(), "verified")


def test_docs_table_matches_a_live_run(live: LiveStacks) -> None:
    """docs/guide/stacks.md's table (between the markers) is
    what render_table.py prints now, in stack, case, statuses and reasons."""
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        pytest.fail("docs/guide/stacks.md has lost its stacks table markers")
    in_readme = text.split(START, 1)[1].split(END, 1)[0]

    assert structure(in_readme) == structure(render(rows(live)))
    assert notes() in in_readme
