"""A buffer (`queue_capacity`) smaller than a batch (`max_batch_size`): a full buffer wakes the
worker as a full batch does, so a burst is sent instead of being dropped `queue_full` while
the worker sleeps out the flush interval."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.exporter.tracengent import (
    DropReason,
    TracengentSpanExporter,
    TracengentSpanProcessor,
)
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, SpanMaker, wait_until


def test_a_full_buffer_smaller_than_a_batch_is_sent_without_waiting_for_the_interval(
    options: TracengentOptions,
    make_span: SpanMaker,
    processors: list[TracengentSpanProcessor],
) -> None:
    platform = FakePlatform()
    exporter = TracengentSpanExporter(options, platform=platform, stop_event=platform.stop_event)
    processor = TracengentSpanProcessor(
        exporter,
        max_queue_size=10,
        max_batch_size=100,
        schedule_delay_ms=600_000,  # the interval alone would send nothing during the test
    )
    processors.append(processor)

    def sent(count: int) -> Callable[[], bool]:
        return lambda: len(platform.events) == count

    for round_ in range(3):
        for i in range(10):
            processor.on_end(make_span(f"step-{round_}-{i}", {A.EVENT_TYPE: "action"}))
        assert wait_until(sent(10 * (round_ + 1)), timeout_s=10.0)

    assert processor.stats.dropped(DropReason.QUEUE_FULL) == 0
    assert processor.stats.delivered == 30
    assert [event["name"] for event in platform.events] == [
        f"step-{round_}-{i}" for round_ in range(3) for i in range(10)
    ]
