"""Smoke test of `python -m benchmarks`: it runs, reports every row of every
section in the row contract, and writes its files where and when it should.
Never a timing assertion: numbers from a test run under coverage on a shared
machine mean nothing, and the benchmark is a report anyway.

The end-to-end section (real servers under wrk) has its own tests; here it
is skipped (``--no-e2e``) or replaced by a stand-in, to test the wiring."""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.needs import unavailable_here

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every row of the in-process sections: (section, case, judged).
ROWS: list[tuple[str, str, bool]] = [
    ("ASGI success path", "floor: send wrapper", False),
    ("ASGI success path", "authhygiene, no Origin", True),
    ("ASGI success path", "Starlette CORSMiddleware, no Origin", False),
    ("ASGI success path", "BaseHTTPMiddleware pass-through", False),
    ("ASGI success path", "cors=, CORS request", True),
    ("ASGI success path", "Starlette CORSMiddleware, CORS request", False),
    ("ASGI success path", "cors=, preflight", True),
    ("ASGI success path", "Starlette CORSMiddleware, preflight", False),
    ("WSGI success path", "floor: start_response wrapper", False),
    ("WSGI success path", "authhygiene, no Origin", True),
    ("WSGI success path", "floor + werkzeug Request(environ)", False),
    ("WSGI success path", "cors=, CORS request", False),
    ("WSGI success path", "cors=, preflight", False),
    ("failure path", "ASGI: 401 rewritten + logged", True),
    ("failure path", "ASGI: AuthFailure raised", True),
    ("failure path", "ASGI: a different token every request", False),
    ("failure path", "ASGI: structlog stdlib-json logger", False),
    ("failure path", "WSGI: 401 rewritten + logged", True),
    ("failure path", "WSGI: AuthFailure raised", True),
    ("failure path", "WSGI: a different token every request", False),
    ("failure path", "WSGI: structlog stdlib-json logger", False),
    ("scaling", "1 origin, CORS request", False),
    ("scaling", "10 origins, CORS request", False),
    ("scaling", "1000 origins, CORS request", True),
    ("scaling", "1 origin, preflight", False),
    ("scaling", "10 origins, preflight", False),
    ("scaling", "1000 origins, preflight", True),
    ("scaling", "1 scheme(s) (Bearer), 401", False),
    ("scaling", "3 scheme(s) (Bearer, Basic, ApiKey), 401", False),
    ("scaling", "9 headers, success", False),
    ("scaling", "40 headers, success", False),
    ("scaling", "100 headers, success", False),
    ("scaling", "9 headers, 401", False),
    ("scaling", "40 headers, 401", False),
    ("scaling", "100 headers, 401", False),
    ("scaling", "usual JWT (~0.2 KB), 401", False),
    ("scaling", "JWT ~1 KB, 401", False),
    ("scaling", "JWT ~8 KB, 401", False),
    ("anchors", "json.dumps, problem body", False),
    ("anchors", "orjson.dumps, problem body", False),
    ("anchors", "structlog JSON event, suite's logger", False),
    ("anchors", "structlog JSON event, stdlib json", False),
    ("log redaction", "structlog app event", False),
    ("log redaction", "structlog auth.failure event", False),
    ("log redaction", "stdlib access record (?page=2&sort=name)", False),
    ("log redaction", "stdlib access record (?access_token=<JWT>)", False),
    ("log redaction cost", "structlog app event: redact / JSON render", True),
    ("log redaction cost", "structlog app event, 4096 distinct: redact / JSON render", False),
    ("log redaction cost", "access record: RedactingFilter / Formatter.format", True),
    ("log redaction cost", "access record, 4096 distinct: RedactingFilter / format", False),
]
SECTIONS = sorted({section for section, _, _ in ROWS})
# The child-process sections (valgrind children, a flood in a child): a
# test of their own, so the quick runs above stay a few seconds long.
INSTRUCTIONS = "refusal instructions (callgrind)"
MEMORY = "refusal flood memory"
CHILD_ROWS: list[tuple[str, str, bool]] = [
    *(
        row
        for label in ("ASGI", "WSGI")
        for row in (
            (INSTRUCTIONS, f"{label}: anchor, added per refusal", False),
            (INSTRUCTIONS, f"{label}: authhygiene, same token", True),
            (INSTRUCTIONS, f"{label}: authhygiene, new token every request", True),
            (INSTRUCTIONS, f"{label}: success path, authhygiene", True),
        )
    ),
    *(
        row
        for label in ("ASGI", "WSGI")
        for row in (
            (MEMORY, f"{label}: RSS at the end of the flood", False),
            (MEMORY, f"{label}: RSS plateaus (growth over the last half)", True),
        )
    ),
]
# Section "verify" (`--only verify`): in-process rows, the JWKS refetch
# rows, then the instruction counts (when valgrind is there).
VERIFY = "verify"
VERIFY_INSTRUCTIONS = "verify instructions (callgrind)"
_VERIFY_COMMON: list[tuple[str, bool]] = [
    *(
        (f"{kind}.{alg}: {what}", True)
        for kind, what in (
            ("cached", "jwt.decode / verify, same token"),
            ("first", "verify / jwt.decode, new token"),
        )
        for alg in ("HS256", "RS256", "ES256")
    ),
    ("explain mode (verify=JWT), success path", True),
    ("explain mode: verify= added over AuthHygiene without it", False),
    ("enforce mode, success path (cached token)", False),
]
VERIFY_ROWS: list[tuple[str, str, bool]] = [
    *((VERIFY, case, judged) for case, judged in _VERIFY_COMMON),
    (VERIFY, "JWKS refetch held 2 s: known-kid p99 / p99 without", True),
    (VERIFY, "JWKS: known-kid p99 without a refetch", False),
    (VERIFY, "JWKS: the unknown-kid call waited", False),
    *((VERIFY_INSTRUCTIONS, case, judged) for case, judged in _VERIFY_COMMON),
]
# Section "throttle" (`--only throttle`): a redis-server of its own.
THROTTLE = "throttle"
THROTTLE_ROWS: list[tuple[str, str, bool]] = [
    (THROTTLE, f"{label}: {case}", judged)
    for label in ("ASGI", "WSGI")
    for case, judged in (
        ("Redis commands per success", True),
        ("round trips per counted failure", True),
        ("counted failure, added / PING", True),
        ("pipeline of 4 PINGs / PING", False),
        ("Redis commands per counted failure", False),
        ("round trips, the failure that fills a key", False),
        ("the refusal without throttle=", False),
        ("blocked, 429 before the app", True),
        ("blocked 429 / the refusal without throttle=", False),
        ("Redis commands per blocked request", True),
        ("success, nothing blocked", False),
        ("the check before the app while a key is blocked", False),
    )
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
# Few rounds and a fixed, small batch: enough to exercise every code path.
ROUNDS = 2
QUICK_ARGS = [
    "--quick",
    "--no-e2e",
    "--only",
    "in-process",
    "--only",
    "redaction-cost",
    "--rounds",
    str(ROUNDS),
    "--slices",
    "2",
    "--iterations",
    "20",
    "--seed",
    "7",
]
# Not --quick: the run that writes latest.*, as short as a quick one.
FULL_ARGS = [
    "--no-e2e",
    "--only",
    "in-process",
    "--only",
    "redaction-cost",
    "--rounds",
    "1",
    "--iterations",
    "5",
    "--seed",
    "3",
]


@pytest.fixture(scope="module")
def bench() -> Iterator[Any]:
    """`benchmarks` lives at the repository root, which the pytest script
    does not put on sys.path by itself."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(REPO_ROOT))
        import benchmarks.__main__ as bench_main

        yield bench_main


def _run(bench: Any, args: Sequence[str], results: Path) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench.main([*args, "--results-dir", str(results)])
    return {"code": code, "stdout": out.getvalue(), "dir": results}


@pytest.fixture(scope="module")
def quick_run(bench: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One in-process quick run shared by the table of checks below."""
    from benchmarks.workload import TOKEN

    run = _run(bench, QUICK_ARGS, tmp_path_factory.mktemp("bench-results"))
    run["token"] = TOKEN
    (run["json"],) = run["dir"].glob("bench-*.json")
    run["payload"] = json.loads(run["json"].read_text(encoding="utf-8"))
    return run


def _table(stdout: str) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| section"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[(cells[0], cells[1])] = cells
    return rows


def test_exits_zero_and_writes_json_and_chart_only(quick_run: dict[str, Any]) -> None:
    assert quick_run["code"] == 0
    files = sorted(p.name for p in quick_run["dir"].iterdir())
    stem = quick_run["json"].stem
    # No latest.* from a --quick run, no .tmp left behind (written atomically).
    assert files == [f"{stem}.json", f"{stem}.png"]
    assert (quick_run["dir"] / f"{stem}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(("section", "case", "judged"), ROWS, ids=[f"{s}: {c}" for s, c, _ in ROWS])
def test_row_printed_and_saved(
    quick_run: dict[str, Any], section: str, case: str, judged: bool
) -> None:
    printed = _table(quick_run["stdout"])[(section, case)]
    assert len(printed) == 5  # section, case, value, target, result
    assert printed[4] in ({"PASS", "MISS"} if judged else {"info"})
    assert (printed[3] != "—") is judged
    (saved,) = [
        r for r in quick_run["payload"]["rows"] if (r["section"], r["case"]) == (section, case)
    ]
    assert set(saved) == ROW_KEYS
    assert saved["result"] == printed[4]
    assert (saved["target"] is not None) is judged
    assert len(saved["extra"]["per_round"]) == ROUNDS  # every round's figure kept


def test_every_printed_row_is_in_the_table_of_cases(quick_run: dict[str, Any]) -> None:
    # A row added to a section must be added to ROWS (and so be checked) too.
    assert set(_table(quick_run["stdout"])) == {(s, c) for s, c, _ in ROWS}


def test_rows_follow_the_contract(quick_run: dict[str, Any]) -> None:
    from benchmarks.rows import judge

    for row in quick_run["payload"]["rows"]:
        assert set(row["value"]) == {"median", "min", "max"}, row["case"]
        if row["value"]["median"] is not None:
            assert row["value"]["min"] <= row["value"]["median"] <= row["value"]["max"]
        assert row["unit"] in {"x", "µs", "ms"}
        assert row["result"] == judge(row)
        if row["target"] is not None:
            assert set(row["target"]) == {"op", "value", "text"}
            assert row["target"]["op"] in {"<=", ">="}


def test_one_verdict_line_per_target(quick_run: dict[str, Any]) -> None:
    lines = quick_run["stdout"].splitlines()
    verdicts = [line for line in lines if line.startswith(("PASS: ", "MISS: "))]
    judged = [(s, c) for s, c, j in ROWS if j]
    assert len(verdicts) == len(judged)
    for (section, case), line in zip(judged, verdicts, strict=True):
        assert line.split(": ", 1)[1].startswith(f"{section}, {case}: ")
    assert any(line.startswith("Targets: ") and f"of {len(judged)}" in line for line in lines)


@pytest.mark.parametrize(
    ("key", "members"),
    [
        ("arguments", {"argv", "quick", "rounds", "target_ms", "iterations", "no_e2e"}),
        ("seeds", {"in_process", "end_to_end"}),
        ("machine", {"platform", "python", "cpus_usable", "versions", "orjson_used"}),
        ("in_process", {"self_checks", "round_orders", "variants"}),
    ],
)
def test_json_has_section(quick_run: dict[str, Any], key: str, members: set[str]) -> None:
    assert members <= set(quick_run["payload"][key])


def test_json_keeps_every_round(quick_run: dict[str, Any]) -> None:
    payload = quick_run["payload"]
    assert payload["seeds"]["in_process"] == 7
    assert payload["end_to_end"] is None  # --no-e2e
    assert set(payload["in_process"]["self_checks"]) == set(SECTIONS)
    assert len(payload["in_process"]["round_orders"]) == ROUNDS
    for variant in payload["in_process"]["variants"].values():
        assert len(variant["round_elapsed_ns"]) == ROUNDS
        assert variant["iterations"] == 20


def test_rows_name_measured_variants(quick_run: dict[str, Any]) -> None:
    variants = quick_run["payload"]["in_process"]["variants"]
    for row in quick_run["payload"]["rows"]:
        assert {row["subject"], row["baseline"]} <= set(variants), row["case"]


def test_credential_never_printed_or_saved(quick_run: dict[str, Any]) -> None:
    # Every request carries a bearer JWT; neither the report nor the raw
    # numbers may contain it (or any other: every JWT starts with "eyJ").
    saved = quick_run["json"].read_text(encoding="utf-8")
    for text, where in ((quick_run["stdout"], "stdout"), (saved, "JSON")):
        assert quick_run["token"] not in text, f"credential in the benchmark's {where}"
        assert "eyJ" not in text, f"a JWT in the benchmark's {where}"


def test_full_run_writes_latest_and_quick_run_keeps_it(bench: Any, tmp_path: Path) -> None:
    full = _run(bench, FULL_ARGS, tmp_path)
    assert full["code"] == 0
    (stamped,) = tmp_path.glob("bench-*.json")
    latest = {kind: tmp_path / f"latest.{kind}" for kind in ("md", "json", "png")}
    assert latest["json"].read_bytes() == stamped.read_bytes()
    assert latest["png"].read_bytes() == stamped.with_suffix(".png").read_bytes()
    markdown = latest["md"].read_text(encoding="utf-8")
    assert "| section | case |" in markdown
    assert "![benchmark chart](latest.png)" in markdown
    assert "Command: `.venv/bin/python -m benchmarks --no-e2e" in markdown
    assert "eyJ" not in markdown
    before = {kind: path.read_bytes() for kind, path in latest.items()}

    quick = _run(bench, QUICK_ARGS, tmp_path)
    assert quick["code"] == 0
    assert len(list(tmp_path.glob("bench-*.json"))) in (1, 2)  # same second: same stamp
    assert {kind: path.read_bytes() for kind, path in latest.items()} == before


def test_self_check_failure_stops_before_timing(
    bench: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure variant that would not rewrite anything (report-only)
    measures the wrong thing: the run stops with exit code 2, writes
    nothing, and says which variant without quoting any header."""
    from benchmarks import failure_cases, setup

    monkeypatch.setattr(
        failure_cases,
        "failure_options",
        lambda logger, **extra: setup.failure_options(logger, report_only=True, **extra),
    )
    code = bench.main([*QUICK_ARGS, "--results-dir", str(tmp_path)])
    assert code == 2
    assert not list(tmp_path.iterdir())
    err = capsys.readouterr().err
    assert "self-check failed: asgi.401.authhygiene" in err
    assert "eyJ" not in err


def _fake_e2e(outcome: str) -> Any:
    def run_end_to_end(**kwargs: Any) -> dict[str, Any]:
        from benchmarks import end_to_end

        assert isinstance(kwargs["rng"], random.Random)
        assert kwargs["rounds"] == end_to_end.QUICK.rounds  # --quick: the quick preset
        if outcome == "wrk missing":
            raise end_to_end.WrkMissingError("wrk not found at /usr/bin/wrk")
        if outcome == "server failed":
            raise RuntimeError("uvicorn.bare did not answer /ok")
        row = {
            "section": "end to end",
            "case": "uvicorn, success route",
            "subject": "e2e.uvicorn.ok.authhygiene",
            "baseline": "e2e.uvicorn.ok.bare",
            "metric": "req/s ratio",
            "unit": "x",
            "value": {"median": 0.99, "min": 0.98, "max": 1.0},
            "target": {"op": ">=", "value": 0.97, "text": "≥ 0.97x bare"},
            "result": "PASS",
            "detail": "stand-in",
            "extra": {},
        }
        return {"rows": [row], "raw": {"rounds": [{"stand-in": 1}]}}

    return run_end_to_end


@pytest.mark.parametrize(
    ("outcome", "code", "printed", "saved"),
    [
        ("ran", 0, "| end to end | uvicorn, success route | 0.99x [0.98, 1.00]", "rounds"),
        ("wrk missing", 0, "NOTE: end to end skipped: wrk not found", "skipped"),
        ("server failed", 2, "NOTE: end to end stopped: uvicorn.bare did not answer", "error"),
    ],
)
def test_end_to_end_section_wiring(
    bench: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    outcome: str,
    code: int,
    printed: str,
    saved: str,
) -> None:
    from benchmarks import end_to_end

    monkeypatch.setattr(end_to_end, "run_end_to_end", _fake_e2e(outcome))
    args = [*(a for a in QUICK_ARGS if a != "--no-e2e"), "--only", "e2e"]
    run = _run(bench, args, tmp_path)
    assert run["code"] == code
    assert printed in run["stdout"]
    (stamped,) = tmp_path.glob("bench-*.json")
    payload = json.loads(stamped.read_text(encoding="utf-8"))
    assert saved in payload["end_to_end"]
    assert payload["seeds"]["end_to_end"] is not None
    if outcome == "ran":
        assert payload["rows"][-1]["section"] == "end to end"


def _bench_process(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """`python -m benchmarks` with `args`, as `make bench` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_module_entry_point(tmp_path: Path) -> None:
    """`make bench` runs `python -m benchmarks`: the same, as a subprocess."""
    done = _bench_process([*QUICK_ARGS, "--results-dir", str(tmp_path)])
    assert done.returncode == 0, done.stderr[-2000:]
    assert set(_table(done.stdout)) == {(s, c) for s, c, _ in ROWS}
    (saved,) = tmp_path.glob("bench-*.json")
    # The subprocess drew its own tokens; every JWT starts with "eyJ" ('{"').
    assert "eyJ" not in done.stdout + done.stderr, "a JWT in the benchmark's output"
    assert "eyJ" not in saved.read_text(encoding="utf-8"), "a JWT in the benchmark's JSON"


@pytest.mark.parametrize("profiler", ["cprofile", "pyinstrument"])
def test_profile(tmp_path: Path, profiler: str) -> None:
    """A subprocess: under pytest's deep stacks pyinstrument's sampling of
    the failure path takes minutes instead of a second."""
    if profiler == "pyinstrument":
        pytest.importorskip("pyinstrument")
    args = [*QUICK_ARGS, "--profile-with", profiler, "--results-dir", str(tmp_path)]
    done = _bench_process(args)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("asgi.plain.authhygiene", "asgi.401.authhygiene", "wsgi.raise.authhygiene"):
        assert f"### {profiler}: {name}" in done.stdout
    assert "eyJ" not in done.stdout + done.stderr


def test_child_process_sections(tmp_path: Path) -> None:
    """Sections "refusal instructions (callgrind)" and "refusal flood
    memory", quick: every row in the contract, measured once; skipped with
    a note when valgrind is missing (`make bench` installs it)."""
    import shutil

    args = ["--quick", "--only", "instructions", "--only", "memory", "--seed", "5"]
    done = _bench_process([*args, "--results-dir", str(tmp_path)], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    has_valgrind = shutil.which("valgrind") is not None or Path("/usr/bin/valgrind").exists()
    expected = [r for r in CHILD_ROWS if has_valgrind or r[0] != INSTRUCTIONS]
    table = _table(done.stdout)
    assert set(table) == {(s, c) for s, c, _ in expected}
    if not has_valgrind:
        assert "NOTE: refusal instructions skipped: valgrind not found" in done.stdout
    (saved,) = tmp_path.glob("bench-*.json")
    payload = json.loads(saved.read_text(encoding="utf-8"))
    rows = {(r["section"], r["case"]): r for r in payload["rows"]}
    for section, case, judged in expected:
        row = rows[(section, case)]
        assert set(row) == ROW_KEYS
        assert table[(section, case)][4] in ({"PASS", "MISS"} if judged else {"info"})
        assert (row["target"] is not None) is judged
        value = row["value"]
        assert value["median"] == value["min"] == value["max"]  # measured once
        assert row["unit"] in {"x", "k instr", "MiB", "%"}
    assert payload["in_process"] is None
    assert "samples" in payload["memory"]["children"]["wsgi"]
    assert "eyJ" not in done.stdout + done.stderr, "a JWT in the benchmark's output"
    assert "eyJ" not in saved.read_text(encoding="utf-8"), "a JWT in the benchmark's JSON"


def test_verify_section(tmp_path: Path) -> None:
    """Section "verify", quick: its in-process rows, the JWKS refetch rows
    and (with valgrind) its instruction counts, in the row contract, no
    token anywhere."""
    import shutil

    args = ["--quick", "--only", "verify", "--seed", "11", "--results-dir", str(tmp_path)]
    done = _bench_process(args, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    has_valgrind = shutil.which("valgrind") is not None or Path("/usr/bin/valgrind").exists()
    expected = [r for r in VERIFY_ROWS if has_valgrind or r[0] != VERIFY_INSTRUCTIONS]
    table = _table(done.stdout)
    assert set(table) == {(s, c) for s, c, _ in expected}
    if not has_valgrind:
        assert "NOTE: verify instructions skipped: valgrind not found" in done.stdout
    (saved,) = tmp_path.glob("bench-*.json")
    payload = json.loads(saved.read_text(encoding="utf-8"))
    rows = {(r["section"], r["case"]): r for r in payload["rows"]}
    for section, case, judged in expected:
        row = rows[(section, case)]
        assert set(row) == ROW_KEYS
        assert table[(section, case)][4] in ({"PASS", "MISS"} if judged else {"info"})
        assert (row["target"] is not None) is judged
        assert row["unit"] in {"x", "µs", "ms", "k instr"}
    assert set(payload["in_process"]["self_checks"]) == {VERIFY}
    assert len(payload["verify_jwks"]["rounds"]) == 1
    assert payload["instructions"] is None
    assert payload["memory"] is None
    assert "eyJ" not in done.stdout + done.stderr, "a JWT in the benchmark's output"
    assert "eyJ" not in saved.read_text(encoding="utf-8"), "a JWT in the benchmark's JSON"


def test_throttle_section(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """Section "throttle", quick: its rows in the contract, the Redis
    counts measured once and the times per round, no token anywhere; a
    note instead where make's preflight could not install redis-server
    (anywhere else, a missing redis-server fails the test)."""
    args = ["--quick", "--only", "throttle", "--seed", "13", "--results-dir", str(tmp_path)]
    done = _bench_process(args, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    table = _table(done.stdout)
    (saved,) = tmp_path.glob("bench-*.json")
    payload = json.loads(saved.read_text(encoding="utf-8"))
    assert "eyJ" not in done.stdout + done.stderr, "a JWT in the benchmark's output"
    assert "eyJ" not in saved.read_text(encoding="utf-8"), "a JWT in the benchmark's JSON"
    assert set(payload["in_process"]["self_checks"]) == {THROTTLE}
    if "redis-server" in unavailable_here(pytestconfig):
        assert "NOTE: throttle skipped: redis-server not found" in done.stdout
        assert not table
        return
    assert set(table) == {(s, c) for s, c, _ in THROTTLE_ROWS}
    rows = {(r["section"], r["case"]): r for r in payload["rows"]}
    for section, case, judged in THROTTLE_ROWS:
        row = rows[(section, case)]
        assert set(row) == ROW_KEYS
        assert table[(section, case)][4] in ({"PASS", "MISS"} if judged else {"info"})
        assert (row["target"] is not None) is judged
        assert row["unit"] in {"x", "µs", "commands", "round trips"}
        if row["unit"] in {"commands", "round trips"}:
            value = row["value"]
            assert value["median"] == value["min"] == value["max"]  # counted once
        else:
            assert len(row["extra"]["per_round"]) == 3  # --quick's rounds
    for label in ("ASGI", "WSGI"):
        # Counts, not times: the same on any machine.
        for case, expected in (
            ("Redis commands per success", 0),
            ("round trips per counted failure", 1),
            ("round trips, the failure that fills a key", 2),
            ("Redis commands per blocked request", 0),
        ):
            assert rows[(THROTTLE, f"{label}: {case}")]["value"]["median"] == expected
        failure = rows[(THROTTLE, f"{label}: Redis commands per counted failure")]
        # One script counts both keys and reads both windows back.
        assert failure["extra"]["calls"]["evalsha"] == failure["extra"]["requests"]
