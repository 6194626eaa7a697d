"""The pytest plugin: a fixture `auth_hygiene` that runs the audit's checks
against an app in process (`authhygiene.testing.assert_auth_hygiene`).

Installed with authhygiene (entry point `pytest11`); in a test::

    def test_refusals(auth_hygiene):
        auth_hygiene(app, "/me", token=VALID_TOKEN, origin="https://app.example")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from authhygiene.testing import assert_auth_hygiene

__all__ = ["auth_hygiene"]


@pytest.fixture
def auth_hygiene() -> Callable[..., Any]:
    return assert_auth_hygiene
