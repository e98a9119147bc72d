"""A `TracengentSpanProcessor` the application built and dropped without `shutdown()` loses none
of what it buffered: its worker delivers it (or counts what it cannot), then lets it go.

The worker thread and the process hooks hold the processor only weakly (a process making one per
request must not grow for ever), so dropping its provider makes it unreachable with spans still
buffered. Against a real loopback platform; the exporter is kept to read the shared stats.
"""

from __future__ import annotations

import gc
import time
import weakref

from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from tests.support.chaos import EVENTS_PATH, ChaosServer, Stall, sequence

from .conftest import chaos_options

SPANS = 7


def buffer_tool_spans(
    exporter: TracengentSpanExporter, **settings: int
) -> weakref.ref[TracengentSpanProcessor]:
    """A provider and processor (with `settings`) of the application's own, `SPANS` tool spans
    buffered in it (the schedule delay is long: nothing is sent yet); returns only a weak
    reference."""
    provider = TracerProvider(shutdown_on_exit=False)
    processor = TracengentSpanProcessor(exporter, schedule_delay_ms=600_000, **settings)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("app")
    for i in range(SPANS):
        with tracer.start_as_current_span(
            f"execute_tool t{i}",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": f"t{i}"},
        ):
            pass
    assert processor.queued == SPANS
    return weakref.ref(processor)


def wait_for(condition: object, timeout: float = 10.0) -> bool:
    """Poll `condition()` until true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_an_unreachable_processor_delivers_what_it_buffered(chaos: ChaosServer) -> None:
    """Dropped with its provider and collected: its worker delivers the buffered spans, shuts
    the exporter down, and the processor is gone afterwards (nothing keeps it alive)."""
    exporter = TracengentSpanExporter(chaos_options(chaos.url))
    stats = exporter.stats
    ref = buffer_tool_spans(exporter)
    gc.collect()
    assert wait_for(lambda: stats.delivered == SPANS), stats.dropped_by_reason()
    assert stats.dropped_count == 0
    assert len(chaos.acknowledged_events()) == SPANS
    # Let go once shut down (its buffered spans referenced it, through their provider: a
    # cycle, hence the collections), like any processor shut down.
    assert wait_for(lambda: gc.collect() >= 0 and ref() is None)


def test_an_unreachable_processor_counts_what_it_could_not_deliver(chaos: ChaosServer) -> None:
    """With the platform stalled, what the exit flush timeout cuts off is counted
    `shutdown_timeout`: every span buffered is delivered or counted, none lost silently."""
    chaos.on(EVENTS_PATH, sequence(then=Stall()))
    exporter = TracengentSpanExporter(chaos_options(chaos.url))
    stats = exporter.stats
    ref = buffer_tool_spans(exporter, exit_flush_timeout_ms=500)
    gc.collect()
    assert wait_for(lambda: stats.delivered + stats.dropped_count == SPANS), (
        stats.dropped_by_reason()
    )
    assert stats.delivered == 0
    assert stats.dropped_by_reason()["shutdown_timeout"] == SPANS
    assert wait_for(lambda: gc.collect() >= 0 and ref() is None)
