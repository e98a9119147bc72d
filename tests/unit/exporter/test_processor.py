"""`TracengentSpanProcessor`: bounded buffer, worker, flush and shutdown, every drop counted."""

from __future__ import annotations

import atexit
import collections
import gc
import threading
import weakref
from collections.abc import Callable, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind

from opentelemetry.exporter.tracengent import (
    DropReason,
    TracengentSpanExporter,
    TracengentSpanProcessor,
)
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, FakeResult, SpanMaker, wait_until

ACTION = {A.EVENT_TYPE: "action"}


@pytest.fixture
def make_processor(
    options: TracengentOptions, processors: list[TracengentSpanProcessor]
) -> Callable[..., tuple[TracengentSpanProcessor, FakePlatform]]:
    """Build a processor over a fake platform; the worker sleeps long unless told otherwise."""

    def build(
        *,
        platform: FakePlatform | None = None,
        max_queue_size: int = 1000,
        max_batch_size: int = 100,
        schedule_delay_ms: int = 60_000,
    ) -> tuple[TracengentSpanProcessor, FakePlatform]:
        fake = platform or FakePlatform()
        exporter = TracengentSpanExporter(options, platform=fake, stop_event=fake.stop_event)
        processor = TracengentSpanProcessor(
            exporter,
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            schedule_delay_ms=schedule_delay_ms,
        )
        processors.append(processor)
        return processor, fake

    return build


Builder = Callable[..., tuple[TracengentSpanProcessor, FakePlatform]]


def feed(processor: TracengentSpanProcessor, spans: Sequence[ReadableSpan]) -> None:
    """End `spans` into the processor as the SDK would."""
    for span in spans:
        processor.on_end(span)


def test_spans_that_cannot_be_events_are_not_buffered(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """Database, framework and untracked HTTP spans are skipped in on_end."""
    processor, _ = make_processor()
    feed(
        processor,
        [
            make_span("db", {"db.system": "sqlite"}, kind=SpanKind.CLIENT),
            make_span("GET", {A.HTTP_REQUEST_METHOD: "GET"}, kind=SpanKind.CLIENT),
            make_span("handler"),
        ],
    )
    assert processor.queued == 0


def test_queue_full_is_counted_and_never_blocks(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """Beyond max_queue_size new spans are counted `queue_full`; the buffered ones go out."""
    processor, platform = make_processor(max_queue_size=5, max_batch_size=1000)
    feed(processor, [make_span(f"a{i}", ACTION) for i in range(8)])
    assert processor.stats.dropped(DropReason.QUEUE_FULL) == 3
    assert processor.force_flush(10_000)
    assert [event["name"] for event in platform.events] == [f"a{i}" for i in range(5)]


def test_force_flush_drains_in_batches(make_processor: Builder, make_span: SpanMaker) -> None:
    """force_flush sends everything buffered in bodies of at most max_batch_size events."""
    processor, platform = make_processor(max_batch_size=100)
    feed(processor, [make_span(f"a{i}", ACTION) for i in range(250)])
    assert processor.force_flush(10_000)
    assert max(len(batch) for batch in platform.event_batches) <= 100
    assert len(platform.events) == 250
    assert processor.queued == 0


def test_a_full_batch_wakes_the_worker(make_processor: Builder, make_span: SpanMaker) -> None:
    """The worker exports as soon as a batch is full, without waiting for the schedule."""
    processor, platform = make_processor(max_batch_size=10, schedule_delay_ms=60_000)
    feed(processor, [make_span(f"a{i}", ACTION) for i in range(10)])
    assert wait_until(lambda: len(platform.events) == 10)
    assert processor.stats.delivered == 10


def test_the_worker_exports_on_schedule(make_processor: Builder, make_span: SpanMaker) -> None:
    """A partial batch goes out after schedule_delay_ms."""
    processor, platform = make_processor(max_batch_size=100, schedule_delay_ms=5)
    feed(processor, [make_span("a", ACTION)])
    assert wait_until(lambda: processor.stats.delivered == 1)
    assert platform.events[0]["name"] == "a"


def test_spans_after_shutdown_are_counted(make_processor: Builder, make_span: SpanMaker) -> None:
    """Shutdown flushes what is buffered; later event spans are counted `after_shutdown`."""
    processor, platform = make_processor()
    feed(processor, [make_span("before", ACTION)])
    processor.shutdown(timeout_millis=5000)
    feed(processor, [make_span("after", ACTION), make_span("db")])
    assert [event["name"] for event in platform.events] == ["before"]
    assert processor.stats.dropped(DropReason.AFTER_SHUTDOWN) == 1


def test_shutdown_timeout_interrupts_the_in_flight_export_and_counts_the_rest(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """A hung export is woken near the deadline; everything not delivered is `shutdown_timeout`."""
    processor, platform = make_processor(
        platform=FakePlatform(block=True), max_batch_size=2, schedule_delay_ms=1
    )
    feed(processor, [make_span(f"a{i}", ACTION) for i in range(10)])
    assert platform.entered.wait(10)
    processor.shutdown(timeout_millis=400)
    assert platform.interrupted
    assert processor.stats.delivered == 0
    assert processor.stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 10
    assert processor.queued == 0


def test_unconfigured_exporter_counts_in_on_end(
    monkeypatch: pytest.MonkeyPatch, make_span: SpanMaker, processors: list[TracengentSpanProcessor]
) -> None:
    """Over a not-configured exporter, event spans are counted at once, not buffered."""
    for name in ("TRACENGENT_AGENT_ID", "TRACENGENT_INGEST_KEY", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    processor = TracengentSpanProcessor(TracengentSpanExporter())
    processors.append(processor)
    feed(processor, [make_span("a", ACTION), make_span("b", ACTION)])
    assert processor.queued == 0
    assert processor.stats.dropped(DropReason.NOT_CONFIGURED) == 2


def test_on_end_never_raises(make_processor: Builder, make_span: SpanMaker) -> None:
    """A span that breaks on read is counted as an internal error, not raised to the agent."""

    class BrokenSpan(ReadableSpan):
        @property
        def attributes(self) -> None:
            raise RuntimeError("broken")

    processor, _ = make_processor()
    processor.on_end(BrokenSpan("broken"))
    assert processor.stats.internal_errors == 1


def test_invalid_sizes_raise(options: TracengentOptions, platform: FakePlatform) -> None:
    """A non-positive size is a configuration error, raised at construction."""
    exporter = TracengentSpanExporter(options, platform=platform)
    with pytest.raises(TracengentConfigError, match="max_batch_size"):
        TracengentSpanProcessor(exporter, max_batch_size=0)


def test_atexit_hook_is_removed_on_shutdown(
    make_processor: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exit flush registered at construction is unregistered by shutdown."""
    registered: list[Callable[[], None]] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    unregistered: list[Callable[[], None]] = []
    monkeypatch.setattr(atexit, "unregister", unregistered.append)
    processor, _ = make_processor()
    processor.shutdown(timeout_millis=1000)
    assert registered
    assert unregistered == registered


def test_the_exit_hook_does_not_keep_the_processor_alive(
    options: TracengentOptions, platform: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An abandoned processor is collected despite its exit hook and worker; the hook no-ops."""
    hooks: list[Callable[[], None]] = []
    monkeypatch.setattr(atexit, "register", hooks.append)
    exporter = TracengentSpanExporter(options, platform=platform)
    processor = TracengentSpanProcessor(exporter, schedule_delay_ms=5)
    ref = weakref.ref(processor)
    del processor
    assert wait_until(lambda: gc.collect() >= 0 and ref() is None)
    hooks[0]()


def test_ten_thousand_events_are_all_accounted_for(
    make_processor: Builder, options: TracengentOptions
) -> None:
    """Through a real provider, delivered + every counted drop equals the events produced."""
    calls = 0

    def flaky(events: Sequence[JsonObject]) -> FakeResult:
        nonlocal calls
        calls += 1
        if calls % 7 == 0:
            return FakeResult(0, rejected=len(events), reason="HTTP 400", status_code=400)
        if calls % 5 == 0:
            return FakeResult(len(events) // 2, failed=len(events) - len(events) // 2, reason="503")
        return FakeResult(len(events))

    processor, _ = make_processor(
        platform=FakePlatform(respond=flaky),
        max_queue_size=2000,
        max_batch_size=100,
        schedule_delay_ms=2,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bulk")
    for i in range(10_000):
        with tracer.start_as_current_span("s", attributes={A.EVENT_TYPE: "action", "i": i}):
            pass
    processor.shutdown(timeout_millis=10_000)
    stats = processor.stats
    assert stats.delivered + stats.dropped_count == 10_000
    assert stats.delivered > 0
    assert stats.dropped(DropReason.REJECTED) > 0


def test_concurrent_producers_are_all_accounted_for(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """Spans ended on several threads at once are delivered or counted, never lost."""
    processor, _ = make_processor(max_queue_size=300, max_batch_size=50, schedule_delay_ms=1)
    spans = [make_span(f"a{i}", ACTION) for i in range(400)]
    threads = [threading.Thread(target=feed, args=(processor, spans[i::4])) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    processor.shutdown(timeout_millis=10_000)
    assert processor.stats.delivered + processor.dropped_count == 400


class _EmptiedUnderTheDrain(collections.deque[ReadableSpan]):
    """A buffer that another thread empties after `keep` spans were taken from it."""

    def __init__(self, spans: Sequence[ReadableSpan], keep: int) -> None:
        super().__init__(spans)
        self.keep = keep

    def popleft(self) -> ReadableSpan:
        """Hand out `keep` spans, then lose the rest as an abandoning shutdown takes them."""
        if self.keep == 0:
            self.clear()
            raise IndexError("pop from an empty deque")
        self.keep -= 1
        return super().popleft()


def test_a_drain_whose_buffer_empties_under_it_sends_what_it_took(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """Spans taken before the buffer emptied are exported; the drain ends without an error."""
    processor, platform = make_processor()
    processor._queue = _EmptiedUnderTheDrain([make_span(f"a{i}", ACTION) for i in range(5)], 2)
    assert processor.force_flush(10_000)
    assert [event["name"] for event in platform.events] == ["a0", "a1"]
    assert processor.stats.internal_errors == 0
