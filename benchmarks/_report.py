"""Figures, goals, the printed table and the JSON file."""

from __future__ import annotations

import json
import math
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from benchmarks._runner import Spread

__all__ = ["Figure", "Goal", "Report", "not_available"]

GoalKind = Literal["ratio_max", "ratio_min", "value_max", "value_min"]


@dataclass(frozen=True)
class Goal:
    """What a figure must meet: its ratio or its value at most / at least `limit`."""

    kind: GoalKind
    limit: float
    text: str

    def met_by(self, value: float, ratio: float | None) -> bool:
        """Whether the figure meets the goal (a missing ratio never does)."""
        if self.kind == "ratio_max":
            return ratio is not None and math.isfinite(ratio) and ratio <= self.limit
        if self.kind == "ratio_min":
            return ratio is not None and math.isfinite(ratio) and ratio >= self.limit
        if self.kind == "value_max":
            return value <= self.limit
        return value >= self.limit


@dataclass
class Figure:
    """One measured figure beside its baseline (same run), with its goal and verdict."""

    case: str
    name: str
    unit: str
    value: float
    spread: Spread | None = None
    baseline_name: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    goal: Goal | None = None
    met: bool | None = None
    available: bool = True
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def judge(self, enforce: bool) -> None:
        """Fill `met` (None when thresholds are off or there is no goal)."""
        if not self.available:
            self.met = False if enforce else None
        elif self.goal is not None and enforce:
            self.met = self.goal.met_by(self.value, self.ratio)


def not_available(case: str, name: str, why: str) -> Figure:
    """A figure whose API is missing: reported, never stubbed (a failure in full mode)."""
    return Figure(case, name, "", math.nan, available=False, note=f"not available: {why}")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}"


@dataclass
class Report:
    """Every figure of one run."""

    mode: Literal["full", "quick"]
    figures: list[Figure] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)

    @property
    def missed(self) -> list[Figure]:
        """Figures that missed their goal (or were not available) under enforcement."""
        return [figure for figure in self.figures if figure.met is False]

    def table(self) -> str:
        """The figures as an aligned text table."""
        header = ("case", "figure", "value", "unit", "p25..p75", "baseline", "ratio", "goal", "ok")
        rows: list[tuple[str, ...]] = [header]
        for f in self.figures:
            spread = f"{_number(f.spread.p25)}..{_number(f.spread.p75)}" if f.spread else "-"
            verdict = {True: "yes", False: "NO", None: "-"}[f.met]
            rows.append(
                (
                    f.case,
                    f.name if f.available else f"{f.name} ({f.note})",
                    _number(f.value),
                    f.unit,
                    spread,
                    f"{_number(f.baseline_value)} {f.baseline_name or ''}".strip(),
                    "-" if f.ratio is None else f"{f.ratio:.2f}x",
                    f.goal.text if f.goal else "-",
                    verdict,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(line.rstrip() for line in lines)

    def write_json(self, path: Path) -> None:
        """Write every figure (and the profiles of missed goals) to `path`."""
        document = {
            "mode": self.mode,
            "written_at": datetime.now(timezone.utc).isoformat(),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "figures": [
                {**asdict(f), "value": None if math.isnan(f.value) else f.value}
                for f in self.figures
            ],
            "missed": [f"{f.case}: {f.name}" for f in self.missed],
            "profiles": self.profiles,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
