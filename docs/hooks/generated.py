"""The parts of the documentation written from the code and the last
benchmark run, at build time, so that no page can disagree with them.

A page holds a marker where a generated part goes:

- ``<!-- generated: reasons -->``: the reason catalogue, from
  `authhygiene.core.reasons.REASONS` (the one table the middleware, the
  logs summary and the tests read) and the `Problem` kinds;
- ``<!-- generated: benchmarks -->``: `benchmarks/results/latest.md`, the
  last `make bench` run committed, with its chart (`latest.png`, published
  as ``assets/benchmarks.png``).

A marker that names nothing known fails the build (mkdocs runs --strict).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from authhygiene.core.policy import DEFAULT_PROBLEM_TYPE_BASE
from authhygiene.core.reasons import REASONS, Problem

ROOT = Path(__file__).resolve().parents[2]
BENCH_TABLE = ROOT / "benchmarks" / "results" / "latest.md"
BENCH_CHART = ROOT / "benchmarks" / "results" / "latest.png"
CHART_URI = "assets/benchmarks.png"
_MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def reasons() -> str:
    """A summary table, then one section per reason (its anchor is the
    end of the reason's `type`, ``token-expired``, so that a
    `problem_type_base` of this page's URL and ``#`` makes every `type` a
    link to its entry)."""
    rows = [
        "| reason | status | RFC 6750 `error` | title |",
        "| --- | --- | --- | --- |",
    ]
    sections = []
    for reason, info in REASONS.items():
        anchor = reason.value.replace("_", "-")
        error = f"`{info.error}`" if info.error else "\N{EN DASH}"
        rows.append(
            f"| [`{reason.value}`](#{anchor}) | {info.status} | {error} | {_cell(info.title)} |"
        )
        sections.append(
            "\n".join(
                [
                    f"### `{reason.value}` {{#{anchor}}}",
                    "",
                    f"**{info.status}**, {error} in a Bearer challenge. Title: *{info.title}*.",
                    "",
                    f"- `type`: `{DEFAULT_PROBLEM_TYPE_BASE}{anchor}`"
                    " (with the default `problem_type_base`)",
                    f"- hint to the caller: {info.hint}",
                    f"- a burst of it in the log: {info.operator}",
                    f"- OWASP logging vocabulary event: `{info.log_event}`",
                ]
            )
        )
    problems = ", ".join(f"`{problem.value}`" for problem in Problem)
    return "\n".join(
        [
            *rows,
            "",
            "## Each reason",
            "",
            "\n\n".join(sections),
            "",
            "## `problem`: what exactly was wrong",
            "",
            "Within a reason, the body's and the event's `problem` member names the"
            f" exact fault, one of: {problems}.",
            "",
        ]
    )


def benchmarks() -> str:
    """The run's tables as `make bench` wrote them; its chart link points
    at the copy published with the site."""
    table = BENCH_TABLE.read_text(encoding="utf-8")
    heading, _, rest = table.partition("\n")
    run = re.search(r"\((\w+)\)", heading)
    when = f" (run {run.group(1)})" if run else ""
    rest = re.sub(r"!\[([^\]]*)\]\(latest\.png\)", rf"![\1]({CHART_URI})", rest)
    return f"The last full run{when}, `benchmarks/results/latest.md`:\n{rest.strip()}\n"


_GENERATORS = {"reasons": reasons, "benchmarks": benchmarks}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def generated(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _GENERATORS:
            raise ValueError(f"{page.file.src_uri}: no generated part is called {name!r}")
        return _GENERATORS[name]()

    return _MARKER.sub(generated, markdown)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, CHART_URI, abs_src_path=str(BENCH_CHART)))
    return files
