"""The measuring loop: interleaved repeats after warm-up, summarised as median and spread.

Baseline and candidates alternate within one run (the order rotates each round), so a noisy
neighbour or a frequency change hits all of them alike; a figure's ratio is always to the baseline
measured in the same rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["Clock", "Spread", "interleave", "spread_of", "timed"]

Clock = Literal["wall", "thread", "process"]
"""`wall`: perf_counter; `thread`: CPU of the calling thread; `process`: CPU of all threads."""

_CLOCKS: Mapping[Clock, Callable[[], int]] = {
    "wall": time.perf_counter_ns,
    "thread": time.thread_time_ns,
    "process": time.process_time_ns,
}


@dataclass(frozen=True)
class Spread:
    """Median, quartiles and extremes of one variant's samples (all in the same unit)."""

    median: float
    p25: float
    p75: float
    low: float
    high: float
    samples: int


def spread_of(samples: list[float]) -> Spread:
    """Summarise `samples` (at least one)."""
    ordered = sorted(samples)
    if len(ordered) >= 4:
        p25, _, p75 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        p25, p75 = ordered[0], ordered[-1]
    return Spread(statistics.median(ordered), p25, p75, ordered[0], ordered[-1], len(ordered))


def timed(clock: Clock, sample: Callable[[], int]) -> float:
    """Nanoseconds per operation of one sample; `sample()` runs and returns its operation count."""
    now = _CLOCKS[clock]
    start = now()
    operations = sample()
    return (now() - start) / max(1, operations)


def interleave(
    variants: Mapping[str, Callable[[], int]],
    *,
    clock: Clock,
    rounds: int,
    warmup_rounds: int = 1,
) -> dict[str, Spread]:
    """Run every variant's sample once per round, rotating the order; ns per operation each.

    Args:
        variants: name → a sample callable that runs a batch and returns how many operations it
            ran (so one clock reading covers many operations).
        clock: what is measured.
        rounds: measured rounds (each runs every variant once).
        warmup_rounds: rounds run first and discarded (caches, lazy imports, token fetches).
    """
    names = list(variants)
    for _ in range(warmup_rounds):
        for name in names:
            variants[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timed(clock, variants[name]))
    return {name: spread_of(values) for name, values in samples.items()}
