"""What every test shares.

`auth.misconfig` is logged once per process for each kind of problem; a
test that checks it must not depend on which test happened to run first.
"""

from __future__ import annotations

import pytest

from authhygiene import logging as hygiene_logging


@pytest.fixture(autouse=True)
def misconfig_reported_afresh() -> None:
    hygiene_logging._reported.clear()
