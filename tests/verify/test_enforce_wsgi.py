"""Enforce mode under werkzeug's server, as Flask users write their apps:
``app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, mode="enforce", ...)``, views
reading ``request.environ["authhygiene.identity"]``. The refusal table the
ASGI adapter is held to, here too; then the API-key and Basic verifiers in
enforce mode, and what these tests found."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask import request as flask_request
from structlog.testing import CapturingLogger

from authhygiene import AuthHygieneWSGI, Scopes
from authhygiene.core.requirements import compile_requirements
from authhygiene.identity import IDENTITY_KEY
from authhygiene.verify import APIKey, Basic
from tests.e2e.servers import WerkzeugThread, assert_absent, fetch
from tests.verify.enforce_apps import (
    PAGE,
    REFUSALS,
    REVOKED,
    Calls,
    Refusal,
    Served,
    assert_refused,
    bearer,
    check_refusal,
    cors,
    enforce_options,
    flask_app,
    identity_json,
    token,
)


def _serve(app: Flask, **options: Any) -> tuple[WerkzeugThread, CapturingLogger]:
    log = CapturingLogger()
    app.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
        app.wsgi_app, **{"logger": log, "log_limit": None, "realm": "api", **options}
    )
    return WerkzeugThread(app), log


@pytest.fixture(scope="module")
def flask_enforced() -> Iterator[Served]:
    calls = Calls()
    log = CapturingLogger()
    app = flask_app(calls)
    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **enforce_options(log, cors=cors()))  # type: ignore[method-assign]
    with WerkzeugThread(app) as server:
        yield Served(server.port, calls, log)


# --- JWT --------------------------------------------------------------------------------


def test_a_view_reads_the_identity_from_the_environ(flask_enforced: Served) -> None:
    sent = token(sub="user-9", scope="items:read reports:read")
    before = flask_enforced.calls["items"]
    reply = fetch(flask_enforced.port, "/items/5", headers=bearer(sent))
    assert reply.status == 200
    assert reply.json() == {
        "item": "5",
        "subject": "user-9",
        "display_name": "user-9",
        "authenticated": True,
        "scopes": ["items:read", "reports:read"],
        "scheme": "Bearer",
        "iss": "https://issuer.example",
    }
    assert flask_enforced.calls["items"] == before + 1
    assert_absent([sent], reply.wire_text)


@pytest.mark.parametrize(("method", "body"), [("GET", True), ("HEAD", False)])
def test_get_and_head_are_admitted(flask_enforced: Served, method: str, body: bool) -> None:
    reply = fetch(flask_enforced.port, "/items/1", method=method, headers=bearer(token()))
    assert reply.status == 200
    assert bool(reply.body) is body


def test_a_public_route_needs_no_credential(flask_enforced: Served) -> None:
    reply = fetch(flask_enforced.port, "/health")
    assert (reply.status, reply.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("case", REFUSALS.values())
def test_refused_before_the_view(flask_enforced: Served, case: Refusal) -> None:
    check_refusal(flask_enforced, case, [])


@pytest.mark.parametrize(
    "case", [REFUSALS[name] for name in ("missing", "expired", "scope-lacking", "no-rule-admits")]
)
def test_a_refusal_to_a_page_carries_the_cors_headers(
    flask_enforced: Served, case: Refusal
) -> None:
    reply = check_refusal(flask_enforced, case, [("Origin", PAGE)])
    assert reply.get("access-control-allow-origin") == PAGE


@pytest.mark.parametrize("path", ["/items/1", "/unruled"])
def test_a_preflight_is_never_refused(flask_enforced: Served, path: str) -> None:
    before = flask_enforced.calls.total()
    reply = fetch(
        flask_enforced.port,
        path,
        method="OPTIONS",
        headers=[("Origin", PAGE), ("Access-Control-Request-Method", "POST")],
    )
    assert reply.status in (200, 204)
    assert reply.get("access-control-allow-origin") == PAGE
    assert reply.get("www-authenticate") is None
    assert flask_enforced.calls.total() == before


def test_a_token_the_view_refuses_after_admission_is_said_to_be_valid(
    flask_enforced: Served,
) -> None:
    sent = token(sub=next(iter(REVOKED)))
    before = flask_enforced.calls["me"]
    reply = fetch(flask_enforced.port, "/me", headers=bearer(sent))
    assert_refused(
        reply,
        status=401,
        reason="credentials_invalid",
        problem="valid_token_refused",
        error="invalid_token",
        log=flask_enforced.log,
        sent=(sent,),
    )
    assert flask_enforced.calls["me"] == before + 1


def test_report_only_lets_the_view_answer() -> None:
    calls = Calls()
    log = CapturingLogger()
    app = flask_app(calls)
    app.wsgi_app = AuthHygieneWSGI(app.wsgi_app, **enforce_options(log, report_only=True))  # type: ignore[method-assign]
    with WerkzeugThread(app) as server:
        reply = fetch(server.port, "/unruled", headers=bearer("opaque-token-not-a-jwt-0003"))
    assert (reply.status, reply.json()) == (200, {"no": "rule"})
    assert calls["unruled"] == 1
    assert [(c.args[0], c.kwargs["reason"]) for c in log.calls] == [
        ("auth.report_only", "credentials_invalid")
    ]


# --- API keys and Basic -------------------------------------------------------------------

API_KEY = secrets.token_urlsafe(24)
PASSWORD = "correct horse battery staple"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _whoami(calls: Calls) -> Flask:
    app = Flask(__name__)

    @app.get("/data")
    def data() -> Any:
        calls.add("data")
        return identity_json(flask_request.environ[IDENTITY_KEY])

    return app


@pytest.fixture(scope="module")
def api_key_served() -> Iterator[Served]:
    calls = Calls()
    server, log = _serve(
        _whoami(calls), mode="enforce", verify=APIKey(keys={"billing-service": API_KEY})
    )
    with server:
        yield Served(server.port, calls, log)


@pytest.fixture(scope="module")
def basic_served() -> Iterator[Served]:
    calls = Calls()
    users = {"alice": Basic.hash_password(PASSWORD, n=2**10)}
    server, log = _serve(_whoami(calls), mode="enforce", verify=Basic(users=users))
    with server:
        yield Served(server.port, calls, log)


def test_an_api_key_admits_its_owner(api_key_served: Served) -> None:
    reply = fetch(api_key_served.port, "/data", headers=[("X-API-Key", API_KEY)])
    assert reply.status == 200
    assert reply.json()["subject"] == "billing-service"
    assert reply.json()["scheme"] == "ApiKey"
    assert_absent([API_KEY], reply.wire_text)


# (headers, status, reason, problem, RFC 6750 error)
API_KEY_REFUSALS = [
    pytest.param([], 401, "credentials_missing", None, None, id="missing"),
    pytest.param(
        [("X-API-Key", "wrong-key-" + "0" * 20)],
        401,
        "credentials_invalid",
        "api_key_unknown",
        None,
        id="unknown-key",
    ),
    pytest.param(
        [("X-API-Key", "k")], 401, "credentials_invalid", "api_key_unknown", None, id="short-key"
    ),
    pytest.param(
        [("Authorization", "Token " + "t" * 24)],
        401,
        "scheme_not_accepted",
        None,
        None,
        id="another-scheme",
    ),
]


@pytest.mark.parametrize(("headers", "status", "reason", "problem", "error"), API_KEY_REFUSALS)
def test_api_key_refusals(
    api_key_served: Served,
    headers: list[tuple[str, str]],
    status: int,
    reason: str,
    problem: str | None,
    error: str | None,
) -> None:
    before = api_key_served.calls.total()
    reply = fetch(api_key_served.port, "/data", headers=headers)
    sent = tuple(value.split()[-1] for _, value in headers)
    assert_refused(
        reply,
        status=status,
        reason=reason,
        problem=problem,
        error=error,
        log=api_key_served.log,
        sent=sent,
    )
    assert api_key_served.calls.total() == before


def test_a_missing_api_key_is_asked_for_in_its_header(api_key_served: Served) -> None:
    reply = fetch(api_key_served.port, "/data")
    body = assert_refused(reply, status=401, reason="credentials_missing")
    assert "Bearer" not in f"{body['detail']} {body['hint']}"
    assert "X-API-Key" in f"{body['detail']} {body['hint']}"
    # Following the answer as given: the valid key, as a Bearer token.
    followed = fetch(api_key_served.port, "/data", headers=bearer(API_KEY))
    assert followed.status != 401 or followed.json()["reason"] != "credentials_invalid"


def test_a_basic_pair_admits_its_user(basic_served: Served) -> None:
    reply = fetch(
        basic_served.port, "/data", headers=[("Authorization", _basic("alice", PASSWORD))]
    )
    assert reply.status == 200
    assert reply.json()["subject"] == "alice"
    assert reply.json()["scheme"] == "Basic"


BASIC_REFUSALS = [
    pytest.param([], 401, "credentials_missing", None, None, id="missing"),
    pytest.param(
        [("Authorization", _basic("alice", "not-the-password"))],
        401,
        "credentials_invalid",
        "wrong_user_or_password",
        None,
        id="wrong-password",
    ),
    pytest.param(
        [("Authorization", _basic("mallory", PASSWORD))],
        401,
        "credentials_invalid",
        "wrong_user_or_password",
        None,
        id="unknown-user",
    ),
    pytest.param(
        [("Authorization", "Basic !!not-base64!!")],
        400,
        "credentials_malformed",
        "basic_not_base64",
        None,
        id="not-base64",
    ),
    pytest.param(
        [("Authorization", "Bearer " + "t" * 24)],
        401,
        "scheme_not_accepted",
        None,
        None,
        id="bearer-to-basic",
    ),
]


@pytest.mark.parametrize(("headers", "status", "reason", "problem", "error"), BASIC_REFUSALS)
def test_basic_refusals(
    basic_served: Served,
    headers: list[tuple[str, str]],
    status: int,
    reason: str,
    problem: str | None,
    error: str | None,
) -> None:
    before = basic_served.calls.total()
    reply = fetch(basic_served.port, "/data", headers=headers)
    sent = tuple(value.split()[-1] for _, value in headers)
    assert_refused(
        reply,
        status=status,
        reason=reason,
        problem=problem,
        error=error,
        log=basic_served.log,
        sent=(*sent, PASSWORD),
    )
    if status == 401:
        (challenge,) = reply.get_all("www-authenticate")
        assert challenge.startswith("Basic ")
    assert basic_served.calls.total() == before


# --- found by these tests --------------------------------------------------------------------


def test_a_non_ascii_route_is_protected_by_its_rule() -> None:
    calls = Calls()
    app = Flask(__name__)

    @app.get("/café/<order>")
    def order(order: str) -> Any:
        calls.add("order")
        return {"order": order}

    rules = [("*", "/café/*", Scopes("orders:read")), ("GET", "/*", None)]
    server, _ = _serve(app, **{**enforce_options(CapturingLogger()), "require": rules})
    with server:
        reply = fetch(server.port, "/caf%C3%A9/7")
    assert calls["order"] == 0, reply.body
    assert reply.status == 401


def test_a_rule_for_head_alone_matches_head() -> None:
    assert compile_requirements([("HEAD", "/ping", None)]).match("HEAD", "/ping") is not None
    calls = Calls()
    app = Flask(__name__)

    @app.route("/ping", methods=["GET", "HEAD"])
    def ping() -> Any:
        calls.add("ping")
        return ""

    rules = [("HEAD", "/ping", None)]
    server, _ = _serve(app, **{**enforce_options(CapturingLogger()), "require": rules})
    with server:
        reply = fetch(server.port, "/ping", method="HEAD")
    assert reply.status == 200
