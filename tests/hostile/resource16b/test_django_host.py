"""A Django project (ALLOWED_HOSTS, SECURE_PROXY_SSL_HEADER,
USE_X_FORWARDED_HOST, a DRF view at /mcp/) under gunicorn and uvicorn.

The metadata document and the challenge's resource_metadata name the URL
Django itself would build (`request.get_host()`, `request.scheme`): a Host
Django refuses gets Django's 400, never a cacheable document naming it;
behind a TLS proxy the public host, never the backend's address. Found by
the second attack on issue 16.
"""

from __future__ import annotations

import json

import pytest

from tests.hostile.resource16b.djserver import django_server, request

WK = "/.well-known/oauth-protected-resource/mcp"
PROXIED = {"X-Forwarded-Host": "api.example.com", "X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with django_server(request.param, tmp_path_factory.mktemp("dj")) as (port, _):
        yield port


def test_a_host_django_refuses_gets_no_document_naming_it(port: int) -> None:
    status, _, _ = request(port, "/mcp/", headers={"Host": "evil.example"})
    assert status == 400  # Django's DisallowedHost, the control
    status, headers, body = request(port, WK, headers={"Host": "evil.example"})
    assert b"evil.example" not in body, (status, headers.get("cache-control"), body)
    assert status == 400


def test_the_document_names_the_url_django_builds_behind_its_proxy(port: int) -> None:
    _, _, page = request(port, "/mcp/plain", headers=PROXIED)
    assert json.loads(page)["uri"] == "https://api.example.com/mcp/plain"  # Django's view
    _, _, body = request(port, WK, headers=PROXIED)
    assert json.loads(body)["resource"] == "https://api.example.com/mcp"


def test_the_challenge_points_to_the_document_django_would_name(port: int) -> None:
    status, headers, _ = request(port, "/mcp/", headers=PROXIED)
    assert status == 401
    assert (
        'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"'
        in headers["www-authenticate"]
    ), headers["www-authenticate"]
