"""The check table against stock apps, in process: FastAPI's HTTPBearer
and HTTPBasic as their users write them show their known defects; the same
apps behind the one line pass every required check."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from starlette.testclient import TestClient

from authhygiene import CORS, AuthHygiene
from authhygiene.audit import Answer, battery, judge
from authhygiene.audit.probes import MAX_PROBES

ORIGIN = "https://app.example"
TOKEN = "audit-test-token-not-a-secret-0001"


def bearer_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(
        credentials: HTTPAuthorizationCredentials = Depends(HTTPBearer()),  # noqa: B008
    ) -> dict[str, str]:
        # As FastAPI's docs check a token: compare, else 401 with the scheme.
        if not secrets.compare_digest(credentials.credentials, TOKEN):
            raise HTTPException(401, "Invalid token", headers={"WWW-Authenticate": "Bearer"})
        return {"token": "ok"}

    return app


def basic_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(credentials: HTTPBasicCredentials = Depends(HTTPBasic())) -> dict[str, str]:  # noqa: B008
        if not secrets.compare_digest(credentials.password, "not-a-secret"):
            raise HTTPException(401, "Incorrect password", headers={"WWW-Authenticate": "Basic"})
        return {"user": credentials.username}

    return app


def audit(app: Any, **options: Any) -> dict[tuple[str, str], str]:
    """Failed checks, by (check, probe): what they saw."""
    failed = {}
    with TestClient(app, raise_server_exceptions=False) as client:
        for probe in battery("/me", **options):
            response = client.request(probe.method, probe.target, headers=list(probe.headers))
            answer = Answer(response.status_code, tuple(response.headers.items()), response.content)
            for finding in judge(probe, answer):
                if not finding.passed and finding.required:
                    failed[(finding.check, finding.probe)] = finding.saw
    return failed


def test_the_battery_is_bounded() -> None:
    probes = battery("/x", token="a", expired_token="b", scopeless_token="c", origin=ORIGIN)
    assert len(probes) <= MAX_PROBES
    assert all(dict(p.headers)["User-Agent"].startswith("authhygiene-audit") for p in probes)


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        # A bare `Bearer` challenge (RFC 6750 §3 wants an auth-param; npm's
        # www-authenticate crashes on it), no error code for a bad token,
        # failures cacheable, and no CORS on a refusal or a preflight.
        (
            bearer_app,
            {
                "bearer-has-param",
                "invalid-token",
                "no-store",
                "cors-exact-origin",
                "preflight-not-refused",
            },
        ),
        # `Basic` without realm (RFC 7617 §2; urllib's retry needs it).
        (basic_app, {"basic-realm", "no-store", "cors-exact-origin", "preflight-not-refused"}),
    ],
    ids=["fastapi-httpbearer", "fastapi-httpbasic"],
)
def test_stock_apps_show_their_known_defects(app: Any, expected: set[str]) -> None:
    token = TOKEN if app is bearer_app else None
    failed = audit(app(), origin=ORIGIN, token=token)
    assert {check for check, _ in failed} == expected, failed


@pytest.mark.parametrize("app", [bearer_app, basic_app], ids=["httpbearer", "httpbasic"])
def test_the_one_line_passes_every_required_check(app: Any) -> None:
    schemes = ("Bearer",) if app is bearer_app else ("Basic",)
    wrapped = AuthHygiene(app(), realm="api", schemes=schemes, cors=CORS(allow_origins=[ORIGIN]))
    token = TOKEN if app is bearer_app else None
    assert audit(wrapped, origin=ORIGIN, token=token) == {}
