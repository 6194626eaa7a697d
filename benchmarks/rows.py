"""The row contract: how every section reports, so that one report prints them all.

A row is a plain JSON-serialisable dict, one per judged or reported figure::

    {"section", "case", "subject", "baseline", "metric", "unit",
     "value": {"median", "min", "max"}, "target": {"op", "value", "text"} | None,
     "result": "PASS" | "MISS" | "info", "detail", "extra"}

Every figure is computed per round, from numbers taken in the same round
(seconds apart, in a shuffled order), then summarised by median, min and
max; the verdict is on the median. A section is its variants, the results
of its self-checks, and a function from the measured rounds to its rows.
The child-process sections (instructions counted under callgrind, a
flood's memory) measure a figure once: `single_row`, median = min = max.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from benchmarks._harness import Measured, Variant, summary

__all__ = ["Row", "RowMaker", "Section", "Target", "judge", "single_row"]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    """`value` must be ``op`` `limit` (judged on the median)."""

    op: Literal["<=", ">="]
    limit: float
    text: str

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        return value <= self.limit if self.op == "<=" else value >= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.limit, "text": self.text}


def judge(row: Row) -> str:
    target = row["target"]
    if target is None:
        return "info"
    return (
        "PASS" if Target(target["op"], target["value"], "").met(row["value"]["median"]) else "MISS"
    )


def single_row(
    section: str,
    case: str,
    *,
    subject: str,
    baseline: str,
    metric: str,
    unit: str,
    value: float | None,
    target: Target | None = None,
    detail: str = "",
    extra: Mapping[str, Any] | None = None,
) -> Row:
    """A row for a figure measured once, not per round (an instruction
    count, a memory curve of the child-process sections): its median, min
    and max are that figure, judged like any other."""
    row: Row = {
        "section": section,
        "case": case,
        "subject": subject,
        "baseline": baseline,
        "metric": metric,
        "unit": unit,
        "value": {"median": value, "min": value, "max": value},
        "target": None if target is None else target.as_dict(),
        "result": "info",
        "detail": detail,
        "extra": dict(extra or {}),
    }
    row["result"] = judge(row)
    return row


@dataclass(frozen=True, slots=True)
class Section:
    """What one section hands to the run: its variants (timed with every
    other section's, in the same rounds), what its self-checks saw, and how
    to turn the rounds into rows (it may read any section's variants)."""

    name: str
    variants: tuple[Variant, ...]
    checks: Mapping[str, object]
    rows: Callable[[Mapping[str, Measured]], list[Row]]
    # The variants `--profile` looks into.
    profiled: tuple[str, ...] = ()
    # Releases what the variants hold (handlers, files), after the run.
    close: Callable[[], None] = lambda: None


def _finite(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def _us(ns: float | None) -> str:
    return "n/a" if ns is None else f"{ns / 1000:.2f} µs"


@dataclass(frozen=True, slots=True)
class RowMaker:
    """Rows of one section from one run's measurements."""

    section: str
    measured: Mapping[str, Measured]

    def per_request(self, name: str) -> list[float]:
        return self.measured[name].per_request_ns

    def added_ns(self, subject: str, baseline: str) -> list[float]:
        """Per round: what `subject` costs more than `baseline`, ns/request."""
        return [
            s - b
            for s, b in zip(self.per_request(subject), self.per_request(baseline), strict=True)
        ]

    def added_ratio(
        self, subject: str, baseline: str, reference: str, reference_baseline: str
    ) -> list[float]:
        """Per round: (subject - baseline) / (reference - reference_baseline).
        A round where the reference measured no added cost says nothing
        (noise swamped it): NaN, kept in the JSON, left out of the summary."""
        return [
            s / r if r > 0 else math.nan
            for s, r in zip(
                self.added_ns(subject, baseline),
                self.added_ns(reference, reference_baseline),
                strict=True,
            )
        ]

    def row(
        self,
        case: str,
        *,
        subject: str,
        baseline: str,
        metric: str,
        unit: str,
        per_round: Sequence[float],
        target: Target | None = None,
        detail: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> Row:
        value = summary(per_round)
        row: Row = {
            "section": self.section,
            "case": case,
            "subject": subject,
            "baseline": baseline,
            "metric": metric,
            "unit": unit,
            "value": value,
            "target": None if target is None else target.as_dict(),
            "result": "info",
            "detail": detail,
            "extra": {"per_round": _finite(per_round), **(extra or {})},
        }
        row["result"] = judge(row)
        return row

    def added(
        self,
        case: str,
        subject: str,
        baseline: str,
        *,
        target: Target | None = None,
        note: str = "",
        versus: tuple[str, str, str] | None = None,
        per: str = "request",
    ) -> Row:
        """Added µs per `per` of `subject` over `baseline`. With `versus`
        (subject, baseline, label of another case, e.g. the smallest of a
        scaling family) the detail also gives this added time over that
        one's, per round: how the cost grows."""
        added = [ns / 1000 for ns in self.added_ns(subject, baseline)]
        base = summary(self.per_request(baseline))["median"]
        wrapped = summary(self.per_request(subject))["median"]
        details = [f"per {per}: baseline {_us(base)}, with it {_us(wrapped)}"]
        if base and wrapped:
            details.append(f"{wrapped / base:.2f}x the baseline")
        extra: dict[str, Any] = {"baseline_ns": summary(self.per_request(baseline))}
        extra["subject_ns"] = summary(self.per_request(subject))
        if versus is not None:
            other_subject, other_baseline, label = versus
            growth = summary(self.added_ratio(subject, baseline, other_subject, other_baseline))
            extra["versus"] = label
            extra["ratio_to_versus"] = growth
            if growth["median"] is not None:
                details.insert(0, f"{growth['median']:.2f}x the added time of {label}")
        if note:
            details.append(note)
        return self.row(
            case,
            subject=subject,
            baseline=baseline,
            metric="added µs",
            unit="µs",
            per_round=added,
            target=target,
            detail="; ".join(details),
            extra=extra,
        )

    def ratio(
        self,
        case: str,
        subject: str,
        baseline: str,
        reference: str,
        reference_baseline: str,
        *,
        metric: str,
        target: Target | None = None,
        note: str = "",
    ) -> Row:
        """(added of `subject`) / (added of `reference`), per round."""
        ratios = self.added_ratio(subject, baseline, reference, reference_baseline)
        subject_added = summary(self.added_ns(subject, baseline))["median"]
        reference_added = summary(self.added_ns(reference, reference_baseline))["median"]
        skipped = sum(1 for r in ratios if not math.isfinite(r))
        details = [f"added {_us(subject_added)} vs {_us(reference_added)} ({reference})"]
        if skipped:
            details.append(f"{skipped} round(s) where {reference} cost nothing left out")
        if note:
            details.append(note)
        return self.row(
            case,
            subject=subject,
            baseline=baseline,
            metric=metric,
            unit="x",
            per_round=ratios,
            target=target,
            detail="; ".join(details),
            extra={
                "reference": reference,
                "reference_baseline": reference_baseline,
                "subject_added_ns": summary(self.added_ns(subject, baseline)),
                "reference_added_ns": summary(self.added_ns(reference, reference_baseline)),
                "rounds_left_out": skipped,
            },
        )
