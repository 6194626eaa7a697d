"""The `needs` marker: `@pytest.mark.needs("chromium")` on a test that runs
a Debian package (tests/preflight.py's table names them, and the files that
carry each).

Such a test is skipped only when `make test`'s preflight recorded that it
could not install the package here (no apt-get, or no root and no
passwordless sudo), with the reason it recorded. A package that is missing
but not recorded skips nothing: the test runs and fails, saying what is
missing, as it should in CI.

The record is the file named by AUTHHYGIENE_UNAVAILABLE_PACKAGES (the
Makefile sets it), else .venv/unavailable-packages under the rootdir, so a
bare `pytest` after `make test` skips what make skipped. Pytest's header
names the packages; its summary counts the tests skipped for each, with the
reason.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from .preflight import PACKAGES, read_record

__all__ = ["RECORD_VARIABLE", "unavailable_here"]

RECORD_VARIABLE = "AUTHHYGIENE_UNAVAILABLE_PACKAGES"

_unavailable = pytest.StashKey[dict[str, str]]()
_skipped_for = pytest.StashKey[dict[str, str]]()  # node id -> package


def _record(rootpath: Path) -> Path:
    named = os.environ.get(RECORD_VARIABLE)
    return Path(named) if named else rootpath / ".venv" / "unavailable-packages"


def unavailable_here(config: pytest.Config) -> dict[str, str]:
    """The packages recorded as not installable here, with their reasons."""
    return config.stash[_unavailable]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(*packages): runs these Debian packages; skipped only where make's"
        " preflight recorded it could not install them (tests/needs.py)",
    )
    config.stash[_unavailable] = read_record(_record(config.rootpath))
    config.stash[_skipped_for] = {}


def pytest_report_header(config: pytest.Config) -> list[str]:
    unavailable = config.stash[_unavailable]
    if not unavailable:
        return []
    names = ", ".join(unavailable)
    record = _record(config.rootpath)
    return [f"not installable here, their tests skipped: {names} (make's preflight, {record})"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unavailable = config.stash[_unavailable]
    skipped_for = config.stash[_skipped_for]
    for item in items:
        for mark in item.iter_markers("needs"):
            unknown = [name for name in mark.args if name not in PACKAGES]
            if unknown or not mark.args:
                raise pytest.UsageError(
                    f"{item.nodeid}: needs{mark.args!r}: name one or more of"
                    f" {', '.join(PACKAGES)} (tests/preflight.py's table)"
                )
            missing = [name for name in mark.args if name in unavailable]
            if missing and item.nodeid not in skipped_for:
                skipped_for[item.nodeid] = missing[0]
                item.add_marker(pytest.mark.skip(reason=unavailable[missing[0]]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped_for = terminalreporter.config.stash[_skipped_for]
    skipped = {report.nodeid for report in terminalreporter.stats.get("skipped", [])}
    counts = Counter(skipped_for[nodeid] for nodeid in skipped if nodeid in skipped_for)
    if not counts:
        return
    unavailable = terminalreporter.config.stash[_unavailable]
    terminalreporter.section("packages not installable here")
    for name, count in sorted(counts.items()):
        tests = "test" if count == 1 else "tests"
        terminalreporter.line(f"skipped {count} {tests}: {unavailable[name]}")
