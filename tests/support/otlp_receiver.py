"""A loopback OTLP/HTTP (protobuf) trace receiver, standing in for a user's collector."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.loopback import LoopbackServer, Received, Reply, serve


def _answer(request: Received) -> Reply:
    return Reply(status=200, body=b"", content_type="application/x-protobuf")


def received_spans(server: LoopbackServer) -> list[tuple[str, str]]:
    """Every span the receiver got as `(trace id hex, span name)`."""
    spans: list[tuple[str, str]] = []
    for request in server.received:
        if request.path != "/v1/traces":
            continue
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.body)
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                spans.extend((span.trace_id.hex(), span.name) for span in scope_spans.spans)
    return spans


def received_span_attributes(server: LoopbackServer) -> list[tuple[str, dict[str, str]]]:
    """Every span the receiver got as `(span name, its string attributes)`."""
    spans: list[tuple[str, dict[str, str]]] = []
    for request in server.received:
        if request.path != "/v1/traces":
            continue
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.body)
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    strings = {
                        attribute.key: attribute.value.string_value
                        for attribute in span.attributes
                        if attribute.value.HasField("string_value")
                    }
                    spans.append((span.name, strings))
    return spans


def received_sums(server: LoopbackServer, name: str) -> dict[frozenset[tuple[str, str]], int]:
    """The latest value of each data point of the integer sum `name` the receiver got (OTLP's
    default temporality is cumulative), by its attributes (`(key, value as text)` pairs)."""
    latest: dict[frozenset[tuple[str, str]], int] = {}
    for request in server.received:
        if request.path != "/v1/metrics":
            continue
        message = ExportMetricsServiceRequest()
        message.ParseFromString(request.body)
        for resource_metrics in message.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != name:
                        continue
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
    merged: dict[str, str] = {}
    for request in server.received:
        if request.path != "/v1/traces":
            continue
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.body)
        for resource_spans in message.resource_spans:
            for attribute in resource_spans.resource.attributes:
                merged[attribute.key] = attribute.value.string_value
    return merged


@contextmanager
def otlp_receiver() -> Iterator[LoopbackServer]:
    """Accept OTLP/HTTP protobuf exports (`/v1/traces`, `/v1/metrics`)."""
    with serve(_answer) as server:
        yield server
