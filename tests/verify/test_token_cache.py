"""The verified-token cache (`verify.token_cache`, used by `JWT.verify`):
a repeated token costs one keyed hash, never past the token's life, never
for a failure, bounded in entries and bytes, and never holding the token."""

from __future__ import annotations

import gc
import time
from typing import Any

import jwt
import pytest

from authhygiene import Reason
from authhygiene.core.verdict import Verified
from authhygiene.verify import JWT, Rejected
from authhygiene.verify.token_cache import VerifiedCache

SECRET = "c" * 40
AUDIENCE = "https://api.example"


def token(**claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "user-1", "aud": AUDIENCE, "iat": now, "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, algorithm="HS256")


def verifier(**options: Any) -> JWT:
    return JWT(algorithms=["HS256"], keys=SECRET, audience=AUDIENCE, **options)


class CountingDecode:
    """Counts pyjwt decodes, to tell a cache hit from a verification."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = jwt.decode

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr("authhygiene.verify.jwt.jwt.decode", counted)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> CountingDecode:
    return CountingDecode(monkeypatch)


def test_a_repeated_token_is_verified_once(decodes: CountingDecode) -> None:
    check, sent = verifier(), token()
    first, second = check.verify(sent), check.verify(sent)

    assert isinstance(first, Verified)
    assert second == first
    assert decodes.calls == 1


def test_a_failure_is_never_kept(decodes: CountingDecode) -> None:
    check, forged = verifier(), token()[:-4] + "AAAA"
    outcomes = [check.verify(forged) for _ in range(3)]

    assert all(isinstance(o, Rejected) for o in outcomes)
    assert decodes.calls == 3


# now + seconds -> whether the cache still answers (the token expires in 600 s,
# the cap is 300 s): never past the earliest of exp and the cap.
@pytest.mark.parametrize(
    ("later", "cached"),
    [(0, True), (299, True), (300, False), (599, False), (601, False)],
    ids=["now", "before-cap", "at-cap", "before-exp", "after-exp"],
)
def test_an_entry_lasts_until_the_cap_or_exp(
    decodes: CountingDecode, later: int, cached: bool
) -> None:
    check, sent, now = verifier(), token(), time.time()
    check.verify(sent, now)
    check.verify(sent, now + later)

    assert decodes.calls == (1 if cached else 2)


def test_a_token_is_not_admitted_from_the_cache_past_its_exp(decodes: CountingDecode) -> None:
    # The bug class of fast-jwt's CVE: a cache that kept admitting a token
    # after its `exp`. Here the token expires in 2 s; the cap is far longer.
    check = verifier(cache_seconds=3600, leeway=0)
    sent = token(exp=int(time.time()) + 2)
    assert isinstance(check.verify(sent), Verified)
    time.sleep(3.1)

    outcome = check.verify(sent)

    assert isinstance(outcome, Rejected)
    assert outcome.reason is Reason.TOKEN_EXPIRED
    assert decodes.calls == 2


@pytest.mark.parametrize(
    "claims",
    [{"exp": None}, {"exp": None, "iat": None}],
    ids=["no-exp", "no-exp-no-iat"],
)
def test_a_token_without_exp_is_kept_for_the_cap_only(
    decodes: CountingDecode, claims: dict[str, Any]
) -> None:
    check, sent, now = verifier(cache_seconds=60), token(**claims), time.time()
    check.verify(sent, now)
    check.verify(sent, now + 59)
    check.verify(sent, now + 61)

    assert decodes.calls == 2


def test_max_age_bounds_an_entry(decodes: CountingDecode) -> None:
    now = int(time.time())
    check = verifier(max_age=100, leeway=0, cache_seconds=3600)
    sent = token(iat=now - 90)
    assert isinstance(check.verify(sent, now), Verified)
    check.verify(sent, now + 5)  # within iat + max_age: from the cache
    late = check.verify(sent, now + 20)  # past it: verified again, and refused

    assert decodes.calls == 2
    assert isinstance(late, Rejected)
    assert late.reason is Reason.TOKEN_EXPIRED


def test_cache_seconds_zero_keeps_nothing(decodes: CountingDecode) -> None:
    check, sent = verifier(cache_seconds=0), token()
    check.verify(sent)
    check.verify(sent)

    assert decodes.calls == 2


def test_the_cached_claims_cannot_be_changed_by_a_caller() -> None:
    check, sent = verifier(), token(scope="items:read")
    first = check.verify(sent)
    assert isinstance(first, Verified)

    with pytest.raises(TypeError):
        first.claims["scope"] = "admin"  # type: ignore[index]
    again = check.verify(sent)
    assert isinstance(again, Verified)
    assert again.scopes == ("items:read",)


def test_the_token_itself_is_never_kept() -> None:
    check = verifier()
    sent = token(jti="a-unique-marker-for-this-test")
    check.verify(sent)
    gc.collect()

    held = list(check._cache._entries.items())
    assert held
    assert sent not in repr(held)
    assert sent.encode() not in b"".join(digest for digest, _ in held)
    assert all(len(digest) == 32 for digest, _ in held)


def test_the_digest_is_keyed_per_cache() -> None:
    one = VerifiedCache(seconds=60, max_entries=4, max_bytes=10_000)
    two = VerifiedCache(seconds=60, max_entries=4, max_bytes=10_000)

    assert one.digest("same token") != two.digest("same token")
    assert one.digest("same token") == one.digest("same token")


def _kept(cache: VerifiedCache, count: int, cost: int) -> None:
    now = time.time()
    for index in range(count):
        cache.put(cache.digest(f"t{index}"), Verified({"sub": str(index)}), now, cost, None)


@pytest.mark.parametrize(
    ("entries", "max_bytes", "cost", "count", "kept"),
    [
        (4, 1_000_000, 100, 10, 4),  # bounded in entries
        (1_000, 3_000, 500, 10, 3000 // (500 + 240)),  # bounded in bytes
        (1_000, 600, 500, 3, 0),  # one entry larger than the whole cache
    ],
    ids=["entries", "bytes", "too-large"],
)
def test_the_cache_is_bounded_in_entries_and_bytes(
    entries: int, max_bytes: int, cost: int, count: int, kept: int
) -> None:
    cache = VerifiedCache(seconds=60, max_entries=entries, max_bytes=max_bytes)
    _kept(cache, count, cost)

    assert len(cache) == kept
    assert cache.bytes <= max_bytes
    # The oldest went first: the newest are the ones kept.
    if kept:
        assert cache.get(cache.digest(f"t{count - 1}"), time.time()) is not None
        assert cache.get(cache.digest("t0"), time.time()) is None


@pytest.mark.parametrize(
    "option",
    [
        {"cache_seconds": -1},
        {"cache_seconds": 86_401},
        {"cache_entries": 0},
        {"cache_seconds": "5"},
    ],
    ids=["negative", "over-a-day", "no-entries", "text"],
)
def test_cache_options_are_checked_at_construction(option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="authhygiene: JWT cache_"):
        verifier(**option)
