"""`throttle=` through the ASGI adapter (FastAPI, HTTPBearer/HTTPBasic) and
the WSGI adapter (Flask, abort(401)), in-process, one table for both: what
is counted, what is refused before the app, what the 429 says, what is
logged once, and what the storage's failure does."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import CapturingLogger

from authhygiene import CORS
from authhygiene.testing import assert_no_secrets
from authhygiene.throttle import Throttle
from tests.redis_server import RedisServer, free_port
from tests.throttle.apps import GOOD, PASSWORD, REALM, Answer, Served, basic

KINDS = ["asgi", "wsgi"]


def served(kind: str, log: CapturingLogger, **throttle: Any) -> Served:
    options = throttle.pop("options", {})
    return Served(
        kind, {"realm": REALM, "logger": log, "throttle": Throttle(**throttle), **options}
    )


def events(log: CapturingLogger, name: str) -> list[dict[str, Any]]:
    return [dict(call.kwargs) for call in log.calls if call.args and call.args[0] == name]


def assert_too_many(answer: Answer, by: str, limit: int, window: int) -> None:
    assert answer.status == 429
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["cache-control"] == "no-store"
    retry = int(answer.headers["retry-after"])
    assert 1 <= retry <= 2 * window
    name = f'"failures-per-{by}"'
    assert answer.headers["ratelimit-policy"] == f"{name};q={limit};w={window}"
    assert answer.headers["ratelimit"] == f"{name};r=0;t={retry}"
    body = answer.json()
    assert body["reason"] == "too_many_failures"
    assert body["status"] == 429
    assert (body["limited_by"], body["limit"], body["window_seconds"]) == (by, limit, window)
    assert body["retry_after"] == retry


@pytest.fixture
def log() -> CapturingLogger:
    return CapturingLogger()


@pytest.mark.parametrize("kind", KINDS)
def test_a_credential_gets_its_limit_of_tries_then_429_before_the_app(
    kind: str, log: CapturingLogger
) -> None:
    app = served(kind, log, per_credential="3/minute", per_client="100/minute")
    answers = [app.send(authorization="Bearer wrong-token-1") for _ in range(5)]
    assert [a.status for a in answers] == [401, 401, 401, 429, 429]
    assert app.calls.count == 3  # the fourth and fifth never reached the app
    # Each counted failure says what is left of each limit (R29).
    policy = '"failures-per-client";q=100;w=60, "failures-per-credential";q=3;w=60'
    for answer, left in zip(answers[:3], (2, 1, 0), strict=True):
        assert answer.headers["ratelimit-policy"] == policy
        state = answer.headers["ratelimit"]
        assert f'"failures-per-credential";r={left};t=' in state
        assert '"failures-per-client";r=' in state
    for answer in answers[3:]:
        assert_too_many(answer, "credential", 3, 60)
    # Logged once per request: three failures, two throttled, nothing twice.
    assert len(events(log, "auth.failure")) == 3
    throttled = events(log, "auth.throttled")
    assert [e["reason"] for e in throttled] == ["too_many_failures"] * 2
    assert throttled[0]["limited_by"] == "credential"
    assert_no_secrets([a.body for a in answers] + [log.calls], ["wrong-token-1"])
    # Another credential from the same address is its own key.
    assert app.send(authorization="Bearer wrong-token-2").status == 401
    assert app.send(authorization=f"Bearer {GOOD}").status == 200


@pytest.mark.parametrize("kind", KINDS)
def test_a_client_address_is_blocked_with_any_credential_once_over(
    kind: str, log: CapturingLogger
) -> None:
    app = served(kind, log, per_client="4/minute", per_credential="100/minute")
    statuses = [app.send(authorization=f"Bearer guess-{n}").status for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    blocked = app.send(authorization=f"Bearer {GOOD}")
    assert_too_many(blocked, "client", 4, 60)
    # Someone else, elsewhere, with the same valid credential: let in.
    assert app.send(authorization=f"Bearer {GOOD}", client="198.51.100.7").status == 200
    assert app.calls.count == 5


@pytest.mark.parametrize("kind", KINDS)
def test_successes_are_never_counted(kind: str, log: CapturingLogger) -> None:
    app = served(kind, log, per_client="2/minute", per_credential="2/minute")
    for _ in range(20):
        assert app.send(authorization=f"Bearer {GOOD}").status == 200
    assert [app.send(authorization="Bearer nope").status for _ in range(3)] == [401, 401, 429]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("count_anonymous", "expected"), [(False, [401] * 4), (True, [401, 401, 429, 429])]
)
def test_requests_without_credentials_count_by_address_unless_told_not_to(
    kind: str, log: CapturingLogger, count_anonymous: bool, expected: list[int]
) -> None:
    app = served(kind, log, per_client="2/minute", count_anonymous=count_anonymous)
    assert [app.send().status for _ in range(4)] == expected


@pytest.mark.parametrize("kind", KINDS)
def test_basic_is_counted_per_user_whatever_the_password(kind: str, log: CapturingLogger) -> None:
    app = served(kind, log, per_credential="3/minute", per_client="100/minute")
    statuses = [app.send("/me", basic("alice", f"guess-{n}")).status for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    # alice's own right password is refused too while the window holds...
    assert app.send("/me", basic("alice", PASSWORD)).status == 429
    # ...and bob is not alice.
    assert app.send("/me", basic("bob", PASSWORD)).status == 200
    secrets = [f"guess-{n}" for n in range(4)] + [PASSWORD]
    assert_no_secrets([log.calls], secrets)


@pytest.mark.parametrize("kind", KINDS)
def test_shadow_mode_counts_and_says_what_it_would_refuse(kind: str, log: CapturingLogger) -> None:
    app = served(kind, log, per_credential="2/minute", mode="shadow")
    statuses = [app.send(authorization="Bearer shadowed").status for _ in range(6)]
    assert statuses == [401] * 6
    assert app.calls.count == 6
    shadow = events(log, "auth.throttle.shadow")
    assert len(shadow) == 1  # once per block, however many requests it would refuse
    assert shadow[0]["would_status"] == 429
    assert shadow[0]["limited_by"] == "credential"
    assert not events(log, "auth.throttled")


@pytest.mark.parametrize("kind", KINDS)
def test_report_only_never_refuses(kind: str, log: CapturingLogger) -> None:
    app = served(kind, log, per_credential="2/minute", options={"report_only": True})
    assert [app.send(authorization="Bearer x").status for _ in range(5)] == [401] * 5


@pytest.mark.parametrize("kind", KINDS)
def test_a_blocked_client_still_gets_its_preflight_and_cors_on_the_429(
    kind: str, log: CapturingLogger
) -> None:
    origin = "https://app.example"
    app = served(
        kind,
        log,
        per_client="2/minute",
        options={"cors": CORS(allow_origins=[origin], allow_credentials=True)},
    )
    for _ in range(2):
        app.send(authorization="Bearer x", headers={"Origin": origin})
    refused = app.send(authorization="Bearer x", headers={"Origin": origin})
    assert refused.status == 429
    assert refused.headers["access-control-allow-origin"] == origin
    assert refused.headers["access-control-allow-credentials"] == "true"
    exposed = {
        n.strip().lower() for n in refused.headers["access-control-expose-headers"].split(",")
    }
    assert {"retry-after", "ratelimit", "ratelimit-policy", "www-authenticate"} <= exposed
    preflight = app.send(
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status in (200, 204)


@pytest.mark.parametrize("kind", KINDS)
def test_a_head_request_gets_the_429_without_a_body(kind: str, log: CapturingLogger) -> None:
    app = served(kind, log, per_credential="1/minute")
    app.send(authorization="Bearer x")
    head = app.send(authorization="Bearer x", method="HEAD")
    assert head.status == 429
    assert head.body == b""
    assert int(head.headers["content-length"]) > 0


# --- the storage failing ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("on_error", "statuses"), [("open", [401, 401, 401, 200]), ("closed", [503, 503, 503, 200])]
)
def test_a_redis_that_is_down_opens_or_closes_but_never_500s(
    kind: str, log: CapturingLogger, on_error: str, statuses: list[int]
) -> None:
    url = f"redis://:secret-redis-password@127.0.0.1:{free_port()}/0"
    app = served(kind, log, per_credential="1/minute", storage=url, on_storage_error=on_error)
    answers = [app.send(authorization="Bearer x") for _ in range(3)]
    answers.append(app.send(authorization=f"Bearer {GOOD}"))
    assert [a.status for a in answers] == statuses
    if on_error == "closed":
        body = answers[0].json()
        assert body["reason"] == "throttle_unavailable"
        assert int(answers[0].headers["retry-after"]) >= 1
    misconfig = [
        e for e in events(log, "auth.misconfig") if e["kind"] == "throttle_storage_unavailable"
    ]
    assert len(misconfig) == 1  # once a minute, not once per failure
    assert misconfig[0]["on_storage_error"] == on_error
    assert_no_secrets([log.calls] + [a.body for a in answers], ["secret-redis-password"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.needs("redis-server")
def test_redis_counts_for_the_fleet_and_resumes_after_a_restart(
    kind: str, log: CapturingLogger, redis_server: RedisServer
) -> None:
    one = served(kind, log, per_credential="3/minute", storage=redis_server.url, key_prefix=kind)
    two = served(kind, log, per_credential="3/minute", storage=redis_server.url, key_prefix=kind)
    # Two workers of one fleet: the failures add up across them.
    assert [w.send(authorization="Bearer fleet").status for w in (one, two, one)] == [401] * 3
    assert two.send(authorization="Bearer fleet").status == 429
    assert one.send(authorization="Bearer fleet").status == 429
    redis_server.kill()
    assert one.send(authorization="Bearer during").status == 401  # open: served as usual
    redis_server.start()
    statuses: list[int] = []
    for _ in range(50):  # the breaker lets Redis be asked again within a second
        statuses.append(one.send(authorization="Bearer after").status)
        if statuses[-1] == 429:
            break
        _pause(0.05)
    assert statuses[-1] == 429
    assert statuses.count(401) >= 3


def _pause(seconds: float) -> None:
    import time

    time.sleep(seconds)


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.mark.parametrize("kind", KINDS)
def test_prometheus_counts_the_429s_and_the_blocks(kind: str, log: CapturingLogger) -> None:
    refused = ("authhygiene_failures_total", {"reason": "too_many_failures", "status": "429"})
    blocked = ("authhygiene_throttle_events_total", {"event": "blocked", "limited_by": "client"})
    before = [
        _sample(name, **labels, **({"scheme": "Bearer"} if "reason" in labels else {}))
        for name, labels in (refused, blocked)
    ]
    app = served(kind, log, per_client="2/minute", per_credential=None)
    statuses = [app.send(authorization=f"Bearer m{n}").status for n in range(4)]
    assert statuses == [401, 401, 429, 429]
    after = [
        _sample(name, **labels, **({"scheme": "Bearer"} if "reason" in labels else {}))
        for name, labels in (refused, blocked)
    ]
    assert after[0] - before[0] == 2
    assert after[1] - before[1] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_shadow_event_bounds_and_scrubs_the_client_it_names(
    kind: str, log: CapturingLogger
) -> None:
    """A peer a proxy-header middleware filled from X-Forwarded-For leaves
    the log bounded, and without the request's credential in it."""
    app = served(kind, log, per_client="2/minute", per_credential=None, mode="shadow")
    token = "shadowed-token-0123456789abcdef"
    peer = "SECRETXFF-" + "Z" * 5000 + token
    for _ in range(4):
        assert app.send(authorization=f"Bearer {token}", client=peer).status == 401
    (shadow,) = events(log, "auth.throttle.shadow")
    assert len(shadow["client"]) <= 64 + 3
    assert_no_secrets([shadow], [token])
