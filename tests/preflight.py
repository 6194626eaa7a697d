"""What `make test` needs besides Python, said before it starts.

The Makefile runs this with the machine's own Python, before .venv exists,
so it uses the standard library only (and says so, and stops, when that
Python is older than the project's 3.11):

    python3 tests/preflight.py [--record FILE] [--install] PACKAGE...

It prints one line per need: the Python it runs on, then each Debian
package, present or missing, and what it is for. A missing package is
installed with apt-get, as root or through passwordless sudo. Where that is
not possible (no apt-get, as on macOS; not root and `sudo -n true` fails),
the package is written to FILE with the reason, and the tests that carry
`pytest.mark.needs(package)` are skipped with that reason (tests/needs.py).
Nothing is skipped because a program is missing: only because this step
found it could not install it. Under CI (the `CI` variable set) and for
`--install` (`make browser`, ...), a package that cannot be installed is an
error instead: there, every test must run.

Exit status: 0 when every package is present or recorded, 1 when Python is
too old or a package could not be had where it must be, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MINIMUM_PYTHON",
    "PACKAGES",
    "CannotInstall",
    "Installs",
    "Package",
    "decide_installer",
    "main",
    "python_problem",
    "read_record",
]

MINIMUM_PYTHON = (3, 11)


@dataclass(frozen=True)
class Package:
    """A Debian package some tests run, looked for where those tests look."""

    name: str
    program: str | None  # looked up on PATH first, as the tests do
    path: str | None  # else this fixed path, as the tests do
    target: str  # the make rule that installs it alone
    used_for: str
    used_by: tuple[str, ...]  # the test files that carry needs(name)

    def where(self) -> str:
        places = ["on PATH"] if self.program else []
        places += [f"at {self.path}"] if self.path else []
        return " or ".join(places)


# One row per package: where the tests find it (the harness or helper named
# in the comment), what it is for, which test files carry its marker.
PACKAGES: dict[str, Package] = {
    package.name: package
    for package in (
        # tests/browser/harness.py: CHROMIUM, launched by that path only.
        Package(
            "chromium",
            None,
            "/usr/bin/chromium",
            "browser",
            "the browser tests in tests/browser (CORS, the docs site)",
            (
                "tests/browser/test_cors_browser.py",
                "tests/browser/test_cors_escaped.py",
                "tests/browser/test_docs_site.py",
                "tests/browser/test_example_page.py",
            ),
        ),
        # benchmarks/end_to_end.py: WRK, by that path only.
        Package(
            "wrk",
            None,
            "/usr/bin/wrk",
            "wrk",
            "the end-to-end benchmarks and their smoke tests",
            ("tests/test_benchmarks_end_to_end.py",),
        ),
        # benchmarks/throttle_redis.py: find_redis_server().
        Package(
            "redis-server",
            "redis-server",
            "/usr/bin/redis-server",
            "redis",
            "the throttle's shared-state tests and benchmark",
            (
                "tests/django/test_throttle.py",
                "tests/test_example_throttle.py",
                "tests/throttle/test_adapters.py",
                "tests/throttle/test_burst.py",
                "tests/throttle/test_fleet_e2e.py",
                "tests/throttle/test_fork.py",
                "tests/throttle/test_redis_store.py",
            ),
        ),
        # tests/audit/nginx.py: find_nginx().
        Package(
            "nginx",
            "nginx",
            "/usr/sbin/nginx",
            "nginx",
            "the audit's tests against a stock nginx",
            ("tests/audit/test_nginx.py",),
        ),
        # tests/audit/test_terminal.py: runs `tmux` from PATH.
        Package(
            "tmux",
            "tmux",
            None,
            "tmux",
            "the audit's terminal test",
            ("tests/audit/test_terminal.py",),
        ),
        # tests/docs/test_snippets.py: the getting-started pages' commands
        # call `curl` from PATH, as a reader does.
        Package(
            "curl",
            "curl",
            None,
            "curl",
            "the docs' snippet test (the getting-started pages' commands)",
            ("tests/docs/test_snippets.py",),
        ),
        # benchmarks/callgrind.py: find_valgrind(). `make bench` only: the
        # benchmark smoke tests check the note printed without it.
        Package(
            "valgrind",
            "valgrind",
            "/usr/bin/valgrind",
            "valgrind",
            "the benchmarks' instruction counts (make bench)",
            (),
        ),
    )
}


def python_problem(version: Sequence[int], executable: str) -> str | None:
    """What to say when this Python is too old for the project, else None."""
    if tuple(version[:2]) >= MINIMUM_PYTHON:
        return None
    found = ".".join(str(part) for part in version[:3])
    minimum = ".".join(str(part) for part in MINIMUM_PYTHON)
    return (
        f"Python {found} ({executable}) is too old: authhygiene needs Python {minimum}+.\n"
        f"Install Python {minimum} or newer and name it, e.g. make test PYTHON=python{minimum}\n"
        "(if an older Python already made .venv, `make clean` first)."
    )


# --- how this machine installs a package, or why it cannot ------------------


@dataclass(frozen=True)
class Installs:
    """apt-get can run here: `command` is what precedes its arguments."""

    command: tuple[str, ...]


@dataclass(frozen=True)
class CannotInstall:
    """apt-get cannot run here: why, and what a person can do instead."""

    why: str
    advice: str  # {target} and {where} are the package's

    def advise(self, package: Package) -> str:
        return self.advice.format(target=package.target, where=package.where())

    def reason(self, package: Package) -> str:
        return f"{package.name} is not installed and {self.why} ({self.advise(package)})"


NO_APT_GET = CannotInstall(
    "apt-get is not available here",
    "install it yourself, to be found {where}, or run on Debian as root",
)
NO_SUDO = CannotInstall(
    "you are not root and there is no sudo",
    "run `make {target}` as root, or install it yourself, to be found {where}",
)
SUDO_ASKS = CannotInstall(
    "you are not root and sudo asks for a password (`sudo -n true` failed)",
    "`make {target}` installs it, sudo asking for your password, then run make test again",
)


def decide_installer(
    apt_get: str | None, uid: int, sudo: str | None, sudo_asks: bool, may_ask: bool
) -> Installs | CannotInstall:
    """How apt-get runs here: as root, through sudo (`-n`: never asking,
    unless a person asked for this one package), or not at all."""
    if apt_get is None:
        return NO_APT_GET
    if uid == 0:
        return Installs((apt_get,))
    if sudo is None:
        return NO_SUDO
    if not sudo_asks:
        return Installs((sudo, "-n", apt_get))
    if may_ask:
        return Installs((sudo, apt_get))
    return SUDO_ASKS


# --- I/O ----------------------------------------------------------------------


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _command(name: str) -> str | None:
    """A command as given: a path, or a name looked up on PATH."""
    if os.sep in name:
        return name if _executable(name) else None
    return shutil.which(name)


def locate(package: Package, at: str | None) -> str | None:
    """Where the tests would find the package's program, or None. `at`
    (the Makefile's CHROMIUM=..., WRK=...) replaces the usual places."""
    if at is not None:
        return at if _executable(at) else None
    found = shutil.which(package.program) if package.program else None
    if found is None and package.path is not None and _executable(package.path):
        found = package.path
    return found


def _sudo_asks(sudo: str) -> bool:
    done = subprocess.run(
        [sudo, "-n", "true"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode != 0


def _apt_get(command: tuple[str, ...], *args: str) -> int:
    # apt-get's progress goes to /dev/null; its errors stay on stderr.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        [*command, *args], stdout=subprocess.DEVNULL, env=env, check=False
    ).returncode


def read_record(path: Path) -> dict[str, str]:
    """The packages a preflight could not install, each with its reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    unavailable = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, reason = line.partition("\t")
            unavailable[name] = reason
    return unavailable


def _write_record(path: Path, unavailable: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by tests/preflight.py: the Debian packages it could not install here.",
        "# Tests marked needs(<package>) are skipped with the reason beside it.",
        *(f"{name}\t{reason}" for name, reason in unavailable.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- the run ------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the command line and environment asked for."""

    packages: tuple[Package, ...]
    at: dict[str, str]
    apt_get: str
    sudo: str
    uid: int
    record: Path | None
    install: bool  # a person asked for these packages (`make browser`)
    ci: bool
    what: str


def _row(name: str, state: str, used_for: str = "") -> str:
    return f"  {name:<13} {state:<30} {used_for}".rstrip()


def _installer(settings: Settings) -> Installs | CannotInstall:
    apt_get = _command(settings.apt_get)
    sudo = _command(settings.sudo)
    asks = apt_get is not None and settings.uid != 0 and sudo is not None and _sudo_asks(sudo)
    return decide_installer(apt_get, settings.uid, sudo, asks, may_ask=settings.install)


def _install(settings: Settings, missing: list[Package], installer: Installs) -> list[str]:
    """apt-get for each missing package; the errors, if any."""
    shown = " ".join(installer.command)
    print(f"Installing {', '.join(p.name for p in missing)} with {shown} (a minute or two)")
    code = _apt_get(installer.command, "update", "-qq")
    if code != 0:
        return [f"`{shown} update` failed (exit {code}); its messages are above."]
    errors = []
    for package in missing:
        code = _apt_get(installer.command, "install", "-y", "-qq", package.name)
        found = locate(package, settings.at.get(package.name))
        if code != 0:
            errors.append(f"`{shown} install {package.name}` failed (exit {code}).")
        elif found is None:
            errors.append(
                f"apt-get installed {package.name}, but it is still not {package.where()}."
            )
        else:
            print(_row(package.name, f"installed {found}"))
    return errors


def _cannot(settings: Settings, missing: list[Package], cannot: CannotInstall) -> list[str]:
    names = ", ".join(p.name for p in missing)
    if settings.install:
        return [cannot.reason(p) + "." for p in missing]
    if settings.ci:
        return [
            f"{names}: missing, and {cannot.why}. CI is set: every test must"
            " run here, so this is an error, not a reason to skip tests."
        ]
    print(f"\n{names}: missing, and {cannot.why}.")
    if settings.record is None:
        print(f"{settings.what} goes on without them. To have them too:")
    else:
        print(f"{settings.what} goes on without them: the tests that need them are skipped,")
        print("and pytest's summary counts them with the reason. To run them too:")
    for package in missing:
        print(f"  {package.name}: {cannot.advise(package)}")
    return []


def run(settings: Settings) -> int:
    executable = sys.executable or "python3"
    problem = python_problem(sys.version_info, executable)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    if not settings.packages:
        return 0
    print(f"{settings.what} needs:")
    version = ".".join(str(part) for part in sys.version_info[:3])
    minimum = ".".join(str(part) for part in MINIMUM_PYTHON)
    print(_row("Python", f"{version} ({minimum}+ needed)", executable))
    missing = []
    for package in settings.packages:
        found = locate(package, settings.at.get(package.name))
        state = f"present {found}" if found else "MISSING"
        print(_row(package.name, state, f"for {package.used_for}"))
        if found is None:
            missing.append(package)
    unavailable: dict[str, str] = {}
    errors: list[str] = []
    if missing:
        installer = _installer(settings)
        if isinstance(installer, Installs):
            errors = _install(settings, missing, installer)
        else:
            errors = _cannot(settings, missing, installer)
            if not errors:
                unavailable = {p.name: installer.reason(p) for p in missing}
    if settings.record is not None:
        _write_record(settings.record, unavailable)
    for error in errors:
        print(error, file=sys.stderr)
    return 1 if errors else 0


def _parse(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="tests/preflight.py", description=__doc__.split("\n")[0])
    parser.add_argument("packages", nargs="*", metavar="PACKAGE", help=", ".join(PACKAGES))
    parser.add_argument("--record", type=Path, help="write the packages not installable here")
    parser.add_argument("--install", action="store_true", help="a package not had is an error")
    parser.add_argument(
        "--at", action="append", default=[], metavar="PACKAGE=PATH", help="look only there"
    )
    parser.add_argument("--apt-get", default="apt-get", help="apt-get's name or path")
    parser.add_argument("--sudo", default="sudo", help="sudo's name or path")
    parser.add_argument("--uid", type=int, default=None, help="(tests) the user id to act as")
    parser.add_argument("--for", dest="what", default="make test", help="what needs them")
    args = parser.parse_args(argv)
    for name in args.packages:
        if name not in PACKAGES:
            parser.error(f"{name}: not a package of {', '.join(PACKAGES)}")
    at = {}
    for given in args.at:
        name, sign, path = given.partition("=")
        if name not in PACKAGES or not sign:
            parser.error(
                f"--at {given}: expected PACKAGE=PATH, PACKAGE one of {', '.join(PACKAGES)}"
            )
        if path:  # an empty PATH (CHROMIUM unset in the Makefile): the usual places
            at[name] = path
    ci = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
    return Settings(
        packages=tuple(PACKAGES[name] for name in dict.fromkeys(args.packages)),
        at=at,
        apt_get=args.apt_get,
        sudo=args.sudo,
        uid=os.geteuid() if args.uid is None else args.uid,
        record=args.record,
        install=args.install,
        ci=ci,
        what=args.what,
    )


def main(argv: Sequence[str] | None = None) -> int:
    # Each line out before apt-get writes, in a CI log as on a terminal.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True)
    return run(_parse(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
