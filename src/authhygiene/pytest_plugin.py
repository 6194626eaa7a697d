"""The pytest plugin: a fixture `auth_hygiene` that runs the audit's checks
against an app in process (`authhygiene.testing.assert_auth_hygiene`).

Turned on where it is wanted, not in every suite of every environment that
has authhygiene installed (an auto-loaded plugin's package is rewritten by
pytest's assertion hook and imported before coverage starts)::

    # conftest.py
    pytest_plugins = ["authhygiene.pytest_plugin"]

    # test_auth.py
    def test_refusals(auth_hygiene):
        auth_hygiene(app, "/me", token=VALID_TOKEN, origin="https://app.example")

or ``pytest -p authhygiene.pytest_plugin``.
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
