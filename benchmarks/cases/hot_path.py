"""Case 1: what the agent's thread pays per event, beside a bare OTel span.

Measured with the calling thread's CPU clock: the export worker threads (ours and OTel's
`BatchSpanProcessor`) run beside it and are case 2's business. Every sample records its events
inside a fresh decision trace (a fresh root span for the baseline), as an agent does.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.trace import NoOpTracer, Tracer

from benchmarks._baseline import BARE_ATTRIBUTES, DiscardingExporter, bare_pipeline, bare_span
from benchmarks._context import RunContext, compare
from benchmarks._report import Figure, Goal
from benchmarks._runner import interleave

__all__ = ["run"]

CASE = "1 hot path"
_EVENT_GOAL = Goal("ratio_max", 1.10, "<= 1.10x bare")
_POINT_GOAL = Goal("ratio_max", 0.85, "<= 0.85x bare")
_DISABLED_GOAL = Goal("ratio_max", 1.20, "<= 1.2x no-op")
_POINT_EVENTS = ("step", "record")


def _bare_sample(tracer: Tracer, count: int) -> Callable[[], int]:
    def sample() -> int:
        with tracer.start_as_current_span("invoke_agent bench"):
            for _ in range(count):
                bare_span(tracer)
        return count

    return sample


def _noop_sample(tracer: NoOpTracer, count: int) -> Callable[[], int]:
    def sample() -> int:
        with tracer.start_as_current_span("invoke_agent bench"):
            for _ in range(count):
                with tracer.start_as_current_span("issue-refund", attributes=BARE_ATTRIBUTES):
                    pass
        return count

    return sample


def run(ctx: RunContext) -> list[Figure]:
    """Per-event figures of the five operations, enabled and with the SDK disabled."""
    from benchmarks import _sdk
    from tracengent import AgentTrace, TracengentClient

    count = ctx.scaled(1000, 40)
    rounds = ctx.scaled(15, 3)

    def our_sample(
        client: TracengentClient, operation: Callable[[AgentTrace], None]
    ) -> Callable[[], int]:
        def sample() -> int:
            with client.begin_trace("bench hot path", actor_user_id="u_7") as trace:
                for _ in range(count):
                    operation(trace)
            return count

        return sample

    figures: list[Figure] = []
    provider, tracer = bare_pipeline(DiscardingExporter())
    client = _sdk.new_client(_sdk.MockPlatform())
    with _sdk.disabled_sdk():
        disabled_client = _sdk.new_client(_sdk.MockPlatform())
    try:
        variants = {"bare": _bare_sample(tracer, count)}
        for name, operation in _sdk.EVENT_OPERATIONS.items():
            variants[name] = our_sample(client, operation)
        results = interleave(variants, clock="thread", rounds=rounds, warmup_rounds=1)
        for name in _sdk.EVENT_OPERATIONS:
            figure = compare(CASE, name, results[name], results["bare"], "bare span")
            figure.goal = _POINT_GOAL if name in _POINT_EVENTS else _EVENT_GOAL
            figures.append(ctx.judge_and_profile(figure, variants[name]))

        disabled = {"noop": _noop_sample(NoOpTracer(), count)}
        for name, operation in _sdk.EVENT_OPERATIONS.items():
            disabled[name] = our_sample(disabled_client, operation)
        results = interleave(disabled, clock="thread", rounds=rounds, warmup_rounds=1)
        # Under an application's SDK provider the variable has no effect: say so beside the figure.
        really_disabled = isinstance(disabled_client.tracer, NoOpTracer)
        for name in _sdk.EVENT_OPERATIONS:
            figure = compare(
                CASE, f"disabled {name}", results[name], results["noop"], "NoOpTracer span"
            )
            figure.goal = _DISABLED_GOAL
            if not really_disabled:
                figure.note = "the client's tracer was not a no-op (a global SDK provider?)"
            figures.append(ctx.judge_and_profile(figure, disabled[name]))
    finally:
        client.close()
        disabled_client.close()
        provider.shutdown()
    return figures
