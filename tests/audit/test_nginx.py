"""`authhygiene audit` against a server that is not Python: nginx's
`auth_basic "Restricted"` location as its docs write it (nginx.py).

Checked by hand once (curl -i of each probe, nginx 1.22.1): every probe but
one is 401 text/html "401 Authorization Required" with `WWW-Authenticate:
Basic realm="Restricted"` and no Cache-Control; two Authorization headers are
nginx's own 400 "Bad Request"; the preflight is the same 401 (auth_basic
runs before anything answers OPTIONS); no CORS header anywhere; HEAD has no
body. What the checks make of that is the expectation below.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from authhygiene.audit.run import run
from tests.audit.nginx import NGINX_PASSWORD, NGINX_USER, Nginx, running_nginx
from tests.e2e.servers import fetch

pytestmark = pytest.mark.needs("nginx")

ORIGIN = "https://app.example"
PATH = "/private/"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with running_nginx(tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.mark.parametrize(
    ("origin", "failed"),
    [
        # No Cache-Control on any 401/400: the only required check nginx fails
        # for a same-origin client (its Basic challenge has a quoted realm).
        (None, {"no-store"}),
        # Cross-origin: no Access-Control-Allow-Origin on the refusal, and the
        # preflight is refused 401 like any request without credentials.
        (ORIGIN, {"no-store", "cors-exact-origin", "preflight-not-refused"}),
    ],
    ids=["same-origin", "cross-origin"],
)
def test_nginx_auth_basic_findings(nginx: Nginx, origin: str | None, failed: set[str]) -> None:
    report = run(nginx.url(PATH), origin=origin)
    assert {f.check for f in report.failed} == failed, [(f.check, f.probe) for f in report.failed]
    # Advised only: malformed credentials are 401, not 400; text/html, not problem+json.
    assert {f.check for f in report.advised} == {"malformed-is-400", "problem-json"}
    statuses = dict.fromkeys(report.statuses, 401)
    statuses["two-authorization-headers"] = 400  # nginx refuses a repeated Authorization
    assert report.statuses == statuses


def test_what_nginx_sends(nginx: Nginx) -> None:
    reply = fetch(nginx.port, PATH)
    assert reply.status == 401
    assert reply.get_all("www-authenticate") == ['Basic realm="Restricted"']
    assert reply.get("content-type") == "text/html"
    assert b"401 Authorization Required" in reply.body
    assert reply.get("cache-control") is None  # hence no-store
    assert reply.get("access-control-allow-origin") is None


@pytest.mark.parametrize(
    ("password", "status"),
    [(NGINX_PASSWORD, 200), ("wrong-pw-not-a-secret", 401)],
    ids=["right-password", "wrong-password"],
)
def test_the_location_is_really_protected(nginx: Nginx, password: str, status: int) -> None:
    basic = base64.b64encode(f"{NGINX_USER}:{password}".encode()).decode()
    reply = fetch(nginx.port, PATH, headers=[("Authorization", f"Basic {basic}")])
    assert reply.status == status


def test_nginx_is_stopped_with_its_context(tmp_path: Path) -> None:
    with running_nginx(tmp_path) as server:
        process = server.process
        assert process.poll() is None
    assert process.poll() is not None
