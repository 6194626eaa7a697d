"""One report for every section: a markdown table, verdict lines, the files.

The table has one line per row of the row contract (`benchmarks.rows`);
every judged row also gets a verdict line saying what was compared with
what. Files go to the results directory: ``bench-<UTC>.json`` (everything
measured), ``bench-<UTC>.png`` (the chart) and, for a full run, the same
again as ``latest.json``, ``latest.png`` and ``latest.md`` (committed, shown
in the README). Every file is written to a temporary name and renamed, so
a reader never sees half of one.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.rows import Row

__all__ = ["document", "median_text", "table", "value_cell", "verdicts", "write_results"]

_HEAD = "| section | case | added/ratio median [min, max] | target | result |"


def _number(value: float) -> str:
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _with_unit(value: float, unit: str) -> str:
    return f"{_number(value)}x" if unit == "x" else f"{_number(value)} {unit}"


def median_text(row: Row) -> str:
    median = row["value"]["median"]
    return "n/a" if median is None else _with_unit(median, row["unit"])


def value_cell(row: Row) -> str:
    value = row["value"]
    if value["median"] is None:
        return "n/a"
    spread = f"{_number(value['min'])}, {_number(value['max'])}"
    return f"{_with_unit(value['median'], row['unit'])} [{spread}]"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Iterable[Row]) -> str:
    lines = [_HEAD, "|---|---|---|---|---|"]
    for row in rows:
        target = row["target"]["text"] if row["target"] else "—"
        cells = (row["section"], row["case"], value_cell(row), target, row["result"])
        lines.append("| " + " | ".join(_escape(str(c)) for c in cells) + " |")
    return "\n".join(lines)


def verdicts(rows: Sequence[Row]) -> list[str]:
    """One line per judged target, then the count."""
    lines = []
    judged = [row for row in rows if row["target"] is not None]
    for row in judged:
        shown = median_text(row)
        lines.append(
            f"{row['result']}: {row['section']}, {row['case']}: {row['metric']} {shown} "
            f"(target {row['target']['text']}); {row['detail']}"
        )
    passed = sum(1 for row in judged if row["result"] == "PASS")
    lines.append(
        f"Targets: {passed} PASS, {len(judged) - passed} MISS of {len(judged)} "
        f"(and {len(rows) - len(judged)} rows for information)."
    )
    return lines


METHOD = (
    "Every figure is computed per round from numbers measured in that round "
    "(variants interleaved in a shuffled order), then summarised as median "
    "[min, max] over the rounds; targets are judged on the median. Added = "
    "with it - without it, per request (per call or log line where said); a "
    "ratio is one added time over another's. No absolute time is judged."
)


def document(
    rows: Sequence[Row], *, title: str, notes: Sequence[str] = (), chart: str | None = None
) -> str:
    """The markdown printed on stdout and saved as latest.md."""
    parts = [f"## {title}", "", table(rows), "", *verdicts(rows), "", METHOD]
    for note in notes:
        parts += ["", note]  # a paragraph each
    if chart is not None:
        parts += ["", f"![benchmark chart]({chart})"]
    return "\n".join(parts) + "\n"


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)


def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_results(
    directory: Path,
    stamp: str,
    payload: dict[str, Any],
    *,
    draw: Callable[[Path], bool],
    latest_markdown: str | None,
) -> dict[str, Path]:
    """Write the run's files; with `latest_markdown` (a full run) also
    latest.{json,png,md}. `draw(path)` writes the chart, False when it
    cannot (no matplotlib). Returns what was written, by kind."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    written = {
        "json": _atomic(
            directory / f"bench-{stamp}.json", lambda p: p.write_text(text, encoding="utf-8")
        )
    }
    png = directory / f"bench-{stamp}.png"
    tmp = png.with_name(png.name + ".tmp")
    try:
        if draw(tmp):
            tmp.replace(png)
            written["png"] = png
    finally:
        tmp.unlink(missing_ok=True)
    if latest_markdown is not None:
        if "png" not in written:
            (directory / "latest.png").unlink(missing_ok=True)  # not a stale chart beside it
        for kind, source in list(written.items()):
            target = directory / f"latest.{kind}"
            written[f"latest_{kind}"] = _atomic(target, functools.partial(_copy, source))
        written["latest_md"] = _atomic(
            directory / "latest.md", lambda p: p.write_text(latest_markdown, encoding="utf-8")
        )
    return written
