"""Print the docs' "what your stack answered before / what it answers now"
table from a live run: every case in cases.py sent to each stack without the
middleware, with the one line, and with the one line plus `verify=` and
`require=` (verified.py).

    .venv/bin/python -m tests.stacks.render_table          # print the block
    .venv/bin/python -m tests.stacks.render_table --write  # replace it in docs/guide/stacks.md

The output goes between `<!-- stacks-table:start -->` and
`<!-- stacks-table:end -->` in docs/guide/stacks.md (`--write` puts it there and touches
nothing else); test_stacks.py checks that the table there still matches a
live run in its structural columns (stack, case, statuses, reasons) and
that the notes under it are the ones printed here.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .cases import CASES, STACK_TITLES, Case
from .live import LiveStacks, before_cell, now_cell, run, verified_cell
from .verified import NO_TOKENS, NOT_VERIFIED

__all__ = ["END", "README", "START", "notes", "render", "rows", "structure"]

README = Path(__file__).resolve().parents[2] / "docs" / "guide" / "stacks.md"
START = "<!-- stacks-table:start -->"
END = "<!-- stacks-table:end -->"
HEADER = (
    "| stack | case | before: status · challenge · what it said |"
    " now: status · `reason` · `error` |"
    " with `verify=`: status · `reason` · `error` · problem or scope |\n"
    "| --- | --- | --- | --- | --- |"
)
_VERIFY_NOTE = (
    "With `verify=`, each stack's middleware holds the stack's own key and checks:"
    ' `JWT(algorithms=["HS256"], keys=SECRET, audience="api", issuer=...)` where it takes'
    " JWTs, `Basic(check=...)` and `APIKey(...)` where it takes those, and `require=` names"
    ' the scope of each route whose own check demands one (`Scopes("items")`).'
)

Row = tuple[str, str, str, str, str]


def rows(live: LiveStacks, cases: Iterable[Case] = CASES) -> list[Row]:
    out = []
    for case in cases:
        bare = run(live, case, "bare").reply
        now = run(live, case, "wrapped").reply
        verified = run(live, case, "verified").reply
        out.append(
            (
                STACK_TITLES[case.stack],
                case.name,
                before_cell(bare),
                now_cell(now, bare),
                verified_cell(verified, bare),
            )
        )
    return out


def notes() -> str:
    """What the `verify=` column means, and what it leaves out and why."""
    lines = [_VERIFY_NOTE, "", "Not told apart or not verified:", ""]
    for stack, why in {**NO_TOKENS, **NOT_VERIFIED}.items():
        lines.append(f"- {STACK_TITLES[stack]}: {why}")
    return "\n".join(lines)


def render(table_rows: Iterable[Row]) -> str:
    lines = [HEADER]
    lines.extend("| " + " | ".join(row) + " |" for row in table_rows)
    return "\n".join(lines) + "\n\n" + notes()


_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_STATUS_RE = re.compile(r"\b([1-5]\d\d)\b")
_REASON_RE = re.compile(r"`([a-z_]+)`|\b(unchanged|changed|server error)\b")


def _status_and_reason(cell: str) -> tuple[str, str]:
    status = _STATUS_RE.search(cell)
    reason = _REASON_RE.search(cell)
    return (
        status.group(1) if status else "",
        (reason.group(1) or reason.group(2)) if reason else "",
    )


def structure(markdown: str) -> list[tuple[str, ...]]:
    """(stack, case, before status, now status, reason, with-verify status,
    reason) of each data row: what a table must keep when wording, hints or
    times change."""
    out: list[tuple[str, ...]] = []
    for line in markdown.splitlines():
        line = line.strip()
        if not line.startswith("|") or line.startswith("| stack") or line.startswith("| ---"):
            continue
        cells = [cell.strip() for cell in _CELL_SPLIT_RE.split(line.strip("|"))]
        if len(cells) != 5:
            out.append(("malformed row", line))
            continue
        stack, case, before, now, verified = cells
        before_status = _STATUS_RE.search(before)
        out.append(
            (
                stack,
                case,
                before_status.group(1) if before_status else "",
                *_status_and_reason(now),
                *_status_and_reason(verified),
            )
        )
    return out


def _block(live: LiveStacks) -> str:
    return f"{START}\n{render(rows(live))}\n{END}"


def _write(block: str, readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    if text.count(START) != 1 or text.count(END) != 1:
        raise SystemExit(f"{readme.name}: expected one {START} and one {END}")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(head + block + tail, encoding="utf-8")


def main(argv: Sequence[str] = ()) -> None:
    with tempfile.TemporaryDirectory() as workdir, LiveStacks(Path(workdir)) as live:
        block = _block(live)
    if "--write" in argv:
        _write(block)
    else:
        print(block)


if __name__ == "__main__":
    main(sys.argv[1:])
