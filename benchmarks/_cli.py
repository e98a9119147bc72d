"""The command line of `python -m benchmarks`."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from benchmarks._context import RunContext
from benchmarks._report import Figure, Report, not_available
from benchmarks.cases import cpu_total, egress, end_to_end, hot_path, memory, serialization

__all__ = ["main"]

_PRINTED_PROFILE_LINES: Final = 36
DEFAULT_OUTPUT: Final = Path(__file__).with_name("results") / "latest.json"

_CASES: Final[Sequence[tuple[str, Callable[[RunContext], list[Figure]]]]] = (
    (hot_path.CASE, hot_path.run),
    (cpu_total.CASE, cpu_total.run),
    (serialization.CASE, serialization.run),
    (end_to_end.CASE, end_to_end.run),
    (egress.CASE, egress.run),
    (memory.CASE, memory.run),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Tracengent beside bare OpenTelemetry; exits 1 when a goal is missed.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts, no thresholds (a smoke run)"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON results go"
    )
    parser.add_argument(
        "--case", action="append", default=[], help="run only cases whose name contains this"
    )
    return parser


def _run_case(
    name: str, run: Callable[[RunContext], list[Figure]], ctx: RunContext
) -> list[Figure]:
    try:
        figures = run(ctx)
    except (ImportError, AttributeError) as exc:
        # A missing SDK piece is reported, never stubbed; in full mode it is a failure.
        figures = [not_available(name, "all figures", f"{type(exc).__name__}: {exc}")]
    for figure in figures:
        if figure.met is None:
            figure.judge(ctx.enforce)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; 0 when every goal is met (or in quick mode), else 1."""
    args = _parser().parse_args(argv)
    ctx = RunContext(quick=args.quick)
    report = Report(mode="quick" if args.quick else "full", profiles=ctx.profiles)
    out = sys.stdout
    for name, run in _CASES:
        if args.case and not any(wanted in name for wanted in args.case):
            continue
        started = time.perf_counter()
        out.write(f"running {name} ...\n")
        out.flush()
        report.figures.extend(_run_case(name, run, ctx))
        out.write(f"  done in {time.perf_counter() - started:.1f} s\n")
    out.write("\n" + report.table() + "\n")
    report.write_json(args.output)
    out.write(f"\nresults written to {args.output}\n")
    for key, text in report.profiles.items():
        # The whole tree (60 lines) is in the JSON; the top of it is enough on a terminal.
        top = "\n".join(text.splitlines()[8:_PRINTED_PROFILE_LINES])
        out.write(f"\nprofile of the missed goal {key} (calling thread, pyinstrument):\n{top}\n")
    not_finite = [f for f in report.figures if f.available and not math.isfinite(f.value)]
    for figure in not_finite:
        out.write(f"NOT FINITE: {figure.case}: {figure.name}\n")
    if report.missed:
        out.write("\nmissed goals:\n")
        for figure in report.missed:
            goal = figure.goal.text if figure.goal else figure.note
            out.write(f"  {figure.case}: {figure.name} ({goal})\n")
        return 1
    return 1 if not_finite and not args.quick else 0
