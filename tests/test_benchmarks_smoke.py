"""Smoke test of `python -m benchmarks`: it runs, prints every row and writes
its JSON. Never a timing assertion: numbers from a test run under coverage
on a shared machine mean nothing, and the benchmark is a report anyway."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

VARIANTS = [
    "asgi.success.bare",
    "asgi.success.floor",
    "asgi.success.authhygiene",
    "wsgi.success.bare",
    "wsgi.success.floor",
    "wsgi.success.authhygiene",
    "asgi.failure.bare",
    "asgi.failure.authhygiene",
    "wsgi.failure.bare",
    "wsgi.failure.authhygiene",
    "asgi.cors.starlette",
    "asgi.cors.authhygiene",
    "wsgi.cors.authhygiene",
    # The log redaction section: each pair is a baseline and the same with redaction.
    "structlog.app.baseline",
    "structlog.app.redact",
    "structlog.auth_failure.baseline",
    "structlog.auth_failure.redact",
    "stdlib.access.baseline",
    "stdlib.access.filter",
    "stdlib.access_token.baseline",
    "stdlib.access_token.filter",
]
# Few rounds and a fixed, small batch: enough to exercise every code path.
QUICK_ARGS = ["--quick", "--rounds", "2", "--slices", "2", "--iterations", "20", "--seed", "7"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One in-process quick run shared by the table of checks below."""
    results = tmp_path_factory.mktemp("bench-results")
    with pytest.MonkeyPatch.context() as mp:
        # `benchmarks` lives at the repository root, which the pytest script
        # does not put on sys.path by itself.
        mp.syspath_prepend(str(REPO_ROOT))
        from benchmarks.__main__ import main
        from benchmarks.success_path import TOKEN

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main([*QUICK_ARGS, "--results-dir", str(results)])
        yield {
            "code": code,
            "stdout": out.getvalue(),
            "files": sorted(results.glob("*.json")),
            "token": TOKEN,
        }


def _table_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| variant"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_exits_zero_and_writes_one_json(quick_run: dict[str, Any]) -> None:
    assert quick_run["code"] == 0
    assert len(quick_run["files"]) == 1
    assert not list(quick_run["files"][0].parent.glob("*.tmp"))  # written atomically


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANTS)
def test_table_has_row(quick_run: dict[str, Any], variant: str) -> None:
    rows = _table_rows(quick_run["stdout"])
    assert variant in rows
    # variant, median, min, max, added, ratio, target, result
    assert len(rows[variant]) == 8


@pytest.mark.parametrize(
    ("variant", "results"),
    [
        ("asgi.success.authhygiene", {"PASS", "MISS"}),
        ("wsgi.success.authhygiene", {"PASS", "MISS"}),
        ("asgi.failure.authhygiene", {"info"}),
        ("wsgi.failure.authhygiene", {"info"}),
        ("structlog.app.redact", {"info"}),
        ("structlog.auth_failure.redact", {"info"}),
        ("stdlib.access.filter", {"info"}),
        ("stdlib.access_token.filter", {"info"}),
    ],
    ids=[
        "asgi-success",
        "wsgi-success",
        "asgi-failure",
        "wsgi-failure",
        "structlog-app",
        "structlog-auth-failure",
        "stdlib-access",
        "stdlib-access-token",
    ],
)
def test_rows_carry_a_verdict(quick_run: dict[str, Any], variant: str, results: set[str]) -> None:
    # Which verdict is not our business here; that there is one is.
    assert _table_rows(quick_run["stdout"])[variant][-1] in results


@pytest.mark.parametrize(
    "key",
    [
        "machine",
        "arguments",
        "self_checks",
        "round_orders",
        "variants",
        "comparisons",
        "logging_path",
    ],
)
def test_json_has_section(quick_run: dict[str, Any], key: str) -> None:
    payload = json.loads(quick_run["files"][0].read_text(encoding="utf-8"))
    assert key in payload
    assert set(payload["variants"]) == set(VARIANTS)
    for variant in payload["variants"].values():
        assert len(variant["round_elapsed_ns"]) == 2  # --rounds 2, every round kept


def test_credential_never_printed_or_saved(quick_run: dict[str, Any]) -> None:
    # The benchmark sends a bearer token on every request; neither its report
    # nor its raw numbers may contain it. (No credential in the message.)
    token = quick_run["token"]
    saved = quick_run["files"][0].read_text(encoding="utf-8")
    assert token not in quick_run["stdout"], "credential in the benchmark's stdout"
    assert token not in saved, "credential in the benchmark's JSON"


def test_module_entry_point(tmp_path: Path) -> None:
    """`make bench` runs `python -m benchmarks`: the same, as a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *QUICK_ARGS, "--results-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(VARIANTS) <= set(_table_rows(done.stdout))
    saved = list(tmp_path.glob("success_path-*.json"))
    assert len(saved) == 1
    # The subprocess drew its own token; every JWT starts with "eyJ" ('{"').
    assert "eyJ" not in done.stdout + done.stderr, "a JWT in the benchmark's output"
    assert "eyJ" not in saved[0].read_text(encoding="utf-8"), "a JWT in the benchmark's JSON"
