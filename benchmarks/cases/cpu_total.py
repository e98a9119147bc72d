"""Case 2: total process CPU per event, export included (`force_flush` inside the timing).

Ours: the five operations in turn, exported by our processor and exporter to an in-process
platform (`httpx.MockTransport`: translation, JSON, gzip and the httpx request all run). The
baseline: bare spans through `BatchSpanProcessor` into a discarding exporter.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks._baseline import DiscardingExporter, bare_pipeline, bare_span
from benchmarks._context import RunContext, compare
from benchmarks._report import Figure, Goal
from benchmarks._runner import interleave

__all__ = ["run"]

CASE = "2 total CPU"
_GOAL = Goal("ratio_max", 1.35, "<= 1.35x bare")


def run(ctx: RunContext) -> list[Figure]:
    """One figure: CPU per event of a mix of the five operations, flushed."""
    from benchmarks import _sdk

    count = ctx.scaled(1000, 50)
    rounds = ctx.scaled(11, 3)
    provider, tracer = bare_pipeline(DiscardingExporter())
    client = _sdk.new_client(_sdk.MockPlatform())

    def bare() -> int:
        with tracer.start_as_current_span("invoke_agent bench"):
            for _ in range(count):
                bare_span(tracer)
        provider.force_flush()
        return count

    def ours() -> int:
        with client.begin_trace("bench total cpu", actor_user_id="u_7") as trace:
            _sdk.mixed_events(trace, count)
        client.force_flush()
        return count

    variants: dict[str, Callable[[], int]] = {"bare": bare, "ours": ours}
    try:
        results = interleave(variants, clock="process", rounds=rounds, warmup_rounds=1)
        figure = compare(
            CASE, "mixed events, flushed", results["ours"], results["bare"], "bare span"
        )
        figure.goal = _GOAL
        return [ctx.judge_and_profile(figure, ours)]
    finally:
        client.close()
        provider.shutdown()
