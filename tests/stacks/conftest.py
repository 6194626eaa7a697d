"""One set of live servers for the whole session: every stack, bare and wrapped,
started on first use and stopped when the session ends (live.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

# The shared checks in tests/e2e/servers.py: let pytest explain their failures.
if "tests.e2e.servers" not in sys.modules:
    pytest.register_assert_rewrite("tests.e2e.servers")

from .live import LiveStacks


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStacks]:
    with LiveStacks(tmp_path_factory.mktemp("stacks")) as stacks:
        yield stacks
