"""Smoke test of the end-to-end benchmark section (`benchmarks.end_to_end`):
one quick run against real uvicorn and gunicorn servers loaded by wrk.

Never a timing assertion: a one-second run on a shared machine under
coverage says nothing about speed. What is checked is that the section
reports every case, keeps its raw numbers, stops every server it started,
and never lets the bearer token it sends out, in its result or its output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

CASES = [
    ("uvicorn, success route", "e2e.uvicorn.ok.authhygiene", "e2e.uvicorn.ok.bare", 0.97),
    ("uvicorn, failure route", "e2e.uvicorn.fail.authhygiene", "e2e.uvicorn.fail.bare", 0.8),
    ("gunicorn, success route", "e2e.gunicorn.ok.authhygiene", "e2e.gunicorn.ok.bare", 0.97),
    ("gunicorn, failure route", "e2e.gunicorn.fail.authhygiene", "e2e.gunicorn.fail.bare", 0.8),
]
ROW_KEYS = {
    "section",
    "case",
    "subject",
    "baseline",
    "metric",
    "unit",
    "value",
    "target",
    "result",
    "detail",
    "extra",
}


@contextlib.contextmanager
def _captured_fds() -> Iterator[list[str]]:
    """Everything written to file descriptors 1 and 2 (child processes
    included), on top of pytest's own capture, restored afterwards."""
    text: list[str] = []
    with tempfile.TemporaryFile() as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield text
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            text.append(sink.read().decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One quick run shared by the checks below, with the token it drew."""
    with pytest.MonkeyPatch.context() as mp:
        # `benchmarks` lives at the repository root, which pytest's script
        # does not put on sys.path by itself.
        mp.syspath_prepend(str(REPO_ROOT))
        from benchmarks import end_to_end

        tokens: list[str] = []
        make_token = end_to_end._make_token

        def remembered() -> str:
            tokens.append(make_token())
            return tokens[-1]

        mp.setattr(end_to_end, "_make_token", remembered)
        rounds_done: list[int] = []

        def progress(done: int) -> None:
            rounds_done.append(done)
            print(f"round {done}")

        out, err = io.StringIO(), io.StringIO()
        with (
            _captured_fds() as fds,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            result = end_to_end.run_end_to_end(
                **dataclasses.asdict(end_to_end.QUICK),
                rng=random.Random(6),
                progress=progress,
            )
        yield {
            "result": result,
            "tokens": tokens,
            "output": out.getvalue() + err.getvalue() + "".join(fds),
            "rounds_done": rounds_done,
        }


def _row(e2e: dict[str, Any], case: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [row for row in e2e["result"]["rows"] if row["case"] == case]
    assert len(rows) == 1, case
    return rows[0]


@pytest.mark.parametrize(
    ("case", "subject", "baseline", "target"), CASES, ids=[c[0] for c in CASES]
)
@pytest.mark.needs("wrk")
def test_row_per_case(
    e2e: dict[str, Any], case: str, subject: str, baseline: str, target: float
) -> None:
    row = _row(e2e, case)
    assert set(row) == ROW_KEYS
    assert row["section"] == "end to end"
    assert (row["subject"], row["baseline"]) == (subject, baseline)
    assert (row["metric"], row["unit"]) == ("req/s ratio", "x")
    assert row["target"]["op"] == ">="
    assert row["target"]["value"] == target
    # Which verdict is not our business here; that there is one is.
    assert row["result"] in {"PASS", "MISS"}
    assert isinstance(row["value"]["median"], float)
    assert "p99" in row["detail"]
    assert set(row["extra"]["latency_p99_us_median"]) == {"bare", "authhygiene"}


@pytest.mark.needs("wrk")
def test_only_the_four_cases(e2e: dict[str, Any]) -> None:
    assert sorted(row["case"] for row in e2e["result"]["rows"]) == sorted(c[0] for c in CASES)


@pytest.mark.needs("wrk")
def test_raw_holds_every_run(e2e: dict[str, Any]) -> None:
    raw = e2e["result"]["raw"]
    expected = {label for _case, subject, baseline, _t in CASES for label in (subject, baseline)}
    assert len(raw["rounds"]) == 1  # QUICK: one round
    assert set(raw["rounds"][0]) == expected
    for label, run in raw["rounds"][0].items():
        assert run["requests"] > 0, label
        assert run["rps"] > 0, label
        assert run["latency_p99_us"] >= run["latency_p50_us"] > 0, label
    assert sorted(raw["round_orders"][0]) == sorted(expected)
    assert raw["wrk"]["version"].startswith("wrk")
    assert raw["uvicorn"]["loop"] in {"asyncio", "uvloop"}
    assert raw["uvicorn"]["http"] in {"h11", "httptools"}
    assert raw["versions"]["uvicorn"]
    assert raw["versions"]["gunicorn"]
    assert e2e["rounds_done"] == [1]


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
@pytest.mark.needs("wrk")
def test_answers_checked_before_timing(e2e: dict[str, Any], server: str) -> None:
    checks = e2e["result"]["raw"]["checks"][server]
    assert checks["ok"]["identical_bare_and_wrapped"] is True
    assert checks["fail.bare"]["status"] == 401
    assert checks["fail.bare"]["content_type"].startswith("text/plain")
    assert checks["fail.authhygiene"]["status"] == 401
    assert checks["fail.authhygiene"]["content_type"] == "application/problem+json"
    assert checks["fail.authhygiene"]["www_authenticate"].startswith("Bearer ")


def _alive(pid: int, pgid: int) -> bool:
    # A pid may be reused by then: only a live process of the server's own
    # process group counts.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0] != "Z" and int(fields[2]) == pgid


@pytest.mark.needs("wrk")
def test_every_server_stopped(e2e: dict[str, Any]) -> None:
    servers = e2e["result"]["raw"]["servers"]
    assert set(servers) == {
        "uvicorn.bare",
        "uvicorn.authhygiene",
        "gunicorn.bare",
        "gunicorn.authhygiene",
    }
    for label, server in servers.items():
        leader = min(server["pids"])  # the server's own pid leads its group
        assert server["pids"], label
        assert not [pid for pid in server["pids"] if _alive(pid, leader)], label
    # gunicorn's worker was seen and remembered, so its exit was checked too.
    assert len(servers["gunicorn.authhygiene"]["pids"]) >= 2


@pytest.mark.needs("wrk")
def test_result_is_strict_json(e2e: dict[str, Any]) -> None:
    json.dumps(e2e["result"], allow_nan=False)


@pytest.mark.needs("wrk")
def test_credential_never_reported_nor_printed(e2e: dict[str, Any]) -> None:
    assert len(e2e["tokens"]) == 1
    token = e2e["tokens"][0]
    signature = token.rsplit(".", 1)[1]
    saved = json.dumps(e2e["result"])
    # No credential in the assertion messages either.
    assert token not in saved, "the credential is in the section's result"
    assert signature not in saved, "the credential's signature is in the section's result"
    assert token not in e2e["output"], "the credential was printed"
    assert signature not in e2e["output"], "the credential's signature was printed"
    assert "round 1" in e2e["output"]  # the capture did capture


def test_missing_wrk_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from benchmarks import end_to_end

    monkeypatch.setattr(end_to_end, "WRK", Path("/nonexistent/wrk"))
    with pytest.raises(end_to_end.WrkMissingError, match="make bench"):
        end_to_end.run_end_to_end(
            rounds=1, duration_s=1, connections=1, rng=random.Random(0), warmup_s=0
        )


def test_round_order_keeps_pairs_adjacent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from benchmarks.end_to_end import _round_order

    rng = random.Random(1)
    orders = [_round_order(rng) for _ in range(20)]
    for order in orders:
        assert len(order) == len(set(order)) == 8
        for first, second in zip(order[::2], order[1::2], strict=True):
            assert first[:2] == second[:2]  # same server and route
            assert {first[2], second[2]} == {"bare", "authhygiene"}
    # Shuffled afresh: not the same order every round, nor always bare first.
    assert len({tuple(order) for order in orders}) > 1
    assert len({order[0][2] for order in orders}) == 2
