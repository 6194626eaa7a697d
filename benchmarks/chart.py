"""The chart: every judged figure against its target, and how costs scale.

Left panel: one horizontal bar per judged row, its median divided by its
target (inverted for a ">=" target), so that every target sits on the same
line at 1 and a bar ending left of it meets its target; the whisker spans
the rounds' min-max; green PASS, red MISS; a log scale, so that a figure at
50x its target and one at 0.3x are both readable. Right panel: the scaling
rows, each its added time over its family's smallest case (1.0 = no growth),
with the origin target drawn. matplotlib with the Agg backend (no display).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.report import median_text
from benchmarks.rows import Row

__all__ = ["draw"]

_PASS = "#2e7d32"
_MISS = "#c62828"
_INFO = "#5c7fa3"
_FLOOR = 0.02  # log scale: a figure at or below 0 is drawn here


def _normalised(row: Row) -> tuple[float, float, float] | None:
    """(median, low, high) over the target; <= 1 meets it."""
    value, target = row["value"], row["target"]
    if value["median"] is None or not target or target["value"] <= 0:
        return None

    limit = float(target["value"])

    def over(v: float) -> float:
        if target["op"] == "<=":
            return v / limit
        return limit / v if v > 0 else math.inf

    points = [over(value[k]) for k in ("median", "min", "max")]
    low, high = min(points[1:]), max(points[1:])
    return points[0], low, high


def _growth(row: Row) -> tuple[float, float, float] | None:
    # A judged growth row's value is the ratio itself.
    value = row["value"] if row["unit"] == "x" else row["extra"].get("ratio_to_versus")
    if not value or value["median"] is None:
        return None
    return value["median"], value["min"], value["max"]


def _bars(
    axis: Any,
    labels: Sequence[str],
    points: Sequence[tuple[float, float, float]],
    colours: Sequence[str],
    notes: Sequence[str],
) -> None:
    ys = list(range(len(points)))[::-1]
    medians = [max(p[0], _FLOOR) for p in points]
    lows = [max(m - max(p[1], _FLOOR), 0) for m, p in zip(medians, points, strict=True)]
    highs = [max(max(p[2], _FLOOR) - m, 0) for m, p in zip(medians, points, strict=True)]
    axis.barh(ys, medians, color=colours, alpha=0.85, left=0)
    axis.errorbar(medians, ys, xerr=[lows, highs], fmt="none", ecolor="#333333", capsize=3, lw=1)
    axis.set_yticks(ys)
    axis.set_yticklabels(labels, fontsize=8)
    for y, m, note in zip(ys, medians, notes, strict=True):
        # At the bar's end, on white: readable over the whisker.
        axis.annotate(
            note,
            (m, y),
            xytext=(4, 6),
            textcoords="offset points",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        )


def draw(rows: Sequence[Row], path: Path, *, title: str) -> bool:
    """Write the PNG to `path`; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False

    judged = [(r, p) for r in rows if r["target"] and (p := _normalised(r)) is not None]
    scaling = [(r, p) for r in rows if r["section"] == "scaling" and (p := _growth(r))]
    height = max(4.0, 0.32 * max(len(judged), len(scaling)) + 1.6)
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(16, height), gridspec_kw={"width_ratios": [1.15, 1]}
    )
    try:
        if judged:
            _bars(
                left,
                [f"{r['section']}: {r['case']} ({r['target']['text']})" for r, _ in judged],
                [p for _, p in judged],
                [_PASS if r["result"] == "PASS" else _MISS for r, _ in judged],
                [median_text(r) for r, _ in judged],
            )
            left.set_xscale("log")
            top = max(2.0, max(p[2] for _, p in judged if math.isfinite(p[2])) * 1.6)
            left.set_xlim(_FLOOR, top)
        left.axvline(1.0, color="black", lw=1.2, ls="--")
        left.set_title(
            "Judged: median / target (≤ 1 meets the target; whisker: min to max)", fontsize=10
        )
        left.set_xlabel("median ÷ target (for a ≥ target: target ÷ median), log scale")
        if scaling:
            _bars(
                right,
                [f"{r['case']}" for r, _ in scaling],
                [p for _, p in scaling],
                [
                    _INFO if r["result"] == "info" else (_PASS if r["result"] == "PASS" else _MISS)
                    for r, _ in scaling
                ],
                [f"{p[0]:.2f}x" for _, p in scaling],
            )
            # A line between families (origins, schemes, headers, token size).
            families = [r["extra"].get("versus", "1 origin") for r, _ in scaling]
            for index in range(1, len(families)):
                if families[index] != families[index - 1]:
                    right.axhline(len(families) - index - 0.5, color="#999999", lw=0.6)
            widest = max(p[0] for _, p in scaling)
            right.set_xlim(0, max(2.0, widest * 1.5))
        right.axvline(1.0, color="black", lw=1.2, ls="--")
        right.axvline(1.25, color=_MISS, lw=1, ls=":", label="origins target (≤ 1.25x)")
        right.legend(loc="lower right", fontsize=8)
        right.set_title("Scaling: added time ÷ the family's smallest case", fontsize=10)
        right.set_xlabel("ratio (1.0 = no growth)")
        figure.suptitle(title, fontsize=12)
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=110)
    finally:
        plt.close(figure)
    return True
