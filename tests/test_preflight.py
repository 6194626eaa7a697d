"""tests/preflight.py, the step `make test` runs first: which packages it
finds, how it installs the missing ones, and what it records and says when
it cannot. No test runs the real apt-get or sudo, or needs root: PATH holds
only fakes of them, which log their calls and "install" by creating the
program; the user id is given with --uid."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.preflight import (
    NO_APT_GET,
    NO_SUDO,
    PACKAGES,
    SUDO_ASKS,
    CannotInstall,
    Installs,
    decide_installer,
    python_problem,
    read_record,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "preflight.py"

# Logs each call (argv and DEBIAN_FRONTEND); `install` creates the package's
# program in the directory on PATH, unless told to fail or to put nothing.
FAKE_APT_GET = """#!{python}
import os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(["apt-get", *sys.argv[1:]]) + "\\n")
    log.write("DEBIAN_FRONTEND=" + os.environ.get("DEBIAN_FRONTEND", "") + "\\n")
if sys.argv[1] == "install":
    if os.environ.get("FAKE_APT") == "fails":
        sys.exit(100)
    if os.environ.get("FAKE_APT") != "puts nothing":
        program = os.path.join(os.environ["FAKE_BIN"], sys.argv[-1])
        with open(program, "w") as made:
            made.write("#!/bin/sh\\n")
        os.chmod(program, 0o755)
"""

# `sudo -n true` answers as told; anything else runs as given.
FAKE_SUDO = """#!{python}
import os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(["sudo", *(os.path.basename(a) for a in args)]) + "\\n")
if args == ["-n", "true"]:
    sys.exit(0 if os.environ.get("FAKE_SUDO") == "passwordless" else 1)
if args[0] == "-n":
    args = args[1:]
os.execv(args[0], args)
"""


def _fake(path: Path, text: str) -> None:
    path.write_text(text.format(python=sys.executable), encoding="utf-8")
    path.chmod(0o755)


@dataclass(frozen=True)
class Machine:
    """What the preflight finds: which fakes are on PATH, who runs it."""

    apt_get: bool = True
    sudo: str | None = None  # "passwordless", "asks", or no sudo at all
    uid: int = 1000
    present: bool = False  # tmux already installed
    apt: str = "works"  # or "fails", "puts nothing"
    ci: str | None = None


@dataclass(frozen=True)
class Case:
    id: str
    machine: Machine
    args: tuple[str, ...] = ()
    status: int = 0
    calls: tuple[str, ...] = ()
    recorded: dict[str, str] = field(default_factory=dict)
    says: str = ""  # on stdout
    errs: str = ""  # on stderr


TMUX = PACKAGES["tmux"]
UPDATE = ("apt-get update -qq", "apt-get install -y -qq tmux")

CASES = [
    Case("present: nothing to do", Machine(apt_get=False, present=True), says="present"),
    Case("root: apt-get installs", Machine(uid=0), calls=UPDATE, says="installed"),
    Case(
        "not root, passwordless sudo: sudo -n apt-get installs",
        Machine(sudo="passwordless"),
        calls=(
            "sudo -n true",
            "sudo -n apt-get update -qq",
            "apt-get update -qq",
            "sudo -n apt-get install -y -qq tmux",
            "apt-get install -y -qq tmux",
        ),
        says="installed",
    ),
    Case(
        "no apt-get (macOS): recorded, make test goes on",
        Machine(apt_get=False, uid=0),
        recorded={"tmux": NO_APT_GET.reason(TMUX)},
        says="tmux: missing, and apt-get is not available here.",
    ),
    Case(
        "not root, no sudo: recorded",
        Machine(),
        recorded={"tmux": NO_SUDO.reason(TMUX)},
        says="you are not root and there is no sudo",
    ),
    Case(
        "not root, sudo asks for a password: recorded, never asked",
        Machine(sudo="asks"),
        calls=("sudo -n true",),
        recorded={"tmux": SUDO_ASKS.reason(TMUX)},
        says="sudo asks for a password",
    ),
    Case(
        "CI=false is not CI: recorded",
        Machine(apt_get=False, ci="false"),
        recorded={"tmux": NO_APT_GET.reason(TMUX)},
    ),
    Case(
        "CI: cannot install is an error",
        Machine(apt_get=False, ci="true"),
        status=1,
        errs="CI is set: every test must run here",
    ),
    Case(
        "make tmux without apt-get: an error",
        Machine(apt_get=False),
        args=("--install",),
        status=1,
        errs=NO_APT_GET.reason(TMUX),
    ),
    Case(
        "make tmux, sudo asks: sudo may ask",
        Machine(sudo="asks"),
        args=("--install",),
        calls=(
            "sudo -n true",
            "sudo apt-get update -qq",
            "apt-get update -qq",
            "sudo apt-get install -y -qq tmux",
            "apt-get install -y -qq tmux",
        ),
        says="installed",
    ),
    Case(
        "apt-get fails: an error, as before",
        Machine(uid=0, apt="fails"),
        status=1,
        calls=UPDATE,
        errs="apt-get install tmux` failed (exit 100)",
    ),
    Case(
        "apt-get puts it elsewhere: an error",
        Machine(uid=0, apt="puts nothing"),
        status=1,
        calls=UPDATE,
        errs="apt-get installed tmux, but it is still not on PATH",
    ),
]


def _run(tmp_path: Path, machine: Machine, *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if machine.apt_get:
        _fake(bin_dir / "apt-get", FAKE_APT_GET)
    if machine.sudo is not None:
        _fake(bin_dir / "sudo", FAKE_SUDO)
    if machine.present:
        _fake(bin_dir / "tmux", "#!/bin/sh\n")
    env = {
        "PATH": str(bin_dir),
        "FAKE_BIN": str(bin_dir),
        "FAKE_LOG": str(tmp_path / "calls"),
        "FAKE_APT": machine.apt,
        "FAKE_SUDO": machine.sudo or "",
    }
    if machine.ci is not None:
        env["CI"] = machine.ci
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--uid", str(machine.uid), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_what_the_preflight_does(tmp_path: Path, case: Case) -> None:
    record = tmp_path / "venv" / "unavailable-packages"
    done = _run(tmp_path, case.machine, "--record", str(record), *case.args, "tmux")
    assert done.returncode == case.status, done.stdout + done.stderr
    log = tmp_path / "calls"
    lines = log.read_text().splitlines() if log.exists() else []
    assert tuple(line for line in lines if not line.startswith("DEBIAN_FRONTEND=")) == case.calls
    assert {line for line in lines if line.startswith("DEBIAN_FRONTEND=")} <= {
        "DEBIAN_FRONTEND=noninteractive"
    }
    assert read_record(record) == case.recorded
    assert case.says in done.stdout
    assert case.errs in done.stderr
    assert done.stdout.startswith("make test needs:\n  Python ")


def test_the_list_names_each_package_and_what_it_is_for(tmp_path: Path) -> None:
    args = ("--for", "make x", "--at", "wrk=/nonexistent/wrk", "tmux", "wrk")
    done = _run(tmp_path, Machine(apt_get=False, present=True), *args)
    lines = done.stdout.splitlines()
    assert lines[0] == "make x needs:"
    assert re.fullmatch(r"  Python +3\.\d+\.\d+ \(3\.11\+ needed\) +/.+", lines[1])
    assert re.fullmatch(r"  tmux +present .*/bin/tmux +for the audit's terminal test", lines[2])
    assert lines[3].split(maxsplit=2) == [
        "wrk",
        "MISSING",
        "for the end-to-end benchmarks and their smoke tests",
    ]
    assert lines[5:] == [
        "wrk: missing, and apt-get is not available here.",
        "make x goes on without them. To have them too:",
        "  wrk: install it yourself, to be found at /usr/bin/wrk, or run on Debian as root",
    ]


def test_at_replaces_where_the_package_is_looked_for(tmp_path: Path) -> None:
    done = _run(
        tmp_path, Machine(apt_get=False, present=True), "--at", "tmux=/nonexistent/tmux", "tmux"
    )
    assert "tmux          MISSING" in done.stdout
    made = tmp_path / "chromium"
    _fake(made, "#!/bin/sh\n")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--at", f"chromium={made}", "--at", "wrk=", "chromium"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"present {made}" in done.stdout


@pytest.mark.parametrize(
    "args",
    [("no-such-package",), ("--at", "tmux", "tmux"), ("--at", "vim=/usr/bin/vim", "tmux")],
)
def test_bad_usage_is_refused(args: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert ", ".join(PACKAGES) in done.stderr


def test_without_packages_it_checks_python_only_and_quietly() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


# --- the decisions alone -------------------------------------------------------

APT, SUDO = "/usr/bin/apt-get", "/usr/bin/sudo"


@pytest.mark.parametrize(
    ("apt_get", "uid", "sudo", "sudo_asks", "may_ask", "decided"),
    [
        (None, 0, SUDO, False, True, NO_APT_GET),
        (APT, 0, None, True, False, Installs((APT,))),
        (APT, 1000, None, False, True, NO_SUDO),
        (APT, 1000, SUDO, False, False, Installs((SUDO, "-n", APT))),
        (APT, 1000, SUDO, True, False, SUDO_ASKS),
        (APT, 1000, SUDO, True, True, Installs((SUDO, APT))),
    ],
)
def test_how_apt_get_runs_here(
    apt_get: str | None,
    uid: int,
    sudo: str | None,
    sudo_asks: bool,
    may_ask: bool,
    decided: Installs | CannotInstall,
) -> None:
    assert decide_installer(apt_get, uid, sudo, sudo_asks, may_ask) == decided


@pytest.mark.parametrize(
    ("version", "too_old"),
    [((3, 11, 0), False), ((3, 13, 1), False), ((4, 0, 0), False), ((3, 10, 13), True)],
)
def test_python_older_than_3_11_is_refused_with_what_to_do(
    version: tuple[int, int, int], too_old: bool
) -> None:
    said = python_problem(version, "/usr/bin/python3")
    if not too_old:
        assert said is None
        return
    assert said is not None
    assert said.startswith("Python 3.10.13 (/usr/bin/python3) is too old")
    assert "make test PYTHON=python3.11" in said
    assert "make clean" in said


def test_the_reasons_say_what_to_do() -> None:
    assert NO_APT_GET.reason(PACKAGES["chromium"]) == (
        "chromium is not installed and apt-get is not available here (install it yourself,"
        " to be found at /usr/bin/chromium, or run on Debian as root)"
    )
    assert NO_SUDO.reason(PACKAGES["redis-server"]).endswith(
        "(run `make redis` as root, or install it yourself, to be found"
        " on PATH or at /usr/bin/redis-server)"
    )
    assert "`make nginx` installs it" in SUDO_ASKS.reason(PACKAGES["nginx"])


def test_a_missing_record_is_nothing_unavailable(tmp_path: Path) -> None:
    assert read_record(tmp_path / "none") == {}


# --- the table and the markers agree ------------------------------------------

_MARK = re.compile(r"mark\.needs\(([^)]*)\)")


def test_each_package_names_the_files_whose_tests_need_it() -> None:
    marked: dict[str, set[str]] = {name: set() for name in PACKAGES}
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.name == "test_needs.py":
            continue  # its markers are in the test files it writes
        for args in _MARK.findall(path.read_text(encoding="utf-8")):
            for name in re.findall(r'"([^"]+)"', args):
                marked[name].add(path.relative_to(ROOT).as_posix())
    assert {name: set(p.used_by) for name, p in PACKAGES.items()} == marked
