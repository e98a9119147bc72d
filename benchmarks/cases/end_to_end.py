"""Case 4: events/s end to end, to the loopback sink process, beside the OTLP/HTTP exporter.

Each run records N events (10 decision traces of N/10 `track_action` events; the baseline: 10
root spans of N/10 bare spans) and ends with the pipeline flushed and shut down: the clock stops
when the last batch was answered. Both pipelines batch 100 per request, gzip every body, and get a
queue large enough that nothing is dropped; the sink decodes every body before it answers and its
counters prove delivery. Runs of ours and of OTLP alternate.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from benchmarks._baseline import bare_span
from benchmarks._context import RunContext
from benchmarks._report import Figure, Goal
from benchmarks._runner import spread_of
from benchmarks._sink_process import SinkProcess

__all__ = ["run"]

CASE = "4 end to end"
_TRACES = 10
_BATCH = 100
_SCHEDULE_DELAY_MS = 2000
_GOAL = Goal("ratio_min", 2.0, ">= 2x OTLP")
_DELIVERED_GOAL = Goal("value_min", 100.0, "100 %")


def run(ctx: RunContext) -> list[Figure]:
    """Events/s of ours and of OTLP/HTTP, and the share of events the sink received."""
    from benchmarks import _sdk

    events = ctx.scaled(20_000, 300)
    rounds = ctx.scaled(5, 1)
    per_trace = events // _TRACES
    queue = events + 1000

    def ours(sink: SinkProcess) -> tuple[float, float]:
        from tracengent import TracengentClient

        options = _sdk.bench_options(
            sink.url, max_batch_size=_BATCH, queue_capacity=queue, flush_interval_ms=2000
        )
        client = TracengentClient(options)
        started = time.perf_counter()
        for index in range(_TRACES):
            with client.begin_trace(f"e2e {index}", actor_user_id="u_7") as trace:
                for _ in range(per_trace):
                    _sdk.track_action(trace)
        client.close(timeout=60.0)
        elapsed = time.perf_counter() - started
        stats = sink.stats()
        return _TRACES * per_trace / elapsed, 100.0 * stats["events"] / (_TRACES * per_trace)

    def otlp(sink: SinkProcess) -> tuple[float, float]:
        provider = TracerProvider()
        exporter = OTLPSpanExporter(
            endpoint=f"{sink.url}/v1/traces", compression=Compression.Gzip, timeout=30
        )
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=queue,
                max_export_batch_size=_BATCH,
                schedule_delay_millis=_SCHEDULE_DELAY_MS,
            )
        )
        tracer = provider.get_tracer("benchmarks.otlp")
        started = time.perf_counter()
        for _ in range(_TRACES):
            with tracer.start_as_current_span("invoke_agent bench"):
                for _ in range(per_trace):
                    bare_span(tracer)
        provider.force_flush(60_000)
        provider.shutdown()
        elapsed = time.perf_counter() - started
        stats = sink.stats()
        # The sink counts the roots too: they are spans OTLP had to deliver as well.
        delivered = stats["otlp_spans"] - _TRACES
        return _TRACES * per_trace / elapsed, 100.0 * delivered / (_TRACES * per_trace)

    variants: dict[str, Callable[[SinkProcess], tuple[float, float]]] = {
        "ours": ours,
        "otlp": otlp,
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    delivered: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    with SinkProcess() as sink:
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                sink.reset()
                rate, share = variants[name](sink)
                rates[name].append(rate)
                delivered[name].append(share)
        ours_rate, otlp_rate = spread_of(rates["ours"]), spread_of(rates["otlp"])
        throughput = Figure(
            case=CASE,
            name=f"{events} events, batch {_BATCH}, gzip",
            unit="events/s",
            value=ours_rate.median,
            spread=ours_rate,
            baseline_name="OTLP/HTTP",
            baseline_value=otlp_rate.median,
            ratio=ours_rate.median / otlp_rate.median,
            goal=_GOAL,
            note="ratio > 1 is faster than the baseline",
        )
        figures = [throughput]
        for name in names:
            figures.append(
                Figure(
                    case=CASE,
                    name=f"delivered ({name}, worst run)",
                    unit="%",
                    value=min(delivered[name]),
                    goal=_DELIVERED_GOAL,
                )
            )
        workloads: dict[int, Callable[[], object]] = {0: lambda: ours(sink)}
        return [
            ctx.judge_and_profile(figure, workloads.get(index))
            for index, figure in enumerate(figures)
        ]
