"""A batch a shutdown abandons is counted once, as the items it would have counted."""

from __future__ import annotations

import threading

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._stats import DeliveryStats, DropReason
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, SpanMaker


def _abandon_from_another_thread(stats: DeliveryStats, size: int) -> None:
    """As a shutdown does: the thread that stops waiting is not the one delivering."""
    owner = threading.get_ident()
    closer = threading.Thread(target=stats.abandon_batch, args=(owner, size))
    closer.start()
    closer.join()


def test_an_abandoned_batch_counts_what_it_said_it_would_not_its_span_count() -> None:
    """Five spans that make three countable items (one already delivered): two left to count."""
    stats = DeliveryStats()
    stats.begin_batch()
    stats.expect_in_batch(3)
    stats.add_delivered(1)
    _abandon_from_another_thread(stats, 5)
    assert stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 2
    # What the abandoned thread reports afterwards is not counted again.
    stats.add_delivered(2)
    stats.end_batch()
    assert (stats.delivered, stats.dropped_count) == (1, 2)


def test_without_an_expectation_the_span_count_is_used() -> None:
    """A batch that never said what it counts is counted by its span count."""
    stats = DeliveryStats()
    stats.begin_batch()
    _abandon_from_another_thread(stats, 4)
    assert stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 4


def test_the_exporter_says_how_many_items_its_batch_counts(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """A trace root is a trace close, an event span an event, a span of neither nothing."""
    expected: list[int] = []

    class Watching(DeliveryStats):
        def expect_in_batch(self, items: int) -> None:
            expected.append(items)
            super().expect_in_batch(items)

    exporter = TracengentSpanExporter(options, platform=FakePlatform())
    exporter._stats = Watching()
    spans = [
        make_span("event", {A.EVENT_TYPE: "action"}),
        make_span("plain", {"http.request.method": "GET"}),
    ]
    exporter.deliver([(span, dict(span.attributes or {})) for span in spans], deadline=None)
    assert expected == [1]
