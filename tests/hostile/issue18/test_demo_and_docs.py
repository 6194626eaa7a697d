"""Issue 18 attack on the demo's --log and on commands the docs and the
examples show. Tests marked FAILS fail on the code as reviewed."""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "examples/demo.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("where", ["a_directory", "a_missing_directory"])
def test_demo_log_that_cannot_be_written_says_so_without_a_traceback(
    tmp_path: Path, where: str
) -> None:
    """FAILS now: IsADirectoryError / FileNotFoundError tracebacks."""
    path = tmp_path if where == "a_directory" else tmp_path / "missing" / "x.jsonl"
    done = _demo("--log", str(path))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-800:]
    assert str(path) in done.stderr


def test_demo_log_does_not_silently_overwrite_a_file_that_is_no_demo_log(
    tmp_path: Path,
) -> None:
    """FAILS now: `--log notes.txt` truncates the file without a word."""
    precious = tmp_path / "notes.txt"
    precious.write_text("precious, not a log\n")
    done = _demo("--log", str(precious))
    assert precious.read_text().startswith("precious") or done.returncode != 0


def test_demo_prints_a_logs_command_that_works_as_written_for_any_path(
    tmp_path: Path,
) -> None:
    """FAILS now: the path is printed unquoted, so a space splits it."""
    log = tmp_path / "with space" / "auth.jsonl"
    log.parent.mkdir()
    done = _demo("--log", str(log))
    assert done.returncode == 0, done.stderr[-800:]
    printed = next(
        line.strip().removeprefix("$ ")
        for line in done.stdout.splitlines()
        if "authhygiene logs " in line and line.strip().startswith("$")
    )
    assert shlex.split(printed)[-1] == str(log)


# Commands in the examples' docstrings run from where they say, without an
# activated venv: a tool must be called by its .venv path.
_TOOLS = {"gunicorn", "uvicorn", "hypercorn", "flask", "daphne", "authhygiene", "python", "pip"}
_OR_PREFIX = re.compile(r"^#\s*or\b[^:]*:\s*")
_ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


def _docstring_commands() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "examples").rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        for line in doc.splitlines():
            command = _OR_PREFIX.sub("", line.strip())
            try:
                words = shlex.split(command)
            except ValueError:
                continue
            while words and _ENV_ASSIGNMENT.match(words[0]):
                words.pop(0)
            if words and Path(words[0]).name in _TOOLS:
                found.append((str(path.relative_to(ROOT)), command))
    return found


@pytest.mark.parametrize(("path", "command"), _docstring_commands())
def test_example_docstring_commands_name_the_venv(path: str, command: str) -> None:
    """FAILS now for examples/flask_app.py (`gunicorn --chdir examples ...`)
    and examples/django_project/manage.py (`gunicorn ...`, `uvicorn ...`):
    bare names, `command not found` without an activated venv."""
    tool = next(w for w in shlex.split(command) if not _ENV_ASSIGNMENT.match(w))
    assert "/.venv/bin/" in "/" + tool, f"{path}: {command!r} calls {tool} by its bare name"


def test_the_logs_page_shows_what_both_copies_print() -> None:
    """docs/guide/logs.md shows the summary of the demo log's JSON copy and
    says the console copy differs only in the rendering it names."""
    text = (ROOT / "docs" / "guide" / "logs.md").read_text()
    lead = "The first prints this; the second prints the same, but for `(28 console)`"
    block = text.split(lead, 1)[1].split("```", 2)[1].strip("\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for name, shown in (("demo.jsonl", "(28 JSON)"), ("demo-console.log", "(28 console)")):
        out = subprocess.run(
            [sys.executable, "-m", "authhygiene", "logs", f"examples/logs/{name}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip("\n") == block.replace("(28 JSON)", shown).strip("\n"), name


# The getting-started pages' `assert_auth_hygiene` snippet, run against the
# example each page starts ("Run the example").
@pytest.mark.parametrize(
    ("module", "attribute"),
    [("fastapi_app", "app"), ("starlette_app", "app"), ("flask_app", "app.wsgi_app")],
)
def test_the_getting_started_test_snippet_passes_on_the_pages_own_example(
    module: str, attribute: str
) -> None:
    """FAILS now for starlette_app: `other-scheme: status 403` (its
    `@requires` 403 for a Basic request is kept), so the snippet shown on
    docs/getting-started/starlette.md fails for the app that page runs."""
    import importlib

    from authhygiene.testing import assert_auth_hygiene

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    token = subprocess.run(
        [sys.executable, "examples/demo.py", "--token", "me items"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        app: object = importlib.import_module(module)
        for part in attribute.split("."):
            app = getattr(app, part)
        assert_auth_hygiene(app, "/users/me", token=token)
    finally:
        sys.path.remove(str(ROOT / "examples"))
