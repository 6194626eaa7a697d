"""tests/needs.py, in a suite of its own (pytester): a test marked
needs(package) is skipped, with the recorded reason, only when make's
preflight recorded the package as not installable here; a package that is
missing but not recorded skips nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.needs import RECORD_VARIABLE

pytest_plugins = ["pytester"]

CHROMIUM_REASON = "chromium is not installed and apt-get is not available here (do this)"
WRK_REASON = "wrk is not installed and you are not root and there is no sudo (do that)"

# Each marked test "runs" its package the way the real ones do: it fails
# when the program is not where it looks.
SUITE = """
import os
import pytest

MISSING = "/nonexistent/program"

@pytest.mark.needs("chromium")
def test_browser():
    assert os.path.exists(MISSING), "chromium is missing"

@pytest.mark.needs("chromium")
@pytest.mark.parametrize("n", [1, 2])
def test_browser_again(n):
    assert os.path.exists(MISSING), "chromium is missing"

@pytest.mark.needs("wrk", "chromium")
def test_both():
    assert os.path.exists(MISSING), "wrk is missing"

def test_plain():
    pass
"""


def _record(path: Path, unavailable: dict[str, str]) -> None:
    lines = ["# a comment", *(f"{name}\t{reason}" for name, reason in unavailable.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["tests.needs"]')
    pytester.makepyfile(test_suite=SUITE)
    return pytester


@pytest.mark.parametrize(
    ("unavailable", "outcomes", "summary"),
    [
        (
            {"chromium": CHROMIUM_REASON},
            {"passed": 1, "skipped": 4},
            [f"skipped 4 tests: {CHROMIUM_REASON}"],
        ),
        (
            {"wrk": WRK_REASON},
            {"passed": 1, "failed": 3, "skipped": 1},
            [f"skipped 1 test: {WRK_REASON}"],
        ),
        (
            {"wrk": WRK_REASON, "chromium": CHROMIUM_REASON},
            {"passed": 1, "skipped": 4},
            [f"skipped 3 tests: {CHROMIUM_REASON}", f"skipped 1 test: {WRK_REASON}"],
        ),
        ({}, {"passed": 1, "failed": 4}, []),
    ],
    ids=["chromium recorded", "wrk recorded", "both recorded", "nothing recorded"],
)
def test_only_what_the_preflight_recorded_is_skipped(
    suite: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    unavailable: dict[str, str],
    outcomes: dict[str, int],
    summary: list[str],
) -> None:
    record = suite.path / "unavailable-packages"
    _record(record, unavailable)
    monkeypatch.setenv(RECORD_VARIABLE, str(record))
    result = suite.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    section = [line for line in result.outlines if line.startswith("skipped ")]
    assert sorted(section) == sorted(summary)
    if unavailable:
        result.stdout.fnmatch_lines(["*packages not installable here*"])
        result.stdout.fnmatch_lines(
            [f"not installable here, their tests skipped: {', '.join(unavailable)} (*"]
        )
        for reason in unavailable.values():
            result.stdout.fnmatch_lines([f"SKIPPED *{reason}"])
    else:
        assert "not installable here" not in result.stdout.str()
        result.stdout.fnmatch_lines(["*AssertionError: chromium is missing*"])


def test_without_a_record_nothing_is_skipped(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RECORD_VARIABLE, str(suite.path / "no-such-file"))
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, failed=4)


def test_the_record_make_wrote_in_venv_is_read_by_a_bare_pytest(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RECORD_VARIABLE, raising=False)
    (suite.path / ".venv").mkdir()
    _record(suite.path / ".venv" / "unavailable-packages", {"chromium": CHROMIUM_REASON})
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=4)


@pytest.mark.parametrize("args", ['"chromum"', ""])
def test_a_marker_naming_no_known_package_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: str
) -> None:
    monkeypatch.setenv(RECORD_VARIABLE, str(pytester.path / "no-such-file"))
    pytester.makeconftest('pytest_plugins = ["tests.needs"]')
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.needs({args})\ndef test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_x: needs(*): name one or more of chromium, wrk, *"])
