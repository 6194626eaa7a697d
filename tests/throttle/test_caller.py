"""Who a request comes from, as the throttle reads it: lazily, and never
failing on a server's odd scope."""

from __future__ import annotations

from typing import Any

import pytest

from authhygiene._runtime import Runtime
from authhygiene._throttling import Caller, scope_caller
from authhygiene.request_views import Plans, ScopeRequest
from authhygiene.throttle import Throttle

ODD_HEADERS: list[Any] = [
    [("authorization", "Bearer x")],  # str, not bytes
    [(b"authorization", 42)],
    [(b"x-api-key", None)],
    42,
    [("a", "b", "c")],
]


@pytest.mark.parametrize("headers", ODD_HEADERS)
def test_an_odd_scope_is_no_one_to_count_never_an_error(headers: Any) -> None:
    runtime = Runtime.from_options({"realm": "api", "throttle": Throttle()})
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    caller = scope_caller(runtime, scope, ScopeRequest(scope, Plans(runtime.policy)))
    assert caller is None or caller.proof is None


def test_the_address_and_the_material_are_read_only_when_asked_for() -> None:
    asked: list[str] = []

    def address() -> str:
        asked.append("address")
        return "192.0.2.1"

    caller = Caller(address, "Bearer abc", None)
    assert caller.proof == "Bearer abc"
    assert asked == []
    assert caller.client == "192.0.2.1"
    assert caller.client == "192.0.2.1"
    assert asked == ["address"]
    assert caller.material == "authorization\0bearer abc"
    assert Caller(address, None, "key-1").proof == "key-1"
