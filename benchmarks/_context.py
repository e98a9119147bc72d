"""What every case receives: the scale of the run, and where to profile a missed goal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks._report import Figure
from benchmarks._runner import Spread

__all__ = ["RunContext", "compare"]

_PROFILE_INTERVAL_S = 0.0001
_PROFILE_LINES = 60


@dataclass
class RunContext:
    """The run's mode and the profiles of missed goals (taken while the case's objects live).

    Attributes:
        quick: small counts, no thresholds (the smoke run).
        profiles: figure key → pyinstrument text of the candidate's calling thread.
    """

    quick: bool
    profiles: dict[str, str] = field(default_factory=dict)

    @property
    def enforce(self) -> bool:
        """Goals are judged only in full mode."""
        return not self.quick

    def scaled(self, full: int, quick: int) -> int:
        """`full` normally, `quick` in the smoke run."""
        return quick if self.quick else full

    def judge_and_profile(self, figure: Figure, workload: Callable[[], object] | None) -> Figure:
        """Judge `figure`; when it missed its goal, profile `workload` (the candidate)."""
        figure.judge(self.enforce)
        if figure.met is False and workload is not None:
            self.profiles[f"{figure.case}: {figure.name}"] = profile_text(workload)
        return figure


def profile_text(workload: Callable[[], object]) -> str:
    """pyinstrument's call tree of one run of `workload` (calling thread only), trimmed."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=_PROFILE_INTERVAL_S)
    profiler.start()
    try:
        workload()
    finally:
        profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    return "\n".join(text.splitlines()[:_PROFILE_LINES])


def compare(
    case: str,
    name: str,
    candidate: Spread,
    baseline: Spread,
    baseline_name: str,
    *,
    unit: str = "ns/event",
) -> Figure:
    """A per-operation figure (median ns) with its ratio to the baseline of the same rounds."""
    return Figure(
        case=case,
        name=name,
        unit=unit,
        value=candidate.median,
        spread=candidate,
        baseline_name=baseline_name,
        baseline_value=baseline.median,
        ratio=candidate.median / baseline.median if baseline.median > 0 else None,
    )
