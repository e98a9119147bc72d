"""Case 6: memory per buffered event, and batch sizes on flush and close.

Memory: the exporter is held (its platform answers only when released), so what the agent
records stays in our processor's buffer; tracemalloc measures what 10 000 more events add. The
baseline holds bare spans in `BatchSpanProcessor` behind a blocked exporter the same way.
Batches: a client against the sink process with `max_batch_size=50` records, force-flushes,
records and closes; the sink reports the largest batch it was sent.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from benchmarks._baseline import BlockingExporter, bare_pipeline, bare_span
from benchmarks._context import RunContext
from benchmarks._report import Figure, Goal
from benchmarks._sink_process import SinkProcess

__all__ = ["run"]

CASE = "6 memory"
_MEMORY_GOAL = Goal("value_max", 3300.0, "<= 3300 B/event")
_BATCH = 50
_TRACES = 10


def _allocated_by(record: Callable[[], None]) -> int:
    """Bytes still allocated after `record()` (tracemalloc, after a collection)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        record()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


def run(ctx: RunContext) -> list[Figure]:
    """Bytes per buffered event (ours, bare) and the largest batch sent on flush/close."""
    from benchmarks import _sdk

    events = ctx.scaled(10_000, 300)
    per_trace = events // _TRACES
    capacity = events * 2

    platform = _sdk.MockPlatform()
    platform.hold()
    client = _sdk.new_client(platform, queue_capacity=capacity, flush_interval_ms=600_000)

    def ours() -> None:
        for index in range(_TRACES):
            with client.begin_trace(f"memory {index}", actor_user_id="u_7") as trace:
                for _ in range(per_trace):
                    _sdk.track_action(trace)

    blocking = BlockingExporter()
    provider, tracer = bare_pipeline(blocking, max_queue_size=capacity, max_export_batch_size=512)

    def bare() -> None:
        for _ in range(_TRACES):
            with tracer.start_as_current_span("invoke_agent bench"):
                for _ in range(per_trace):
                    bare_span(tracer)

    try:
        # A first batch goes to the held platform, so the worker is parked and the rest stays put.
        with client.begin_trace("memory warm-up") as trace:
            for _ in range(_BATCH * 3):
                _sdk.track_action(trace)
        ours_bytes = _allocated_by(ours) / events
        bare_bytes = _allocated_by(bare) / events
    finally:
        platform.release()
        blocking.release()
        client.close(timeout=30.0)
        provider.shutdown()
    memory = Figure(
        case=CASE,
        name=f"per buffered event at {events}",
        unit="B/event",
        value=ours_bytes,
        baseline_name="bare span in BatchSpanProcessor",
        baseline_value=bare_bytes,
        ratio=ours_bytes / bare_bytes if bare_bytes > 0 else None,
        goal=_MEMORY_GOAL,
        extra={"delivered_after_release": float(client.delivery_stats.get("delivered", 0))},
    )
    return [ctx.judge_and_profile(memory, None), *_batches(ctx)]


def _batches(ctx: RunContext) -> list[Figure]:
    from benchmarks import _sdk
    from tracengent import TracengentClient

    events = ctx.scaled(1234, 120)
    with SinkProcess() as sink:
        client = TracengentClient(
            _sdk.bench_options(sink.url, max_batch_size=_BATCH, flush_interval_ms=600_000)
        )
        try:
            with client.begin_trace("batches") as trace:
                _sdk.mixed_events(trace, events // 2)
            client.force_flush(timeout=30.0)
            with client.begin_trace("batches") as trace:
                _sdk.mixed_events(trace, events - events // 2)
        finally:
            client.close(timeout=30.0)
        stats = sink.stats()
    largest = Figure(
        case=CASE,
        name=f"largest batch sent (max_batch_size={_BATCH})",
        unit="events",
        value=float(stats["max_events_per_request"]),
        goal=Goal("value_max", float(_BATCH), f"<= {_BATCH}"),
        extra={"requests": float(stats["event_requests"]), "events": float(stats["events"])},
    )
    received = Figure(
        case=CASE,
        name="events received after flush+close",
        unit="events",
        value=float(stats["events"]),
        goal=Goal("value_min", float(events), f"= {events}"),
    )
    return [ctx.judge_and_profile(largest, None), ctx.judge_and_profile(received, None)]
