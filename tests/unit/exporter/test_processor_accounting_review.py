"""`TracengentSpanProcessor`: whose spans it buffers and counts, and spans ending during shutdown.

Which pipeline a span of a shared provider goes to is the router's choice
(`tests/unit/traces/test_pipeline_review_routing.py`): a processor buffers whatever agent a
span names.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from opentelemetry.exporter.tracengent import (
    TracengentSpanExporter,
    TracengentSpanProcessor,
)
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, SpanMaker

OTHER = "other-agent"

Builder = Callable[..., tuple[TracengentSpanProcessor, FakePlatform]]


@pytest.fixture
def make_processor(
    options: TracengentOptions,
) -> Iterator[Builder]:
    """Build processors over fake platforms (the worker sleeps long); shut down after the test."""
    created: list[TracengentSpanProcessor] = []

    def build(*, max_queue_size: int = 1000) -> tuple[TracengentSpanProcessor, FakePlatform]:
        fake = FakePlatform()
        exporter = TracengentSpanExporter(options, platform=fake, stop_event=fake.stop_event)
        processor = TracengentSpanProcessor(
            exporter, max_queue_size=max_queue_size, schedule_delay_ms=60_000
        )
        created.append(processor)
        return processor, fake

    yield build
    for processor in created:
        processor.shutdown(timeout_millis=1000)


def events_of(make_span: SpanMaker, agent: str | None, count: int) -> list[ReadableSpan]:
    """`count` action spans stamped with `agent`'s id (none when `agent` is None)."""
    stamp = {} if agent is None else {A.GEN_AI_AGENT_ID: agent}
    return [make_span(f"{agent}-{i}", {A.EVENT_TYPE: "action", **stamp}) for i in range(count)]


def feed(processor: TracengentSpanProcessor, spans: Sequence[ReadableSpan]) -> None:
    """End `spans` into the processor as the SDK would."""
    for span in spans:
        processor.on_end(span)


def test_every_agents_spans_are_buffered(make_processor: Builder, make_span: SpanMaker) -> None:
    """A processor skips no span for the agent it names: it exports whatever agent id spans
    carry (each as its own `agentId`)."""
    processor, platform = make_processor()
    feed(processor, events_of(make_span, OTHER, 2))
    assert processor.queued == 2
    assert processor.force_flush(10_000)
    assert len(platform.events) == 2


class _PausedAppend(collections.deque[ReadableSpan]):
    """A buffer whose `append` pauses (before or after appending) until released.

    It stands for a producer thread pre-empted inside `on_end`, between its closed check and its
    append, or between its append and what follows.
    """

    def __init__(self, *, append_first: bool) -> None:
        super().__init__()
        self.append_first = append_first
        self.entered = threading.Event()
        self.release = threading.Event()

    def append(self, span: ReadableSpan) -> None:
        """Append `span`, pausing on the way."""
        if self.append_first:
            super().append(span)
        self.entered.set()
        self.release.wait(10)
        if not self.append_first:
            super().append(span)


@pytest.mark.parametrize("append_first", [False, True], ids=["pre-empted", "appended"])
def test_a_span_ending_while_shutdown_runs_is_counted_exactly_once(
    make_processor: Builder, make_span: SpanMaker, append_first: bool
) -> None:
    """A producer pre-empted in on_end during the whole shutdown: its span is counted once."""
    processor, _ = make_processor()
    paused = _PausedAppend(append_first=append_first)
    processor._queue = paused
    producer = threading.Thread(
        target=processor.on_end, args=(make_span("late", {A.EVENT_TYPE: "action"}),)
    )
    producer.start()
    try:
        assert paused.entered.wait(10)
        processor.shutdown(timeout_millis=2000)
    finally:
        paused.release.set()
        producer.join(10)
    stats = processor.stats
    assert stats.delivered + stats.dropped_count == 1
    assert processor.queued == 0
