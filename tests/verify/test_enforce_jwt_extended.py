"""Flask-JWT-Extended (its "Basic Usage", blocklist and user loading, as
`tests/stacks` builds it) under werkzeug with enforce mode in front: the
middleware refuses what its keys refuse before the app's own decorator
runs, and what it admits the app may still refuse for its own reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from authhygiene import AuthHygieneWSGI
from authhygiene.verify import JWT
from tests.e2e.servers import WerkzeugThread, fetch
from tests.stacks.flask_apps import jwt_extended_app
from tests.stacks.tokens import AUDIENCE, ISSUER, SIGNING_KEY, minted


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    app = jwt_extended_app()
    verify = JWT(algorithms=["HS256"], keys=SIGNING_KEY, audience=AUDIENCE, issuer=ISSUER)
    app.wsgi_app = AuthHygieneWSGI(  # type: ignore[method-assign]
        app.wsgi_app, realm="api", mode="enforce", verify=verify
    )
    with WerkzeugThread(app) as server:
        yield server.port


@pytest.mark.parametrize(
    ("name", "status", "reason", "problem"),
    [
        ("valid", 200, None, None),
        ("expired1h", 401, "token_expired", None),
        ("badsig", 401, "token_signature_invalid", None),
        # Within the verifier's 60 s leeway; the app allows none, and says so.
        ("nbf30", 401, "token_not_yet_valid", None),
        ("garbage", 401, "credentials_invalid", "not_a_jwt"),
        ("alg_none", 401, "token_algorithm_rejected", None),
        ("wrong_aud", 401, "token_audience_mismatch", None),
        # Admitted by the keys, refused by the app for its own reasons.
        ("revoked", 401, "token_revoked", None),
        ("deleted_user", 401, "credentials_invalid", "valid_token_refused"),
    ],
)
def test_flask_jwt_extended_behind_enforce_mode(
    port: int, name: str, status: int, reason: str | None, problem: str | None
) -> None:
    reply = fetch(port, "/protected", headers=[("Authorization", f"Bearer {minted()[name]}")])

    assert reply.status == status
    body = json.loads(reply.body)
    if status == 200:
        assert body == {"logged_in_as": "stacks-user"}
        return
    assert (body["reason"], body.get("problem")) == (reason, problem)
    assert reply.get("Cache-Control") == "no-store"
