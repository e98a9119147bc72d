"""`TracengentSpanProcessor`: whose spans it buffers and counts, and spans ending during shutdown."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from opentelemetry.exporter.tracengent import (
    DropReason,
    TracengentSpanExporter,
    TracengentSpanProcessor,
)
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, SpanMaker

OWN = "billing-agent"
"""The agent of the `options` fixture."""
OTHER = "other-agent"

Builder = Callable[..., tuple[TracengentSpanProcessor, FakePlatform]]


@pytest.fixture
def make_processor(
    options: TracengentOptions,
) -> Iterator[Builder]:
    """Build processors over fake platforms (the worker sleeps long); shut down after the test."""
    created: list[TracengentSpanProcessor] = []

    def build(
        *, own_agent_only: bool = False, max_queue_size: int = 1000
    ) -> tuple[TracengentSpanProcessor, FakePlatform]:
        fake = FakePlatform()
        exporter = TracengentSpanExporter(
            options, platform=fake, stop_event=fake.stop_event, own_agent_only=own_agent_only
        )
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


def test_another_agents_spans_neither_fill_the_buffer_nor_count_as_drops(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """With own_agent_only, another agent's spans are skipped before the bound and the counters."""
    processor, _ = make_processor(own_agent_only=True, max_queue_size=5)
    feed(processor, events_of(make_span, OTHER, 8))
    assert processor.queued == 0
    assert processor.dropped_count == 0


def test_own_spans_are_buffered_beside_another_agents(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """This agent's spans, stamped or not, still fill the buffer and go out; the other's don't."""
    processor, platform = make_processor(own_agent_only=True, max_queue_size=5)
    feed(processor, events_of(make_span, OTHER, 8))
    feed(processor, events_of(make_span, OWN, 2) + events_of(make_span, None, 2))
    assert processor.queued == 4
    assert processor.force_flush(10_000)
    assert sorted(str(event["name"]) for event in platform.events) == [
        "None-0",
        "None-1",
        f"{OWN}-0",
        f"{OWN}-1",
    ]
    assert processor.dropped_count == 0


def test_another_agents_trace_root_is_not_buffered(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """A decision-trace root of another agent is that agent's trace close, not ours."""
    processor, _ = make_processor(own_agent_only=True)
    root = make_span(
        "invoke_agent",
        {A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, A.GEN_AI_AGENT_ID: OTHER},
    )
    processor.on_end(root)
    assert processor.queued == 0


def test_another_agents_span_after_shutdown_is_not_counted(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """After shutdown, only this agent's spans are counted `after_shutdown`."""
    processor, _ = make_processor(own_agent_only=True)
    processor.shutdown(timeout_millis=1000)
    feed(processor, events_of(make_span, OTHER, 3) + events_of(make_span, OWN, 1))
    assert processor.stats.dropped(DropReason.AFTER_SHUTDOWN) == 1
    assert processor.dropped_count == 1


def test_without_own_agent_only_every_agents_spans_are_buffered(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """The filter is off by default: a lone client exports whatever agent id spans carry."""
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
