"""The reference pages hold what the code holds."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import fields
from types import ModuleType

from authhygiene.core.policy import Policy
from authhygiene.core.reasons import REASONS, Problem

from .snippets import ROOT

OPTIONS_PAGE = ROOT / "docs" / "reference" / "options.md"
_OPTION_ROW = re.compile(r"^\| `([a-z_0-9]+)` \|", re.MULTILINE)


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generated", ROOT / "docs/hooks/generated.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_options_page_lists_every_option() -> None:
    accepted = {field.name for field in fields(Policy) if field.init} | {"logger"}
    listed = set(_OPTION_ROW.findall(OPTIONS_PAGE.read_text(encoding="utf-8")))
    assert accepted - listed == set(), "options missing from docs/reference/options.md"
    assert listed - accepted == set(), "options the middleware no longer takes"


def test_the_reason_catalogue_has_every_reason_and_problem() -> None:
    catalogue = _hook().reasons()
    for reason, info in REASONS.items():
        anchor = reason.value.replace("_", "-")
        assert f"### `{reason.value}` {{#{anchor}}}" in catalogue
        assert info.hint in catalogue
    assert all(f"`{problem.value}`" in catalogue for problem in Problem)


def test_the_performance_page_takes_the_last_run_and_its_chart() -> None:
    hook = _hook()
    page = hook.benchmarks()
    assert "| section | case |" in page
    assert "](assets/benchmarks.png)" in page
    assert "(latest.png)" not in page
    assert hook.BENCH_CHART.exists()
