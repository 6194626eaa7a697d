"""Issue 18b quick attack on `examples/demo.py --log` (`log_path_refused`)
and the docs' snippet runner (`tests/docs/snippets.py`).

Rows FAIL on the code as reviewed: evidence, not xfail."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.docs.snippets import ROOT, markers_astray, snippets, unmarked


def _demo() -> ModuleType:
    # demo.py imports its neighbours (fastapi_app) as a script would.
    if str(ROOT / "examples") not in sys.path:
        sys.path.insert(0, str(ROOT / "examples"))
    spec = importlib.util.spec_from_file_location("demo_issue18b", ROOT / "examples" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _someone_elses_structlog_log(path: Path) -> None:
    """A production app's JSON log: every structlog JSON line has "event"."""
    lines = [
        {
            "event": "user.login",
            "user": "bob",
            "level": "info",
            "timestamp": "2026-12-07T06:19:21Z",
        },
        {"event": "order.paid", "order": 4711, "level": "info"},
    ] * 500
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _a_fifo(path: Path) -> None:
    os.mkfifo(path)  # open(path, "w") blocks until someone reads it: the demo hangs


NOT_DEMO_LOGS = {
    # "it never truncates someone's file": any structlog JSON log passes the
    # check (its first line is an object with "event"), and _Tee opens it "w".
    "another_apps_structlog_json_log": _someone_elses_structlog_log,
    # Not a regular file: exists, st_size 0, so accepted.
    "fifo": _a_fifo,
}


@pytest.mark.parametrize("make", list(NOT_DEMO_LOGS.values()), ids=list(NOT_DEMO_LOGS))
def test_log_refuses_what_is_no_earlier_demo_log(make: object, tmp_path: Path) -> None:
    target = tmp_path / "app.jsonl"
    make(target)  # type: ignore[operator]
    # FAILS now: None, so `demo.py --log app.jsonl` would truncate/hang on it.
    assert _demo().log_path_refused(str(target)) is not None


# Markdown a docs page may hold, and the runnable bodies the runner must
# find in it (or the unmarked sh blocks it must report).
RUNNABLE_FOUND = {
    # An empty "not run" block: its body runs lazily to the NEXT block's
    # opening fence, swallowing the next block's marker; the runnable block
    # after it is silently never run, and its marker is not "astray" either.
    "after_an_empty_not_run_block": (
        "<!-- not run: shown only -->\n```sh\n```\n\nThen:\n\n"
        "<!-- runnable -->\n```sh\nfalse\n```\n",
        ["false"],
    ),
}


def _page(text: str) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    folder = tempfile.TemporaryDirectory(dir=Path(__file__).parent)
    page = Path(folder.name) / "page.md"
    page.write_text(text, encoding="utf-8")
    return folder, page


@pytest.mark.parametrize(
    ("text", "bodies"), list(RUNNABLE_FOUND.values()), ids=list(RUNNABLE_FOUND)
)
def test_a_marked_runnable_block_is_run_or_reported(text: str, bodies: list[str]) -> None:
    folder, page = _page(text)
    with folder:
        found = [s.body for s in snippets(page) if s.runnable]
        # FAILS now: [] and no marker astray: the runnable `false` never runs.
        assert found == bodies or markers_astray(page) != []


# sh blocks a reader sees on a newcomer page that the "every sh block says
# whether it is run" rule does not see (neither run nor reported unmarked).
UNSEEN_SH_BLOCKS = {
    "mkdocs_title_attribute": '```sh title="Try it"\nmake demo\n```\n',
    "tilde_fence": "~~~sh\nmake demo\n~~~\n",
}


@pytest.mark.parametrize("text", list(UNSEEN_SH_BLOCKS.values()), ids=list(UNSEEN_SH_BLOCKS))
def test_every_sh_block_is_seen(text: str) -> None:
    folder, page = _page(text)
    with folder:
        # FAILS now: 0 snippets, 0 unmarked.
        assert len(snippets(page)) + len(unmarked(page)) >= 1
