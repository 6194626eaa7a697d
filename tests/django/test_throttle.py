"""`throttle=` in a Django project: `settings.AUTHHYGIENE["throttle"]` as a
dict of options (as settings hold them) or a `Throttle`, through the
middleware's sync path (`Client`) and its async path (`AsyncClient`, the
storage awaited). The view is the project's own, which answers a wrong
token 401; the throttle counts it and then refuses before the view."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings
from structlog.testing import CapturingLogger

from authhygiene.throttle import Throttle
from tests.django.conftest import Secret, bearer, events, fetch
from tests.redis_server import RedisServer, running_redis

KINDS = ["sync", "async"]


def _statuses(kind: str, token: str, times: int, client: str = "192.0.2.1") -> list[int]:
    return [
        fetch(kind, "/api/items", headers=bearer(token), REMOTE_ADDR=client)[0].status_code
        for _ in range(times)
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "throttle",
    [
        {"per_credential": "2/minute", "per_client": "50/minute"},
        Throttle(per_credential="2/minute", per_client="50/minute"),
    ],
    ids=["dict", "Throttle"],
)
def test_a_wrong_token_gets_its_tries_then_429_before_the_view(
    kind: str,
    throttle: Any,
    options: dict[str, Any],
    log: CapturingLogger,
    bad_token: Secret,
    good_token: Secret,
) -> None:
    with override_settings(AUTHHYGIENE={**options, "throttle": throttle}):
        assert _statuses(kind, bad_token, 4) == [401, 401, 429, 429]
        response, body = fetch(
            kind, "/api/items", headers=bearer(bad_token), REMOTE_ADDR="192.0.2.1"
        )
        assert response["RateLimit-Policy"] == '"failures-per-credential";q=2;w=60'
        assert response["Cache-Control"] == "no-store"
        assert b"too_many_failures" in body
        assert _statuses(kind, good_token, 1) == [200]
    assert len(events(log, "auth.failure")) == 2
    assert len(events(log, "auth.throttled")) == 3


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.needs("redis-server")
def test_the_fleet_counts_in_redis(kind: str, options: dict[str, Any], bad_token: Secret) -> None:
    server: RedisServer
    with running_redis() as server:
        throttle = {"per_credential": "3/minute", "storage": server.url, "key_prefix": kind}
        with override_settings(AUTHHYGIENE={**options, "throttle": throttle}):
            assert _statuses(kind, bad_token, 5) == [401, 401, 401, 429, 429]
        assert server.command_calls().get("evalsha", 0) >= 3  # one per failure counted


def test_a_bad_throttle_setting_is_refused_at_start_up(options: dict[str, Any]) -> None:
    for throttle, said in [
        ({"per_credential": "5/fortnight"}, "per_credential"),
        ({"storage": "http://cache"}, "storage"),
        ({"per_minute": 5}, "per_minute"),
    ]:
        with override_settings(AUTHHYGIENE={**options, "throttle": throttle}):
            with pytest.raises(ImproperlyConfigured) as raised:
                fetch("sync", "/api/items")
            assert said in str(raised.value)
