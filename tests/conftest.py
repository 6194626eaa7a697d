"""What every test shares.

- `auth.misconfig` is logged once per process for each kind of problem; a
  test that checks it must not depend on which test happened to run first.
- No credential a test sends may reach anything the test captured: its
  stdout, stderr and log records are checked after every test (see
  `tests/leaks.py`), so a leak fails the test that caused it.
- A test that runs a Debian package carries `pytest.mark.needs(package)`:
  skipped only where `make test` recorded it could not install it
  (`tests/needs.py`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from authhygiene import logging as hygiene_logging
from authhygiene.core.redact import scrub

from . import leaks

# The servers' helpers assert on the wire; tests/audit imports them before
# tests/e2e's conftest would register them, so register them here, first.
pytest.register_assert_rewrite("tests.e2e.servers")

pytest_plugins = ["tests.needs"]


@pytest.fixture(autouse=True)
def misconfig_reported_afresh() -> None:
    hygiene_logging._reported.clear()


@pytest.fixture(autouse=True, scope="session")
def _credentials_remembered() -> Iterator[None]:
    with leaks.installed():
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    leaks.forget()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "teardown" or report.failed:
        return
    captured = [content for _, content in report.sections]
    try:
        leaks.check(captured, what=f"{item.nodeid} printed or logged")
    except AssertionError as exc:
        report.outcome = "failed"
        report.longrepr = str(exc)
        # pytest prints what was captured under a failure: not the secrets.
        secrets = leaks.sent()
        report.sections = [(title, scrub(text, secrets)) for title, text in report.sections]
