"""The export pipeline's OTel SDK self-observability metrics (`OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`),
read back through a real `MeterProvider` and `InMemoryMetricReader`."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)

from opentelemetry.exporter.tracengent import DropReason, TracengentSpanExporter
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from opentelemetry.exporter.tracengent.transport import PlatformClient

from .conftest import FakePlatform, FakeResult, SpanMaker

Point = tuple[dict[str, object], float]
"""A data point's attributes and value (a sum's value, a histogram's count)."""

_EXPORTED = "otel.sdk.exporter.span.exported"
_PROCESSED = "otel.sdk.processor.span.processed"


class Metrics:
    """A meter provider of the test's own (never the global one) and what it collected."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def points(self, name: str) -> list[Point]:
        """The data points of the metric `name` Tracengent's meter reported."""
        data = self.reader.get_metrics_data()
        points: list[Point] = []
        for resource_metrics in data.resource_metrics if data is not None else ():
            for scope_metrics in resource_metrics.scope_metrics:
                if scope_metrics.scope.name != "opentelemetry-exporter-tracengent":
                    continue
                for metric in scope_metrics.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        if isinstance(point, HistogramDataPoint):
                            value: float = point.count
                        elif isinstance(point, NumberDataPoint):
                            value = point.value
                        else:
                            continue
                        points.append((dict(point.attributes or {}), float(value)))
        return points

    def exporter(
        self, options: TracengentOptions, platform: object | None = None
    ) -> TracengentSpanExporter:
        """An exporter reporting here, over `platform` (default: a fake that accepts all)."""
        return TracengentSpanExporter(
            options,
            platform=platform if platform is not None else FakePlatform(),  # type: ignore[arg-type]
            meter_provider=self.provider,
        )

    def by_error(self, name: str) -> dict[object, float]:
        """`{error.type or None: value}` of the metric `name`."""
        return {attributes.get("error.type"): value for attributes, value in self.points(name)}


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    """Collected metrics, the provider shut down after the test."""
    collected = Metrics()
    yield collected
    collected.provider.shutdown()


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's switch for its self-observability metrics, on (read as the SDK reads it)."""
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", " True ")


def _action(make_span: SpanMaker, name: str = "refund") -> object:
    return make_span(name, {A.EVENT_TYPE: "action"})


def test_nothing_is_reported_unless_the_switch_is_on(
    make_span: SpanMaker, options: TracengentOptions, metrics: Metrics
) -> None:
    """Off by default, as the SDK's own: no instrument, whatever is delivered or dropped."""
    exporter = metrics.exporter(options)
    exporter.export([_action(make_span)])  # type: ignore[list-item]
    exporter.stats.add_dropped(DropReason.QUEUE_FULL)
    assert exporter.stats.delivered == 1
    assert metrics.points(_EXPORTED) == []
    assert metrics.points(_PROCESSED) == []


@pytest.mark.usefixtures("enabled")
def test_delivered_events_are_exported_spans_of_the_platforms_address(
    make_span: SpanMaker, options: TracengentOptions, metrics: Metrics
) -> None:
    """Each delivered event counts once, without `error.type`; the request is timed and no
    longer in flight; the component and the platform are named."""
    options.base_url = "https://platform.example.com"
    exporter = metrics.exporter(options)
    spans = [_action(make_span, f"a{i}") for i in range(3)]
    exporter.export(spans)  # type: ignore[arg-type]
    ((attributes, value),) = metrics.points(_EXPORTED)
    assert value == 3
    assert "error.type" not in attributes
    assert attributes["otel.component.type"] == "tracengent_span_exporter"
    assert str(attributes["otel.component.name"]).startswith("tracengent_span_exporter/")
    assert (attributes["server.address"], attributes["server.port"]) == (
        "platform.example.com",
        443,
    )
    assert [value for _, value in metrics.points("otel.sdk.exporter.span.inflight")] == [0]
    ((duration_attributes, requests),) = metrics.points("otel.sdk.exporter.operation.duration")
    assert requests == 1
    assert "error.type" not in duration_attributes


@pytest.mark.usefixtures("enabled")
def test_a_refused_request_counts_its_events_as_rejected(
    make_span: SpanMaker, options: TracengentOptions, metrics: Metrics
) -> None:
    """A 400 from the real platform client: `error.type` is the drop reason, on the count and
    on the request's duration."""
    options.max_retries = 0
    stop = threading.Event()
    client = PlatformClient(
        options,
        transport=httpx.MockTransport(lambda request: httpx.Response(400, json={})),
        stop_event=stop,
        sleep=lambda s: False,
    )
    exporter = TracengentSpanExporter(
        options, platform=client, stop_event=stop, meter_provider=metrics.provider
    )
    exporter.export([_action(make_span, "a"), _action(make_span, "b")])  # type: ignore[list-item]
    assert exporter.stats.dropped(DropReason.REJECTED) == 2
    assert metrics.by_error(_EXPORTED) == {"rejected": 2}
    assert metrics.by_error("otel.sdk.exporter.operation.duration") == {"rejected": 1}
    exporter.shutdown()


@pytest.mark.usefixtures("enabled")
def test_every_drop_reason_of_the_export_is_its_error_type(
    options: TracengentOptions, metrics: Metrics
) -> None:
    """Whatever counts a drop on the exporter's side reports it under its reason."""
    exporter = metrics.exporter(options)
    exporter.stats.add_delivered(4, traces_closed=1)
    exporter.stats.add_dropped(DropReason.RETRIES_EXHAUSTED, 2)
    exporter.stats.add_dropped(DropReason.UNSERIALIZABLE)
    exporter.stats.add_dropped(DropReason.SHUTDOWN_TIMEOUT, 3)
    assert metrics.by_error(_EXPORTED) == {
        None: 5,
        "retries_exhausted": 2,
        "unserializable": 1,
        "shutdown_timeout": 3,
    }


@pytest.mark.usefixtures("enabled")
def test_the_processor_reports_its_buffer_and_what_it_dropped(
    make_span: SpanMaker,
    options: TracengentOptions,
    metrics: Metrics,
    processors: list[TracengentSpanProcessor],
) -> None:
    """Spans handed to the exporter, a full buffer (`queue_full`), spans after shutdown
    (`already_shutdown`), the buffer's capacity and size."""
    platform = FakePlatform(block=True)
    exporter = metrics.exporter(options, platform)
    # The processor reports where its exporter does.
    processor = TracengentSpanProcessor(exporter, max_queue_size=2, max_batch_size=1)
    processors.append(processor)
    processor.on_end(_action(make_span, "first"))  # type: ignore[arg-type]
    assert platform.entered.wait(10)  # the worker holds it, blocked in the platform call
    processor.on_end(_action(make_span, "second"))  # type: ignore[arg-type]
    processor.on_end(_action(make_span, "third"))  # type: ignore[arg-type]
    processor.on_end(_action(make_span, "fourth"))  # type: ignore[arg-type]
    assert metrics.by_error(_PROCESSED) == {None: 1, "queue_full": 1}
    ((capacity_attributes, capacity),) = metrics.points("otel.sdk.processor.span.queue.capacity")
    assert capacity == 2
    assert capacity_attributes["otel.component.type"] == "tracengent_span_processor"
    assert [value for _, value in metrics.points("otel.sdk.processor.span.queue.size")] == [2]
    platform.block = False
    platform.stop_event.set()
    processor.shutdown(timeout_millis=5000)
    processor.on_end(_action(make_span, "late"))  # type: ignore[arg-type]
    processed = metrics.by_error(_PROCESSED)
    assert processed["queue_full"] == 1
    assert processed["already_shutdown"] == 1
    assert processed[None] == 3  # every span that was buffered went to the exporter


@pytest.mark.usefixtures("enabled")
def test_components_of_one_kind_are_numbered_apart(
    options: TracengentOptions, metrics: Metrics
) -> None:
    """Two exporters in one process report as two components."""
    first = metrics.exporter(options)
    second = metrics.exporter(options)
    first.stats.add_delivered(1)
    second.stats.add_delivered(2)
    names = {
        attributes["otel.component.name"]: value for attributes, value in metrics.points(_EXPORTED)
    }
    assert sorted(names.values()) == [1, 2]
    assert len(names) == 2


@pytest.mark.usefixtures("enabled")
def test_a_failing_meter_never_reaches_the_pipeline(
    make_span: SpanMaker, options: TracengentOptions, metrics: Metrics
) -> None:
    """An instrument that raises is an internal error of the pipeline: events still count."""
    exporter = TracengentSpanExporter(
        options,
        platform=FakePlatform(respond=lambda events: FakeResult(len(events))),
        meter_provider=metrics.provider,
    )
    reporting = exporter.stats.export_metrics
    assert reporting is not None

    def broken(count: int, error_type: str | None = None) -> None:
        raise RuntimeError("meter broke")

    reporting.exported = broken  # type: ignore[method-assign]
    exporter.export([_action(make_span)])  # type: ignore[list-item]
    assert exporter.stats.delivered == 1
    assert exporter.stats.internal_errors == 1
