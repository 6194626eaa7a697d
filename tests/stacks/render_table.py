"""Print the README's "what your stack answered before / what it answers now"
table from a live run: every case in cases.py sent to each stack without and
with the one line.

    .venv/bin/python -m tests.stacks.render_table

The output goes between `<!-- stacks-table:start -->` and
`<!-- stacks-table:end -->` in README.md; test_stacks.py checks that the
table there still matches a live run in its structural columns (stack, case,
statuses, reasons).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .cases import CASES, STACK_TITLES, Case
from .live import LiveStacks, before_cell, now_cell, run

__all__ = ["END", "START", "render", "rows", "structure"]

START = "<!-- stacks-table:start -->"
END = "<!-- stacks-table:end -->"
HEADER = (
    "| stack | case | before: status · challenge · what it said |"
    " now: status · `reason` · `error` |\n"
    "| --- | --- | --- | --- |"
)


def rows(live: LiveStacks, cases: Iterable[Case] = CASES) -> list[tuple[str, str, str, str]]:
    out = []
    for case in cases:
        bare = run(live, case, "bare").reply
        now = run(live, case, "wrapped").reply
        out.append((STACK_TITLES[case.stack], case.name, before_cell(bare), now_cell(now, bare)))
    return out


def render(table_rows: Iterable[tuple[str, str, str, str]]) -> str:
    lines = [HEADER]
    lines.extend("| " + " | ".join(row) + " |" for row in table_rows)
    return "\n".join(lines)


_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_STATUS_RE = re.compile(r"\b([1-5]\d\d)\b")
_REASON_RE = re.compile(r"`([a-z_]+)`|\b(unchanged|changed|server error)\b")


def structure(markdown: str) -> list[tuple[str, str, str, str, str]]:
    """(stack, case, before status, now status, reason) of each data row:
    what a table must keep when wording, hints or times change."""
    out = []
    for line in markdown.splitlines():
        line = line.strip()
        if not line.startswith("|") or line.startswith("| stack") or line.startswith("| ---"):
            continue
        cells = [cell.strip() for cell in _CELL_SPLIT_RE.split(line.strip("|"))]
        if len(cells) != 4:
            out.append(("malformed row", line, "", "", ""))
            continue
        stack, case, before, now = cells
        before_status = _STATUS_RE.search(before)
        now_status = _STATUS_RE.search(now)
        reason = _REASON_RE.search(now)
        out.append(
            (
                stack,
                case,
                before_status.group(1) if before_status else "",
                now_status.group(1) if now_status else "",
                (reason.group(1) or reason.group(2)) if reason else "",
            )
        )
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir, LiveStacks(Path(workdir)) as live:
        print(START)
        print(render(rows(live)))
        print(END)


if __name__ == "__main__":
    main()
