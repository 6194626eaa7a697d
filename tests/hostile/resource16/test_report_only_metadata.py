"""report_only=True changes nothing on the wire: no metadata document.

report_only is "decide everything, log what would change, change nothing
on the wire" (DESIGN.md): the well-known URL is the app's to answer (here
404), as it was without us. Found by the issue-16 attack.
"""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene import AuthHygiene, AuthHygieneWSGI, ProtectedResource
from tests.e2e.servers import UvicornThread, WerkzeugThread, fetch
from tests.hostile.resource16.apps import AS, WELL_KNOWN, fastapi_app, flask_app

RESOURCE = ProtectedResource(authorization_servers=[AS], paths=["/mcp"])


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_report_only_leaves_the_well_known_url_to_the_app(kind: str) -> None:
    def served(app: Any) -> Any:
        return UvicornThread(app) if kind == "asgi" else WerkzeugThread(app)

    bare = fastapi_app() if kind == "asgi" else flask_app()
    wrapper = AuthHygiene if kind == "asgi" else AuthHygieneWSGI
    wrapped = wrapper(
        fastapi_app() if kind == "asgi" else flask_app(),
        realm="api",
        report_only=True,
        protected_resource=RESOURCE,
    )
    with served(bare) as plain, served(wrapped) as watched:
        before = fetch(plain.port, WELL_KNOWN + "/mcp")
        after = fetch(watched.port, WELL_KNOWN + "/mcp")
    assert before.status == 404
    assert (after.status, after.body) == (before.status, before.body)
