"""Enforce mode (`mode="enforce"`) under uvicorn, as FastAPI and Starlette
users write their apps: the routes read `request.user`, `request.auth` and
Starlette's `@requires`; every refusal is answered before the app runs (the
app counts its own calls), with the reason, challenge and headers of the
one refusal path; `report_only=True` changes nothing on the wire; and with
`JWT(jwks_url=...)` the keys come from a real JWKS server that rotates its
keys and goes away."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.authentication import requires
from structlog.testing import CapturingLogger

import authhygiene._enforcement as enforcement_step
from authhygiene import AuthHygiene
from authhygiene.verify import JWT
from tests.e2e.servers import Reply, UvicornThread, assert_absent, fetch
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
    expired,
    fastapi_app,
    starlette_app,
    token,
)
from tests.verify.jwks_server import JwksServer, SigningKey, signing_keys


@pytest.fixture(scope="module")
def fastapi_enforced() -> Iterator[Served]:
    calls, log = Calls(), CapturingLogger()
    app = AuthHygiene(fastapi_app(calls), **enforce_options(log, cors=cors()))
    with UvicornThread(app) as server:
        yield Served(server.port, calls, log)


@pytest.fixture(scope="module")
def fastapi_report_only() -> Iterator[Served]:
    calls, log = Calls(), CapturingLogger()
    app = AuthHygiene(fastapi_app(calls), **enforce_options(log, report_only=True))
    with UvicornThread(app) as server:
        yield Served(server.port, calls, log)


# --- admitted: the identity as the app reads it -----------------------------------


def test_an_admitted_request_hands_the_app_its_identity(fastapi_enforced: Served) -> None:
    sent = token(scope="items:read items:extra", sub="user-7")
    before = fastapi_enforced.calls["read_item"]
    reply = fetch(fastapi_enforced.port, "/items/42", headers=bearer(sent))
    assert reply.status == 200
    assert reply.json() == {
        "item": "42",
        "subject": "user-7",
        "display_name": "user-7",
        "authenticated": True,
        "scopes": ["items:read", "items:extra"],
        "scheme": "Bearer",
        "iss": "https://issuer.example",
        "auth_scopes": ["items:read", "items:extra"],
    }
    assert fastapi_enforced.calls["read_item"] == before + 1
    assert_absent([sent], reply.wire_text)


def test_a_head_is_admitted_as_its_get(fastapi_enforced: Served) -> None:
    reply = fetch(fastapi_enforced.port, "/items/1", method="HEAD", headers=bearer(token()))
    assert (reply.status, reply.body) == (200, b"")


def test_a_public_route_needs_no_credential(fastapi_enforced: Served) -> None:
    reply = fetch(fastapi_enforced.port, "/health")
    assert (reply.status, reply.json()) == (200, {"status": "ok"})


# Starlette's own `@requires` reads our `scope["auth"]`.
REQUIRES = [
    pytest.param("reports:read", 200, id="scope-held"),
    pytest.param("items:read", 403, id="scope-lacking"),
]


@pytest.mark.parametrize(("scope", "status"), REQUIRES)
def test_starlettes_requires_reads_our_auth(
    fastapi_enforced: Served, scope: str, status: int
) -> None:
    sent = token(scope=scope)
    before = fastapi_enforced.calls["reports"]
    reply = fetch(fastapi_enforced.port, "/reports", headers=bearer(sent))
    assert reply.status == status
    if status == 200:
        assert reply.json() == {"reports": [], "subject": "user-1"}
        assert fastapi_enforced.calls["reports"] == before + 1
    else:
        # `@requires` answered 403 itself: the refusal path explains it.
        assert_refused(reply, status=403, reason="forbidden", sent=(sent,))
        assert fastapi_enforced.calls["reports"] == before


# --- refused before the app ---------------------------------------------------------


@pytest.mark.parametrize("case", REFUSALS.values())
def test_refused_before_the_app(fastapi_enforced: Served, case: Refusal) -> None:
    check_refusal(fastapi_enforced, case, [])


@pytest.mark.parametrize(
    "case", [REFUSALS[name] for name in ("missing", "expired", "scope-lacking", "no-rule-admits")]
)
def test_a_refusal_to_a_page_carries_the_cors_headers(
    fastapi_enforced: Served, case: Refusal
) -> None:
    reply = check_refusal(fastapi_enforced, case, [("Origin", PAGE)])
    assert reply.get("access-control-allow-origin") == PAGE


@pytest.mark.parametrize("path", ["/items/1", "/unruled", "/health"])
def test_a_preflight_is_never_refused(fastapi_enforced: Served, path: str) -> None:
    before = fastapi_enforced.calls.total()
    reply = fetch(
        fastapi_enforced.port,
        path,
        method="OPTIONS",
        headers=[
            ("Origin", PAGE),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
    )
    assert reply.status in (200, 204)
    assert reply.get("access-control-allow-origin") == PAGE
    assert reply.get("www-authenticate") is None
    assert fastapi_enforced.calls.total() == before


# --- admitted, then refused by the app itself ----------------------------------------


def test_a_token_the_app_refuses_after_admission_is_said_to_be_valid(
    fastapi_enforced: Served,
) -> None:
    """The app keeps a revocation list: enforce mode admits the token, the
    app answers 401, and explain mode says the token itself was valid."""
    sent = token(sub=next(iter(REVOKED)))
    before = fastapi_enforced.calls["me"]
    reply = fetch(fastapi_enforced.port, "/me", headers=bearer(sent))
    body = assert_refused(
        reply,
        status=401,
        reason="credentials_invalid",
        problem="valid_token_refused",
        error="invalid_token",
        log=fastapi_enforced.log,
        sent=(sent,),
    )
    assert "valid" in body["detail"]
    assert fastapi_enforced.calls["me"] == before + 1


# --- report-only --------------------------------------------------------------------

# (headers, the reason and status enforce mode would have answered with)
WOULD_REFUSE = [
    pytest.param(list, "credentials_missing", 401, id="missing"),
    pytest.param(expired, "token_expired", 401, id="expired"),
    pytest.param(lambda: bearer(token()), "forbidden", 403, id="no-rule-admits"),
    pytest.param(
        lambda: bearer("opaque-token-not-a-jwt-0002"), "credentials_invalid", 401, id="bad"
    ),
]


@pytest.mark.parametrize(("headers", "reason", "status"), WOULD_REFUSE)
def test_report_only_lets_the_app_answer_and_logs_what_would_have_happened(
    fastapi_report_only: Served,
    headers: Callable[[], list[tuple[str, str]]],
    reason: str,
    status: int,
) -> None:
    served = fastapi_report_only
    sent = headers()
    before = served.calls["unruled"]
    logged = len(served.log.calls)
    reply = fetch(served.port, "/unruled", headers=sent)
    assert (reply.status, reply.json()) == (200, {"no": "rule"})
    assert reply.get("www-authenticate") is None
    assert served.calls["unruled"] == before + 1
    events = [call for call in served.log.calls[logged:] if call.args]
    assert [(c.args[0], c.kwargs["reason"], c.kwargs["status"]) for c in events] == [
        ("auth.report_only", reason, status)
    ]


def test_report_only_still_hands_an_admitted_request_its_identity(
    fastapi_report_only: Served,
) -> None:
    reply = fetch(fastapi_report_only.port, "/items/3", headers=bearer(token()))
    assert reply.status == 200
    assert reply.json()["subject"] == "user-1"


# --- found by these tests --------------------------------------------------------------


def _anonymous_app() -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    def health(request: Request) -> dict[str, Any]:
        return {"authenticated": request.user.is_authenticated}

    @app.get("/reports")
    @requires("reports:read")
    async def reports(request: Request) -> dict[str, Any]:
        return {}

    @app.get("/items/{item_id}")
    def item(item_id: str, request: Request) -> dict[str, Any]:
        return {"authenticated": request.user.is_authenticated}

    return app


# (report_only, the rules, path, the status Starlette's own auth layer gives)
ANONYMOUS = [
    pytest.param(False, [("*", "/health", None)], "/health", 200, id="public-route-user"),
    pytest.param(False, [("*", "/reports", None)], "/reports", 401, id="public-route-requires"),
    pytest.param(True, None, "/items/1", 200, id="report-only-would-refuse"),
]


@pytest.mark.parametrize(("report_only", "require", "path", "status"), ANONYMOUS)
def test_an_anonymous_request_the_app_runs_for_reads_as_unauthenticated(
    report_only: bool, require: list[Any] | None, path: str, status: int
) -> None:
    log = CapturingLogger()
    options = enforce_options(log, report_only=report_only, require=require)
    with UvicornThread(AuthHygiene(_anonymous_app(), **options)) as server:
        reply = fetch(server.port, path)
    assert reply.status == status, reply.status
    if status == 200:
        assert reply.json() == {"authenticated": False}


# A valid token where no verifier reads it.
UNREAD = [
    pytest.param(lambda t: [("Cookie", f"session={t}")], id="session-cookie"),
    pytest.param(lambda t: [("X-API-Key", t)], id="api-key-header"),
]


@pytest.mark.parametrize("headers", UNREAD)
def test_a_credential_no_verifier_reads_is_not_called_rejected(
    fastapi_enforced: Served, headers: Callable[[str], list[tuple[str, str]]]
) -> None:
    sent = token()
    reply = fetch(fastapi_enforced.port, "/items/1", headers=headers(sent))
    assert reply.status == 401
    body = reply.json()
    assert body["reason"] != "credentials_invalid", body["detail"]
    assert "Authorization" in body["hint"]
    assert_absent([sent], reply.wire_text)


# --- keys from a real JWKS server ---------------------------------------------------------

JWKS_APPS = {
    "starlette": starlette_app,
    "fastapi": fastapi_app,
}


def key(kid: str) -> SigningKey:
    return signing_keys()[kid]


def signed(kid: str, **claims: Any) -> str:
    now = int(time.time())
    # iat an hour back and exp an hour ahead: valid whatever the test's clock says;
    # a jti of its own, so no answer comes from the verifier's cache of tokens.
    claims = {"sub": "user-1", "iat": now - 3600, "exp": now + 3600, **claims}
    return key(kid).sign({**claims, "jti": secrets.token_hex(8)})


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    running = JwksServer().start()
    running.rotate(key("rsa-1"), key("ec-1"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Moves the clock enforce mode verifies with (pyjwt keeps its own)."""
    offset = [0.0]
    monkeypatch.setattr(
        enforcement_step, "time", SimpleNamespace(time=lambda: time.time() + offset[0])
    )

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


def _remote_served(app_name: str, jwks_url: str) -> tuple[UvicornThread, Calls, CapturingLogger]:
    calls, log = Calls(), CapturingLogger()
    verify = JWT(algorithms=["RS256", "ES256"], jwks_url=jwks_url)
    app = AuthHygiene(
        JWKS_APPS[app_name](calls),
        realm="api",
        mode="enforce",
        verify=verify,
        logger=log,
        log_limit=None,
    )
    return UvicornThread(app), calls, log


def _me(port: int, sent: str) -> Reply:
    reply = fetch(port, "/me", headers=bearer(sent))
    assert_absent([sent], reply.wire_text)
    return reply


@pytest.mark.parametrize("app_name", sorted(JWKS_APPS))
def test_a_rotated_key_verifies_after_the_refetch(jwks: JwksServer, app_name: str) -> None:
    server, calls, log = _remote_served(app_name, jwks.url())
    with server:
        assert _me(server.port, signed("rsa-1")).status == 200
        assert jwks.requests == 1
        jwks.rotate(key("rsa-2"), key("ec-1"))  # rsa-1 retired
        reply = _me(server.port, signed("rsa-2", sub="user-2"))
        assert (reply.status, reply.json()["subject"]) == (200, "user-2")
        assert jwks.requests == 2
        assert _me(server.port, signed("ec-1")).status == 200
        retired = _me(server.port, signed("rsa-1"))
        assert_refused(
            retired, status=401, reason="token_key_unknown", error="invalid_token", log=log
        )
        assert jwks.requests == 2  # the unknown kid does not hammer the issuer
        assert calls["me"] == 3


@pytest.mark.parametrize("app_name", sorted(JWKS_APPS))
def test_no_keys_and_the_issuer_gone_is_503_with_retry_after(
    jwks: JwksServer, app_name: str
) -> None:
    url = jwks.url()
    jwks.stop()
    server, calls, log = _remote_served(app_name, url)
    with server:
        for _ in range(2):
            reply = _me(server.port, signed("rsa-1"))
            body = assert_refused(reply, status=503, reason="verifier_unavailable", log=log)
            retry_after = reply.get("retry-after")
            assert retry_after is not None
            assert retry_after.isdigit()
            assert 1 <= int(retry_after) <= 30
            assert body.get("retry_after", int(retry_after)) == int(retry_after)
    assert calls.total() == 0


@pytest.mark.parametrize("app_name", sorted(JWKS_APPS))
def test_the_issuer_gone_after_a_fetch_keeps_admitting_with_stale_keys(
    jwks: JwksServer, app_name: str, clock: Callable[[float], None]
) -> None:
    server, calls, log = _remote_served(app_name, jwks.url())
    with server:
        assert _me(server.port, signed("rsa-1")).status == 200
        jwks.stop()
        assert _me(server.port, signed("rsa-1")).status == 200  # fresh keys
        clock(400)  # past the keys' 300 s lifetime: a refetch starts, and fails
        for _ in range(3):
            assert _me(server.port, signed("rsa-1")).status == 200
        clock(3600)
        assert _me(server.port, signed("ec-1")).status == 200
        # A kid the stale keys lack is not judged while the issuer is away.
        reply = _me(server.port, signed("rsa-2"))
        assert_refused(reply, status=503, reason="verifier_unavailable", log=log)
    assert calls["me"] == 6


def test_the_issuers_trouble_is_logged_where_the_app_said(jwks: JwksServer) -> None:
    url = jwks.url()
    jwks.stop()
    server, _, log = _remote_served("starlette", url)
    with server:
        assert _me(server.port, signed("rsa-1")).status == 503
    kinds = [call.kwargs.get("kind") for call in log.calls if call.args[0] == "auth.misconfig"]
    assert "jwks_unavailable" in kinds
