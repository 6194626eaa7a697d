"""`protected_resource` and `profile` in a Django project, as settings hold
them (a dict), through the middleware's sync and async paths: the metadata
document served before the views (whatever their auth says), the 401
pointing to it with Django's own idea of the scheme
(`SECURE_PROXY_SSL_HEADER`), and the profile's refusals before the view."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings
from werkzeug.datastructures import WWWAuthenticate

from tests.django.conftest import Secret, bearer, fetch

KINDS = ["sync", "async"]
WELL_KNOWN = "/.well-known/oauth-protected-resource"
RESOURCE = {
    "authorization_servers": ["https://auth.example"],
    "scopes_supported": ["items:read"],
    "paths": {"/api": ["items:read"]},
}


@pytest.fixture
def mcp(options: dict[str, Any]) -> dict[str, Any]:
    return {
        **options,
        "protected_resource": RESOURCE,
        "profile": "mcp",
        "cors": {"allow_origins": ["https://app.example"]},
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", [WELL_KNOWN + "/api", WELL_KNOWN])
def test_the_document_is_served_before_the_views(
    kind: str, path: str, mcp: dict[str, Any], bad_token: Secret
) -> None:
    with override_settings(AUTHHYGIENE=mcp):
        response, body = fetch(kind, path, headers=bearer(bad_token))
    assert response.status_code == 200
    assert json.loads(body) == {
        "resource": "http://testserver/api",
        "authorization_servers": ["https://auth.example"],
        "scopes_supported": ["items:read"],
        "bearer_methods_supported": ["header"],
    }
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("extra", "scheme"),
    [({}, "http"), ({"X-Forwarded-Proto": "https"}, "https")],
    ids=["plain", "behind-tls-proxy"],
)
def test_the_401_points_to_the_document(
    kind: str, extra: dict[str, str], scheme: str, mcp: dict[str, Any]
) -> None:
    with override_settings(
        AUTHHYGIENE=mcp, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
    ):
        # A real server always has a Host field; the sync test client sends none.
        host = {"Host": "testserver"} if kind == "sync" else {}
        response, _ = fetch(kind, "/api/items", headers={**host, **extra})
    assert response.status_code == 401
    challenge = WWWAuthenticate.from_header(response["WWW-Authenticate"])
    assert challenge is not None
    assert challenge.parameters["scope"] == "items:read"
    assert challenge.parameters["resource_metadata"] == f"{scheme}://testserver{WELL_KNOWN}/api"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("path", "headers", "status", "reason"),
    [
        ("/api/items?access_token=in-the-url-0001", {}, 400, "token_in_query"),
        ("/api/items", {"Origin": "https://evil.example"}, 403, "origin_not_allowed"),
    ],
)
def test_the_profile_refuses_before_the_view(
    kind: str,
    path: str,
    headers: dict[str, str],
    status: int,
    reason: str,
    mcp: dict[str, Any],
) -> None:
    with override_settings(AUTHHYGIENE=mcp):
        response, body = fetch(kind, path, headers=headers)
    assert response.status_code == status
    assert json.loads(body)["reason"] == reason
    assert b"in-the-url-0001" not in body


def test_a_profile_without_its_resource_is_refused_at_start_up(options: dict[str, Any]) -> None:
    with (
        override_settings(AUTHHYGIENE={**options, "profile": "mcp"}),
        pytest.raises(ImproperlyConfigured, match="needs protected_resource"),
    ):
        fetch("sync", "/api/items")
