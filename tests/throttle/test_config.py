"""`Throttle(...)` and `throttle=`: every wrong option fails at start-up
with what to write instead, and never with the storage URL's password."""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene import AuthHygiene, PolicyError, Throttle
from authhygiene.throttle.config import throttle_option
from authhygiene.wsgi import AuthHygieneWSGI

PASSWORD = "s3cret-redis-pass"

REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"per_client": None, "per_credential": None}, "needs per_client or per_credential"),
    ({"per_client": "lots"}, "could not be read as a limit"),
    ({"per_credential": 5}, "got int"),
    ({"storage": f"http://:{PASSWORD}@cache:6379"}, "starts with one of"),
    ({"storage": f"redis:/:{PASSWORD}@cache"}, "starts with one of"),
    ({"storage": 6379}, "is a URL such as"),
    ({"mode": "log"}, "'enforce', 'shadow'"),
    ({"on_storage_error": "fail"}, "'open', 'closed'"),
    ({"timeout": 0}, "from 0.001 to 10"),
    ({"timeout": True}, "from 0.001 to 10"),
    ({"timeout": "1"}, "from 0.001 to 10"),
    ({"max_entries": 5}, "from 16 to 10,000,000"),
    ({"max_entries": 10.5}, "from 16 to 10,000,000"),
    ({"key_prefix": "a b"}, "letters, digits"),
    ({"key_prefix": ""}, "letters, digits"),
    ({"count_anonymous": "yes"}, "True or False"),
]


@pytest.mark.parametrize(("options", "said"), REFUSED)
def test_a_wrong_option_says_what_to_change(options: dict[str, Any], said: str) -> None:
    with pytest.raises(PolicyError) as raised:
        Throttle(**options)
    assert said in str(raised.value)
    assert PASSWORD not in str(raised.value)


def test_the_storage_url_is_not_in_the_repr() -> None:
    throttle = Throttle(storage=f"redis://:{PASSWORD}@127.0.0.1:6379/0")
    assert PASSWORD not in repr(throttle)
    assert throttle.fleet
    assert not Throttle().fleet


@pytest.mark.parametrize("adapter", [AuthHygiene, AuthHygieneWSGI])
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("30/minute", "takes authhygiene.Throttle"),
        ({"per_minute": 3}, "no option 'per_minute'"),
        ({"_state": 3}, "no option '_state'"),
        ({"per_client": "x"}, "could not be read"),
    ],
)
def test_the_middleware_refuses_a_wrong_throttle_at_construction(
    adapter: Any, value: object, said: str
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    with pytest.raises(PolicyError) as raised:
        adapter(app, realm="api", throttle=value)
    assert said in str(raised.value)


def test_one_settings_dict_is_one_throttle_and_one_state() -> None:
    settings = {"per_credential": "3/minute"}
    first, again = throttle_option(settings), throttle_option(settings)
    assert first is again
    assert throttle_option(dict(settings)) is not first  # another dict: its own
    assert throttle_option(first) is first


def test_two_middlewares_of_one_throttle_share_its_counts() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    throttle = Throttle(per_credential="3/minute")
    one, two = (
        AuthHygiene(app, realm="api", throttle=throttle),
        AuthHygiene(app, realm="api", throttle=throttle),
    )
    assert one.runtime.throttle is two.runtime.throttle
    other = AuthHygiene(app, realm="api", throttle=Throttle(per_credential="3/minute"))
    assert other.runtime.throttle is not one.runtime.throttle
