"""A handshake the app closes for a reason that is not auth stays as it was.

A path with no route (Starlette's router closes it 1000), one missing a
required query parameter (FastAPI closes it 1008 with the validation
errors) and an app's own code (4429 "room full"), to an app with no auth on
its websockets: the bare server's 403, never a 401 with a challenge that
would send an OAuth client into an authorization flow for a typo. Found by
the issue-16 attack.
"""

from __future__ import annotations

import pytest

from authhygiene import AuthHygiene
from tests.hostile.resource16.apps import fastapi_app
from tests.websocket.servers import refused, served


@pytest.mark.parametrize("path", ["/no-such-route", "/chat", "/full"])
def test_a_close_that_is_no_auth_refusal_is_no_401(path: str) -> None:
    with served("uvicorn-sansio", fastapi_app()) as port:
        bare = refused(port, path)
    with served("uvicorn-sansio", AuthHygiene(fastapi_app(), realm="api")) as port:
        wrapped = refused(port, path)
    assert bare.status == 403
    assert wrapped.status != 401, wrapped.body[:200]
    assert wrapped.get("www-authenticate") is None
