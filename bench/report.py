"""The benchmark's figures: samples per row, medians, ratios, targets, and their Markdown and JSON.

Pure functions and plain data, so what the table says can be tested without an engine.
A row holds the samples of one figure for "ours" and for its baseline (the tutorial
image, or `python -c pass` for the `inv` timings), one sample per repetition.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Target:
    """A goal the figures are reported against, never asserted: `met(ours, baseline)`."""

    text: str
    met: Callable[[float, float | None], bool]


def at_least_times(factor: float) -> Target:
    return Target(f"≥ {factor:g}× tutorial", lambda ours, base: base is not None and ours >= factor * base)


def at_most_fraction(fraction: float) -> Target:
    return Target(f"≤ 1/{1 / fraction:g} of tutorial", lambda ours, base: base is not None and ours <= fraction * base)


def at_most(limit: float, unit: str, *, and_baseline: bool = False) -> Target:
    text = f"≤ {limit:g} {unit}" + (" and ≤ tutorial" if and_baseline else "")
    return Target(text, lambda ours, base: ours <= limit and (not and_baseline or (base is not None and ours <= base)))


NOT_ABOVE_BASELINE = Target("≤ tutorial", lambda ours, base: base is not None and ours <= base)


@dataclass
class Row:
    key: str
    label: str
    unit: str
    baseline: str = "tutorial"
    target: Target | None = None
    ours: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)
    note: str = ""

    def median(self, samples: list[float]) -> float | None:
        return statistics.median(samples) if samples else None

    @property
    def ratio(self) -> float | None:
        ours, base = self.median(self.ours), self.median(self.base)
        if ours is None or not base:
            return None
        return ours / base

    @property
    def met(self) -> bool | None:
        ours = self.median(self.ours)
        if self.target is None or ours is None:
            return None
        return self.target.met(ours, self.median(self.base))

    def as_dict(self) -> dict:
        def summary(samples: list[float]) -> dict | None:
            if not samples:
                return None
            return {"median": self.median(samples), "min": min(samples), "max": max(samples), "samples": samples}

        return {
            "key": self.key, "label": self.label, "unit": self.unit, "baseline": self.baseline,
            "ours": summary(self.ours), "base": summary(self.base), "ratio": self.ratio,
            "target": self.target.text if self.target else None, "met": self.met, "note": self.note,
        }


class Figures:
    """The rows in the order they were first recorded, which is the order of the table."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def row(self, key: str, label: str, unit: str, **details) -> Row:
        if key not in self.rows:
            self.rows[key] = Row(key, label, unit, **details)
        return self.rows[key]

    def markdown(self, facts: dict[str, str]) -> str:
        lines = [
            "| figure | ours | baseline | ours / baseline | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows.values():
            ratio = "–" if row.ratio is None else f"{row.ratio:.2f}"
            base = "–" if not row.base else f"{row.baseline}: {spread(row.base, row.unit)}"
            met = {True: "yes", False: "**no**", None: ""}[row.met]
            label = row.label + (f" ({row.note})" if row.note else "")
            lines.append(f"| {label} | {spread(row.ours, row.unit)} | {base} | {ratio} | "
                         f"{row.target.text if row.target else ''} | {met} |")
        facts_text = "; ".join(f"{name}: {value}" for name, value in facts.items())
        return "\n".join([*lines, "", f"Median (min–max) of each figure's samples. {facts_text}."])

    def as_json(self, facts: dict[str, str]) -> str:
        return json.dumps({"machine": facts, "rows": [row.as_dict() for row in self.rows.values()]}, indent=2)


def spread(samples: list[float], unit: str) -> str:
    """`1.23 s (1.10–1.40)`: the median, then the range when there is more than one sample."""
    if not samples:
        return "–"
    median = f"{number(statistics.median(samples))} {unit}"
    if len(samples) == 1:
        return median
    return f"{median} ({number(min(samples))}–{number(max(samples))})"


def number(value: float) -> str:
    """Three significant figures at most, with thousands separated: 0.0123, 4.56, 1,230."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
