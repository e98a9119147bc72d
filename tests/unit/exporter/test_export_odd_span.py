"""`TracengentSpanExporter.export` (the path of OTel's own `BatchSpanProcessor`): a span whose
attributes cannot be read (an odd span class) is left out alone and counted `unserializable`;
its batch-mates are delivered. Before, the whole batch was neither delivered nor counted."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from opentelemetry.exporter.tracengent._stats import DropReason
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, SpanMaker

ACTION = {"tracengent.event.type": "action"}


class _Unreadable(ReadableSpan):
    @property
    def attributes(self) -> None:
        raise RuntimeError("attributes cannot be read")


def test_an_unreadable_span_costs_only_itself(
    options: TracengentOptions, platform: FakePlatform, make_span: SpanMaker
) -> None:
    exporter = TracengentSpanExporter(options, platform=platform)
    spans = [make_span("a", ACTION), _Unreadable(name="odd"), make_span("b", ACTION)]
    assert exporter.export(spans) is SpanExportResult.FAILURE  # something was dropped
    assert [event["name"] for event in platform.events] == ["a", "b"]
    stats = exporter.stats
    assert (stats.delivered, stats.dropped(DropReason.UNSERIALIZABLE)) == (2, 1)
    exporter.shutdown()
