"""A loopback OTLP/HTTP (protobuf) receiver of traces and metrics, standing in for a user's
collector."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span

from tests.support.loopback import LoopbackServer, Received, Reply, serve


def _answer(request: Received) -> Reply:
    return Reply(status=200, body=b"", content_type="application/x-protobuf")


def _resource_spans(server: LoopbackServer) -> Iterator[ResourceSpans]:
    """Each `ResourceSpans` of every trace export the receiver got, in order."""
    for request in server.received:
        if request.path == "/v1/traces":
            message = ExportTraceServiceRequest()
            message.ParseFromString(request.body)
            yield from message.resource_spans


def _spans(server: LoopbackServer) -> Iterator[Span]:
    for resource_spans in _resource_spans(server):
        for scope_spans in resource_spans.scope_spans:
            yield from scope_spans.spans


def _metrics(server: LoopbackServer, name: str) -> Iterator[Metric]:
    """Each export of the metric `name` the receiver got, in order."""
    for request in server.received:
        if request.path != "/v1/metrics":
            continue
        message = ExportMetricsServiceRequest()
        message.ParseFromString(request.body)
        for resource_metrics in message.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                yield from (metric for metric in scope_metrics.metrics if metric.name == name)


def received_spans(server: LoopbackServer) -> list[tuple[str, str]]:
    """Every span the receiver got as `(trace id hex, span name)`."""
    return [(span.trace_id.hex(), span.name) for span in _spans(server)]


def received_span_attributes(server: LoopbackServer) -> list[tuple[str, dict[str, str]]]:
    """Every span the receiver got as `(span name, its string attributes)`."""
    return [
        (
            span.name,
            {
                attribute.key: attribute.value.string_value
                for attribute in span.attributes
                if attribute.value.HasField("string_value")
            },
        )
        for span in _spans(server)
    ]


def received_sums(server: LoopbackServer, name: str) -> dict[frozenset[tuple[str, str]], int]:
    """The latest value of each data point of the integer sum `name` the receiver got (OTLP's
    default temporality is cumulative), by its attributes (`(key, value as text)` pairs)."""
    latest: dict[frozenset[tuple[str, str]], int] = {}
    for metric in _metrics(server, name):
        for point in metric.sum.data_points:
            attributes = frozenset(
                (
                    attribute.key,
                    str(getattr(attribute.value, attribute.value.WhichOneof("value"))),
                )
                for attribute in point.attributes
            )
            latest[attributes] = point.as_int
    return latest


def received_resource_attributes(server: LoopbackServer) -> dict[str, str]:
    """The string attributes of every resource the receiver got spans for, merged."""
    return {
        attribute.key: attribute.value.string_value
        for resource_spans in _resource_spans(server)
        for attribute in resource_spans.resource.attributes
    }


@contextmanager
def otlp_receiver() -> Iterator[LoopbackServer]:
    """Accept OTLP/HTTP protobuf exports (`/v1/traces`, `/v1/metrics`)."""
    with serve(_answer) as server:
        yield server
