"""Behind a trusted proxy, a client's own `Forwarded` never names the resource.

A proxy that writes X-Forwarded-Host/-Proto (nginx, ALB, Heroku) passes any
other header on as the client wrote it: where `Forwarded` and
`X-Forwarded-*` disagree, neither is believed (as `client_address` reads
the client), and the request's own Host stands. A document computed from
forwarding headers says so to caches (`Vary`). Found by the issue-16
attack: the document named the client's `evil.example`, cacheable for an
hour.
"""

from __future__ import annotations

from typing import Any

from authhygiene import AuthHygiene, ProtectedResource
from tests.e2e.servers import UvicornThread, fetch
from tests.hostile.resource16.apps import AS, WELL_KNOWN, fastapi_app


def _app() -> Any:
    return AuthHygiene(
        fastapi_app(),
        realm="api",
        trusted_proxies=["127.0.0.1"],
        protected_resource=ProtectedResource(authorization_servers=[AS], paths=["/mcp"]),
    )


# What the proxy wrote (X-Forwarded-*), and what the client sent through it.
FROM_PROXY = [("X-Forwarded-Host", "api.example"), ("X-Forwarded-Proto", "https")]
FORGED = [("Forwarded", "host=evil.example;proto=http")]


def test_a_forwarded_header_the_proxy_passed_on_names_no_resource() -> None:
    with UvicornThread(_app(), proxy_headers=False) as server:
        document = fetch(server.port, WELL_KNOWN + "/mcp", headers=[*FROM_PROXY, *FORGED])
        challenge = fetch(server.port, "/mcp", headers=[*FROM_PROXY, *FORGED])
    assert "evil.example" not in document.body.decode(), document.body
    assert "evil.example" not in (challenge.get("www-authenticate") or "")


def test_a_document_computed_from_forwarded_headers_says_so_to_caches() -> None:
    with UvicornThread(_app(), proxy_headers=False) as server:
        document = fetch(server.port, WELL_KNOWN + "/mcp", headers=FROM_PROXY)
    assert document.json()["resource"] == "https://api.example/mcp"
    cache = document.get("cache-control") or ""
    vary = (document.get("vary") or "").lower()
    assert "public" not in cache or "x-forwarded-host" in vary or vary == "*", (cache, vary)
