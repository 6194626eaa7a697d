"""`RemoteKeys` against a real JWKS server (`jwks_server`): uvicorn on
127.0.0.1, keys made at test time, tokens signed and verified with pyjwt.

Time is the `now` each call is given, so a test moves it at will; only the
network is real. A slow server is a held answer the test releases, never a
sleep. Each test counts the requests the server saw.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import jwt
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authhygiene.core.reasons import Reason
from authhygiene.core.verdict import Rejected
from authhygiene.verify.jwks import RemoteKeys, _Failure, _Flight, _lifetime, _read_jwks
from authhygiene.verify.keys import KeySource, PreparedKey, usable_keys
from tests import leaks
from tests.verify.jwks_server import JwksServer, SigningKey, signing_keys

NOW = 1_700_000_000.0
ALGORITHMS = ["RS256", "ES256"]
CLAIMS = {"sub": "user-1", "iss": "https://issuer.example", "exp": 4_000_000_000}
# A bound on how long any real-network step of a test may take.
BOUND_S = 10.0

T = TypeVar("T")


def key(kid: str) -> SigningKey:
    return signing_keys()[kid]


class Events:
    """A logger that keeps what it is given, as whole event dicts."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def _log(self, level: str) -> Callable[..., None]:
        def log(event: str, **fields: object) -> None:
            self.events.append({"event": event, "log_level": level, **fields})

        return log

    def __getattr__(self, level: str) -> Callable[..., None]:
        return self._log(level)


@pytest.fixture
def server() -> Iterator[JwksServer]:
    running = JwksServer().start()
    running.rotate(key("rsa-1"), key("ec-1"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def make(server: JwksServer, events: Events) -> Iterator[Callable[..., RemoteKeys]]:
    """`make(**options)`: a RemoteKeys on the server, logging to `events`;
    every fetch it started has ended when the test is over."""
    made: list[RemoteKeys] = []

    def build(url: str | None = None, **options: Any) -> RemoteKeys:
        remote = RemoteKeys(url or server.url(), ALGORITHMS, **options)
        remote.use_logger(events)
        made.append(remote)
        return remote

    yield build
    server.release()
    for remote in made:
        settle(remote)


def settle(remote: RemoteKeys) -> None:
    """Wait until the fetch in flight, if any, has landed (and logged)."""
    flight = remote._flight
    if flight is not None:
        assert flight.done.wait(BOUND_S), "a fetch did not end"


def finishes(call: Callable[[], T], within: float = BOUND_S) -> T:
    """`call()`, made in another thread: it must return while the test's
    own thread still holds whatever it holds (a lock, a held answer)."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), "the call blocked"
    return results[0]


def kids(found: list[PreparedKey] | Rejected) -> list[str | None]:
    assert isinstance(found, list), found
    return [prepared.kid for prepared in found]


def verified(signer: SigningKey, found: list[PreparedKey] | Rejected) -> dict[str, Any]:
    """pyjwt verifies a token of `signer` with the first key found."""
    assert isinstance(found, list), found
    token = signer.sign(CLAIMS)
    return jwt.decode(token, found[0].keys[signer.alg], algorithms=[signer.alg])


def misconfig(events: Events) -> list[dict[str, object]]:
    return [event for event in events.events if event["event"] == "auth.misconfig"]


def test_is_a_key_source(make: Callable[..., RemoteKeys]) -> None:
    source: KeySource = make()
    assert repr(source).startswith("RemoteKeys('http://127.0.0.1:")


# --- fetching, and not fetching ---------------------------------------------------


def test_first_use_fetches_with_a_clear_request(
    server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    assert remote.needs_fetch("rsa-1", NOW)
    assert kids(remote.candidates("RS256", "rsa-1", NOW)) == ["rsa-1"]
    assert server.requests == 1
    assert server.last_headers["accept"] == "application/json"
    assert server.last_headers["user-agent"].startswith("authhygiene")
    assert not remote.needs_fetch("rsa-1", NOW)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_tokens_verify_with_the_keys_found(
    kid: str, server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    signer = key(kid)
    found = make().candidates(signer.alg, signer.kid, NOW)
    assert verified(signer, found)["sub"] == "user-1"


def test_a_known_kid_never_refetches(server: JwksServer, make: Callable[..., RemoteKeys]) -> None:
    remote = make()
    for offset in (0, 1, 100, 299):
        for alg, kid in (("RS256", "rsa-1"), ("ES256", "ec-1"), ("RS256", None), ("RS256", 7)):
            assert not isinstance(remote.candidates(alg, kid, NOW + offset), Rejected)
            assert not remote.needs_fetch(kid, NOW + offset)
    assert server.requests == 1


def test_an_unknown_kid_refetches_once_per_cooldown(
    server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    remote.candidates("RS256", "rsa-1", NOW)
    assert remote.needs_fetch("forged", NOW)
    assert remote.candidates("RS256", "forged", NOW) == Rejected(
        Reason.TOKEN_KEY_UNKNOWN, {"kid": "forged"}
    )
    assert server.requests == 2
    # Another unknown kid within the cooldown: answered from the keys at hand.
    assert not remote.needs_fetch("other", NOW + 29)
    assert remote.candidates("RS256", "other", NOW + 29) == Rejected(
        Reason.TOKEN_KEY_UNKNOWN, {"kid": "other"}
    )
    assert server.requests == 2
    assert remote.needs_fetch("other", NOW + 30)
    remote.candidates("RS256", "other", NOW + 30)
    assert server.requests == 3


def test_rotation_a_new_kid_verifies_after_the_refetch(
    server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    assert verified(key("rsa-1"), remote.candidates("RS256", "rsa-1", NOW))
    server.rotate(key("rsa-2"), key("ec-1"))  # rsa-1 retired
    new = remote.candidates("RS256", "rsa-2", NOW + 5)
    assert verified(key("rsa-2"), new)["sub"] == "user-1"
    assert server.requests == 2
    # The retired key is gone with the old snapshot.
    assert remote.candidates("RS256", "rsa-1", NOW + 6) == Rejected(
        Reason.TOKEN_KEY_UNKNOWN, {"kid": "rsa-1"}
    )
    assert server.requests == 2


# --- lifetimes ------------------------------------------------------------------


LIFETIMES = [
    pytest.param("max-age=1", {}, 300, id="short-raised-to-min"),
    pytest.param("max-age=1000000000", {}, 86_400, id="huge-cut-to-max"),
    pytest.param(None, {}, 300, id="none-is-min"),
    pytest.param("no-store", {}, 300, id="no-store"),
    pytest.param("no-cache, max-age=3600", {}, 300, id="no-cache"),
    pytest.param("public, max-age=3600", {}, 3600, id="max-age"),
    pytest.param('max-age="3600"', {}, 3600, id="quoted"),
    pytest.param("max-age=60, s-maxage=7200", {}, 7200, id="s-maxage-first"),
    pytest.param("max-age=3600", {"Age": "600"}, 3000, id="less-age"),
    pytest.param("max-age=3600, max-age=10", {}, 3600, id="duplicate-first"),
    pytest.param("max-age=abc", {}, 300, id="garbage"),
    pytest.param("max-age=" + "9" * 5000, {}, 86_400, id="digits-past-int-limit"),
]


@pytest.mark.parametrize(("cache_control", "headers", "lifetime"), LIFETIMES)
def test_lifetime_from_cache_control(
    cache_control: str | None,
    headers: dict[str, str],
    lifetime: int,
    server: JwksServer,
    make: Callable[..., RemoteKeys],
) -> None:
    server.cache_control = cache_control
    server.headers = headers
    remote = make()
    remote.candidates("RS256", "rsa-1", NOW)
    assert kids(remote.candidates("RS256", "rsa-1", NOW + lifetime - 1)) == ["rsa-1"]
    assert server.requests == 1
    # Expired: still served at once, and refreshed behind.
    server.hold()
    found = finishes(lambda: remote.candidates("RS256", "rsa-1", NOW + lifetime))
    assert kids(found) == ["rsa-1"]
    server.wait_for_requests(2)
    server.release()
    settle(remote)
    assert kids(remote.candidates("RS256", "rsa-1", NOW + lifetime + 1)) == ["rsa-1"]
    assert server.requests == 2


@pytest.mark.parametrize(("cache_control", "headers", "lifetime"), LIFETIMES)
def test_lifetime_rule(cache_control: str | None, headers: dict[str, str], lifetime: int) -> None:
    assert _lifetime(cache_control or "", headers.get("Age", ""), 300, 86_400) == lifetime


@given(st.text(max_size=200), st.text(max_size=30))
def test_lifetime_is_always_within_bounds(cache_control: str, age: str) -> None:
    assert 300 <= _lifetime(cache_control, age, 300, 86_400) <= 86_400


# --- a sick JWKS server ---------------------------------------------------------


def _gone(server: JwksServer) -> None:
    server.stop()


SICKNESSES = [
    pytest.param(lambda s: s.fail(500), "http_500", id="500"),
    pytest.param(lambda s: s.fail(404), "http_404", id="404"),
    pytest.param(lambda s: s.html(), "not_json", id="html"),
    pytest.param(lambda s: s.raw(b"<h1>oops</h1>", "text/plain"), "not_json", id="text"),
    pytest.param(lambda s: s.raw(b'{"keys": ['), "invalid_json", id="broken-json"),
    pytest.param(lambda s: s.raw(b"[" * 100_000), "too_deep", id="deep-json"),
    pytest.param(lambda s: s.raw(b"1" * 6000), "invalid_json", id="huge-int"),
    pytest.param(lambda s: s.raw(b'{"issuer": "x"}'), "not_a_jwk_set", id="no-keys"),
    pytest.param(lambda s: s.raw(b'{"keys": {"a": 1}}'), "not_a_jwk_set", id="keys-not-list"),
    pytest.param(
        lambda s: s.raw(json.dumps({"keys": [{**key("rsa-1").jwk, "use": "enc"}]}).encode()),
        "no_usable_keys",
        id="enc-only",
    ),
    pytest.param(
        lambda s: s.raw(b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'),
        "no_usable_keys",
        id="secret-only",
    ),
    pytest.param(lambda s: s.oversize(300 * 1024), "too_large", id="too-large"),
    pytest.param(
        lambda s: s.redirect("/.well-known/jwks.json", "http://issuer.example/jwks"),
        "redirect_refused",
        id="redirect-to-http",
    ),
    pytest.param(_gone, "unreachable", id="gone"),
]


@pytest.mark.parametrize(("sicken", "error"), SICKNESSES)
def test_without_keys_a_sick_server_is_verifier_unavailable(
    sicken: Callable[[JwksServer], None],
    error: str,
    server: JwksServer,
    events: Events,
    make: Callable[..., RemoteKeys],
) -> None:
    remote = make()
    sicken(server)
    assert remote.candidates("RS256", "rsa-1", NOW) == Rejected(
        Reason.VERIFIER_UNAVAILABLE, {"retry_after": 30}
    )
    (event,) = misconfig(events)
    assert event == {
        "event": "auth.misconfig",
        "log_level": "warning",
        "kind": "jwks_unavailable",
        "jwks_url": server.url(),
        "error": error,
        "serving": "none",
        "retry_after": 30,
        "fix": event["fix"],
    }
    assert isinstance(event["fix"], str)
    assert event["fix"]


@pytest.mark.parametrize(("sicken", "error"), SICKNESSES)
def test_stale_keys_are_served_with_one_event_a_minute(
    sicken: Callable[[JwksServer], None],
    error: str,
    server: JwksServer,
    events: Events,
    make: Callable[..., RemoteKeys],
) -> None:
    remote = make()
    remote.candidates("RS256", "rsa-1", NOW)
    sicken(server)
    attempts = server.requests
    # At each moment: served from the stale keys, at once, never blocking.
    for offset in (300, 301, 329, 330, 359, 360):
        found = finishes(partial(remote.candidates, "RS256", "rsa-1", NOW + offset))
        assert verified(key("rsa-1"), found)
        settle(remote)
    if error != "unreachable":
        # An attempt at 300, 330 and 360 only: one per cooldown after a failure.
        assert server.requests == attempts + 3
    assert [(e["error"], e["serving"], e["stale_seconds"]) for e in misconfig(events)] == [
        (error, "stale", 300),
        (error, "stale", 360),
    ]
    # A kid the stale keys lack cannot be judged while the issuer is sick.
    assert remote.candidates("RS256", "rsa-2", NOW + 361) == Rejected(
        Reason.VERIFIER_UNAVAILABLE, {"retry_after": 29}
    )


def test_no_keys_and_server_down_retries_at_the_cooldown(
    server: JwksServer, events: Events, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    server.stop()
    expected = [(0, True, 30), (10, False, 20), (29.5, False, 1), (30, True, 30), (95, True, 30)]
    for offset, fetches, retry_after in expected:
        assert remote.needs_fetch("rsa-1", NOW + offset) is fetches
        assert remote.candidates("RS256", "rsa-1", NOW + offset) == Rejected(
            Reason.VERIFIER_UNAVAILABLE, {"retry_after": retry_after}
        )
    # Attempts at 0, 30 and 95; events at 0 and 95 (once a minute).
    assert [event["error"] for event in misconfig(events)] == ["unreachable", "unreachable"]


def test_keys_older_than_stale_for_are_not_served(
    server: JwksServer, events: Events, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    remote.candidates("RS256", "rsa-1", NOW)
    server.fail(503)
    assert kids(remote.candidates("RS256", "rsa-1", NOW + 86_400)) == ["rsa-1"]  # last stale second
    settle(remote)
    assert remote.candidates("RS256", "rsa-1", NOW + 86_401) == Rejected(
        Reason.VERIFIER_UNAVAILABLE, {"retry_after": 29}
    )
    server.heal()
    assert kids(remote.candidates("RS256", "rsa-1", NOW + 86_430)) == ["rsa-1"]
    assert [event["serving"] for event in misconfig(events)] == ["stale"]


def test_a_server_that_heals_is_used_again(
    server: JwksServer, events: Events, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    server.fail(502)
    assert isinstance(remote.candidates("RS256", "rsa-1", NOW), Rejected)
    server.heal()
    assert kids(remote.candidates("RS256", "rsa-1", NOW + 30)) == ["rsa-1"]
    assert not remote.needs_fetch("rsa-1", NOW + 31)
    assert server.requests == 2


def test_a_redirect_to_loopback_is_followed(
    server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    server.redirect("/old", server.url())
    assert kids(make(server.url("/old")).candidates("RS256", "rsa-1", NOW)) == ["rsa-1"]
    assert server.requests == 2


def test_a_silent_server_times_out(
    server: JwksServer, events: Events, make: Callable[..., RemoteKeys]
) -> None:
    remote = make(timeout=0.5)
    server.hold()
    started = time.monotonic()
    assert remote.candidates("RS256", "rsa-1", NOW) == Rejected(
        Reason.VERIFIER_UNAVAILABLE, {"retry_after": 30}
    )
    assert time.monotonic() - started < 0.5 + 1.0 + 0.5
    assert [event["error"] for event in misconfig(events)] == ["timeout"]


def test_a_dripping_server_meets_the_deadline(
    server: JwksServer, events: Events, make: Callable[..., RemoteKeys]
) -> None:
    # Every byte comes before the socket's timeout: only the fetch's overall
    # deadline ends it.
    remote = make(timeout=0.5)
    server.drip(every=0.1)
    started = time.monotonic()
    assert remote.candidates("RS256", "rsa-1", NOW) == Rejected(
        Reason.VERIFIER_UNAVAILABLE, {"retry_after": 30}
    )
    assert time.monotonic() - started < 0.5 + 1.0
    assert [event["error"] for event in misconfig(events)] == ["timeout"]


def test_the_logged_url_holds_no_query(
    server: JwksServer, events: Events, make: Callable[..., RemoteKeys]
) -> None:
    secret = "s3cr3t-in-the-query-9f8e7d"
    leaks.remember(secret)  # the autouse leak check looks for it in all output
    server.fail(500)
    remote = make(server.url(f"/.well-known/jwks.json?client_secret={secret}"))
    remote.candidates("RS256", "rsa-1", NOW)
    (event,) = misconfig(events)
    assert event["jwks_url"] == server.url()
    assert secret not in repr(remote)
    assert secret not in repr(events.events)


def test_the_default_logger_is_structlogs(server: JwksServer) -> None:
    server.fail(500)
    remote = RemoteKeys(server.url(), ALGORITHMS)
    with structlog.testing.capture_logs() as logs:
        remote.candidates("RS256", "rsa-1", NOW)
    assert [(log["event"], log["kind"], log["error"]) for log in logs] == [
        ("auth.misconfig", "jwks_unavailable", "http_500")
    ]


# --- concurrency ----------------------------------------------------------------


def _first_use(server: JwksServer, remote: RemoteKeys) -> str:
    return "rsa-1"


def _rotated(server: JwksServer, remote: RemoteKeys) -> str:
    remote.candidates("RS256", "rsa-1", NOW)
    server.rotate(key("rsa-1"), key("rsa-2"))
    return "rsa-2"


def test_single_flight_with_no_keys(server: JwksServer, make: Callable[..., RemoteKeys]) -> None:
    # No keys at all: every caller needs the answer, and all wait on one fetch.
    remote = make()
    server.hold()
    results: list[list[PreparedKey] | Rejected] = []
    threads = [
        threading.Thread(target=lambda: results.append(remote.candidates("RS256", "rsa-1", NOW)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    server.wait_for_requests(1)
    deadline = time.monotonic() + BOUND_S
    while (flight := remote._flight) is None or flight.joined < 7:
        assert time.monotonic() < deadline, "the callers did not all wait on the fetch"
        time.sleep(0.005)
    server.release()
    for thread in threads:
        thread.join(BOUND_S)
    assert [kids(found) for found in results] == [["rsa-1"]] * 8
    assert server.requests == 1


def test_an_unknown_kid_waits_only_for_the_fetch_it_started(
    server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    # Keys at hand, a new kid: the caller that starts the refetch waits for
    # it; the others, while it is under way, are told to retry at once
    # (503, Retry-After: 1) instead of each holding a worker thread while a
    # slow issuer answers (tokens naming kids at random would take them all).
    remote = make()
    kid = _rotated(server, remote)
    server.hold()
    first: list[list[PreparedKey] | Rejected] = []
    starter = threading.Thread(target=lambda: first.append(remote.candidates("RS256", kid, NOW)))
    starter.start()
    server.wait_for_requests(2)
    assert not remote.needs_fetch(kid, NOW)  # under way: nothing more to wait for
    others = [finishes(partial(remote.candidates, "RS256", kid, NOW)) for _ in range(7)]
    server.release()
    starter.join(BOUND_S)

    assert [kids(found) for found in first] == [[kid]]
    assert all(isinstance(o, Rejected) and o.reason is Reason.VERIFIER_UNAVAILABLE for o in others)
    assert {o.facts["retry_after"] for o in others if isinstance(o, Rejected)} == {1}
    assert server.requests == 2


def test_a_known_kid_is_answered_while_a_refetch_hangs(
    server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    remote.candidates("RS256", "rsa-1", NOW)
    server.rotate(key("rsa-1"), key("rsa-2"), key("ec-1"))
    server.hold()
    waiting: list[list[PreparedKey] | Rejected] = []
    refetch = threading.Thread(
        target=lambda: waiting.append(remote.candidates("RS256", "rsa-2", NOW + 1))
    )
    refetch.start()
    server.wait_for_requests(2)
    assert not remote.needs_fetch("rsa-2", NOW + 1)  # under way: answered at once
    assert not remote.needs_fetch("rsa-1", NOW + 1)
    # Fresh, and expired (stale-while-revalidate), even with the lock taken.
    for at in (NOW + 1, NOW + 400):
        assert kids(finishes(partial(remote.candidates, "RS256", "rsa-1", at))) == ["rsa-1"]
    with remote._lock:
        for at in (NOW + 2, NOW + 401):
            found = finishes(partial(remote.candidates, "ES256", "ec-1", at))
            assert kids(found) == ["ec-1"]
            assert finishes(partial(remote.needs_fetch, "ec-1", at)) is False
    assert server.requests == 2
    server.release()
    refetch.join(BOUND_S)
    assert verified(key("rsa-2"), waiting[0])


def test_wait_false_never_blocks(
    server: JwksServer, events: Events, make: Callable[..., RemoteKeys]
) -> None:
    remote = make()
    server.hold()
    # No keys yet: the fetch starts behind, the answer is "try again soon".
    unavailable = Rejected(Reason.VERIFIER_UNAVAILABLE, {"retry_after": 1})
    assert finishes(lambda: remote.candidates("RS256", "rsa-1", NOW, wait=False)) == unavailable
    server.wait_for_requests(1)
    assert finishes(lambda: remote.candidates("RS256", "rsa-1", NOW, wait=False)) == unavailable
    assert remote.needs_fetch("rsa-1", NOW)
    server.release()
    settle(remote)
    assert kids(remote.candidates("RS256", "rsa-1", NOW, wait=False)) == ["rsa-1"]
    # An unknown kid: answered from the keys at hand, the refetch runs behind.
    server.rotate(key("rsa-1"), key("rsa-2"))
    server.hold()
    found = finishes(lambda: remote.candidates("RS256", "rsa-2", NOW + 1, wait=False))
    assert found == Rejected(Reason.TOKEN_KEY_UNKNOWN, {"kid": "rsa-2"})
    server.wait_for_requests(2)
    server.release()
    settle(remote)
    assert kids(remote.candidates("RS256", "rsa-2", NOW + 2, wait=False)) == ["rsa-2"]
    assert server.requests == 2
    assert misconfig(events) == []


def test_a_fetch_lost_to_a_fork_does_not_stop_fetching(
    server: JwksServer, make: Callable[..., RemoteKeys]
) -> None:
    # A child forked while a fetch ran has the record of it, not its thread.
    remote = make()
    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    remote._flight = _Flight(thread=gone)
    assert kids(remote.candidates("RS256", "rsa-1", NOW)) == ["rsa-1"]
    assert server.requests == 1


# --- configuration ----------------------------------------------------------------


PASSWORD = "hunter2-p4ssw0rd-xyz"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://issuer.example/.well-known/jwks.json", None),
        ("https://issuer.example:8443/keys?appid=1#frag", None),
        ("http://127.0.0.1:8080/jwks", None),
        ("http://127.0.0.2/jwks", None),
        ("http://localhost/jwks", None),
        ("http://[::1]:9/jwks", None),
        ("http://issuer.example/jwks", "must use https://"),
        ("http://10.0.0.1/jwks", "must use https://"),
        ("ftp://issuer.example/jwks", "must be an absolute https:// URL"),
        ("file:///etc/jwks.json", "must be an absolute https:// URL"),
        ("issuer.example/jwks", "must be an absolute https:// URL"),
        ("not a url", "spaces or control characters"),
        ("", "must be an absolute https:// URL"),
        ("https://", "must be an absolute https:// URL"),
        ("https://issuer.example:99999/jwks", "must be an absolute https:// URL"),
        ("https://issuer.example/jwks\r\nX: y", "spaces or control characters"),
        ("https://" + "a" * 3000 + ".example/", "over 2048 characters"),
        (f"https://user:{PASSWORD}@issuer.example/jwks", "carries credentials"),
        (f"http://user:{PASSWORD}@issuer.example/jwks?token={PASSWORD}", "carries credentials"),
        (f"user:{PASSWORD}@issuer.example", "must be an absolute https:// URL"),
        (f"ftp://user:{PASSWORD}@issuer.example/", "must be an absolute https:// URL"),
        (b"https://issuer.example/jwks", "as text"),
        (None, "as text"),
    ],
)
def test_url_validation(url: object, says: str | None) -> None:
    leaks.remember(PASSWORD)
    if says is None:
        assert RemoteKeys(url, ALGORITHMS)  # type: ignore[arg-type]
        return
    with pytest.raises(ValueError, match="jwks_url") as raised:
        RemoteKeys(url, ALGORITHMS)  # type: ignore[arg-type]
    message = str(raised.value)
    assert says in message
    for hidden in (PASSWORD, "token=", "appid"):
        assert hidden not in message


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"algorithms": []}, "needs algorithms"),
        ({"algorithms": "RS256"}, "needs algorithms"),
        ({"algorithms": ["RS256", "none"]}, "'none'"),
        ({"algorithms": ["HS256"]}, "never an HMAC secret"),
        ({"timeout": 0}, "timeout is seconds above 0"),
        ({"timeout": True}, "timeout is seconds above 0"),
        ({"timeout": 61}, "timeout is seconds above 0"),
        ({"max_bytes": 10}, "max_bytes is whole bytes"),
        ({"min_lifetime": 0}, "min_lifetime is whole seconds"),
        ({"min_lifetime": 600, "max_lifetime": 300}, "min_lifetime is whole seconds from 1 to 300"),
        ({"unknown_kid_cooldown": 0}, "unknown_kid_cooldown"),
        ({"stale_for": -1}, "stale_for"),
        ({"stale_for": "1d"}, "got a str"),
    ],
)
def test_option_validation(options: dict[str, Any], says: str) -> None:
    algorithms = options.pop("algorithms", ALGORITHMS)
    with pytest.raises(ValueError, match="authhygiene: ") as raised:
        RemoteKeys("https://issuer.example/jwks", algorithms, **options)
    assert says in str(raised.value)


def test_mixed_algorithms_are_accepted() -> None:
    assert RemoteKeys("https://issuer.example/jwks", ["HS256", "RS256"])


# --- the answer, whatever it holds ------------------------------------------------


def test_a_set_holds_at_most_64_keys() -> None:
    ec = key("ec-1").jwk
    body = json.dumps({"keys": [{**ec, "kid": f"k{i}"} for i in range(100)]}).encode()
    found = _read_jwks(body, "application/json", ALGORITHMS)
    assert isinstance(found, tuple)
    assert [prepared.kid for prepared in found] == [f"k{i}" for i in range(64)]


def test_unusable_keys_are_skipped_not_fatal() -> None:
    rsa = key("rsa-1").jwk
    junk: list[object] = [1, "x", None, [], {"kty": "RSA", "n": 5}, {**rsa, "d": "AQAB"}]
    body = json.dumps({"keys": [*junk, rsa]}).encode()
    found = _read_jwks(body, "application/json", ALGORITHMS)
    assert isinstance(found, tuple)
    assert [prepared.kid for prepared in found] == ["rsa-1"]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["RSA", "EC", "oct", "OKP", "sig", "enc", "P-256", "AQAB"]),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                ["kty", "kid", "use", "alg", "n", "e", "x", "y", "crv", "d", "k", "keys"]
            )
            | st.text(max_size=5),
            inner,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def _hostile_text(value: object) -> str:
    return json.dumps(value, allow_nan=True)


_BODIES = st.one_of(
    _JSON.map(lambda value: _hostile_text({"keys": value}).encode()),
    st.lists(_JSON, max_size=4).map(lambda items: _hostile_text({"keys": items}).encode()),
    _JSON.map(lambda value: _hostile_text(value).encode()),
    st.integers(1, 200_000).map(lambda depth: b'{"keys": ' + b"[" * depth + b"]" * depth + b"}"),
    st.integers(1, 200_000).map(lambda depth: b"{" * depth),
    st.integers(4000, 50_000).map(lambda digits: b'{"keys": [' + b"7" * digits + b"]}"),
    st.just(b'{"keys": [], "keys": 5}'),
    st.just(b'{"keys": [{"kty": "RSA", "kty": "EC", "crv": "P-256", "x": 1, "x": "A"}]}'),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_BODIES, st.sampled_from(["application/json", "text/html", ""]))
def test_hostile_bodies_never_raise(body: bytes, content_type: str) -> None:
    found = _read_jwks(body, content_type, ALGORITHMS)
    assert isinstance(found, tuple | _Failure)
    if isinstance(found, tuple):
        assert 0 < len(found) <= 64


@settings(max_examples=300, deadline=None)
@given(_JSON, st.lists(st.sampled_from(["RS256", "ES256", "PS256", "EdDSA", "HS256"]), max_size=3))
def test_usable_keys_never_raises(document: object, algorithms: list[str]) -> None:
    assert isinstance(usable_keys(document, algorithms), tuple)
    assert isinstance(usable_keys({"keys": [document]}, algorithms), tuple)
