"""Two smaller findings of the second attack on issue 16, now held.

1. gunicorn's own defaults (forwarded_allow_ips=127.0.0.1,
   secure_scheme_headers) set wsgi.url_scheme from a loopback client's
   header before the middleware runs: the document says so to caches
   (`Vary` on the forwarding headers).
2. A resource whose URL ends in "/" (Django's `path("mcp/", ...)`): the
   SDK's path-based discovery asks for
   `/.well-known/oauth-protected-resource/mcp/`, and is answered.
"""

from __future__ import annotations

from pathlib import Path

from authhygiene.core.credentials import RequestView
from authhygiene.core.resource import ProtectedResource, metadata_answer
from tests.e2e.servers import GunicornProcess, fetch

WK = "/.well-known/oauth-protected-resource/mcp"


def test_gunicorn_default_scheme_headers_do_not_name_the_resource(tmp_path: Path) -> None:
    with GunicornProcess(
        "tests.hostile.resource16b.combo_apps:flask_app()",
        pythonpath=Path(__file__).resolve().parents[2],
        workdir=tmp_path,
        name="proto",
    ) as server:
        reply = fetch(server.port, WK, headers=[("X-Forwarded-Proto", "https")])
    assert reply.status == 200
    resource = reply.json()["resource"]
    assert resource.startswith("http://") or reply.get("vary"), (resource, reply.get("vary"))


def test_a_resource_with_a_trailing_slash_is_described_at_its_own_well_known_url() -> None:
    resource = ProtectedResource(authorization_servers=["https://auth.example"], paths=["/mcp/"])
    view = RequestView("GET", WK + "/", "", (("host", "api.example"),), scheme="https")
    answer = metadata_answer(resource, (), view)
    assert answer is not None
    assert answer.status == 200, answer.body
