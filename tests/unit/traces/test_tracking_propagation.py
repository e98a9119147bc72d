"""Tracked requests carry the trace context the global propagator would write, byte for byte.

The default W3C propagator's case is written without `propagate.inject` (`_propagation`); these
tests hold it to what `propagate.inject` writes for the same context, and check that every other
case (baggage, another propagator, a subclass) still goes through the configured propagator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_setter,
)
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tests.unit.traces.conftest import ClientHarness
from tracengent import tracked_client
from tracengent._propagation import writes_w3c_only

_NAME = "GET api.example/items"
_URL = "https://api.example/items"
_W3C = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


class _VendorPropagator(TextMapPropagator):
    """An application's own propagator: one header of its own, no `traceparent`."""

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        span_context = get_current_span(context).get_span_context()
        setter.set(carrier, "x-vendor-trace", f"{span_context.trace_id:x}")

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] | None = None,
    ) -> Context:
        return context if context is not None else Context()

    @property
    def fields(self) -> set[str]:
        return {"x-vendor-trace"}


class _LoudTraceContext(TraceContextTextMapPropagator):
    """A subclass of the W3C propagator that writes one more header: it must be called."""

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        super().inject(carrier, context, setter)
        setter.set(carrier, "x-subclass", "1")


@pytest.fixture
def global_textmap() -> Iterator[Callable[[TextMapPropagator], None]]:
    """Install a global propagator for one test; the previous one comes back after it."""
    previous = propagate.get_global_textmap()
    yield propagate.set_global_textmap
    propagate.set_global_textmap(previous)


def _sent_headers(harness: ClientHarness, parent: Context | None = None) -> httpx.Headers:
    """The headers of one tracked GET, sent inside `parent` when given."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    token = otel_context.attach(parent) if parent is not None else None
    try:
        with tracked_client(harness.client, inner=httpx.MockTransport(handler)) as http:
            http.get(_URL).raise_for_status()
    finally:
        if token is not None:
            otel_context.detach(token)
    assert len(seen) == 1
    return seen[0].headers


def _expected(harness: ClientHarness, parent: Context | None = None) -> dict[str, str]:
    """What `propagate.inject` writes for the tracked span's context, inside `parent`."""
    span_context = harness.span(_NAME).context
    assert span_context is not None
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=set_span_in_context(NonRecordingSpan(span_context), parent))
    return carrier


def _propagation_headers(headers: httpx.Headers) -> dict[str, str]:
    names = ("traceparent", "tracestate", "baggage", "x-vendor-trace", "x-subclass")
    return {name: headers[name] for name in names if name in headers}


def test_default_propagator_writes_what_propagate_inject_writes(
    client_harness: ClientHarness, global_textmap: Callable[[TextMapPropagator], None]
) -> None:
    """The W3C default: `traceparent` alone, exactly `propagate.inject`'s."""
    global_textmap(_W3C)
    headers = _propagation_headers(_sent_headers(client_harness))
    expected = _expected(client_harness)
    assert headers == expected
    assert set(headers) == {"traceparent"}
    # Sampled (the random-trace-id flag may be set beside it on SDKs that have it).
    assert int(headers["traceparent"].rsplit("-", 1)[1], 16) & TraceFlags.SAMPLED


def test_trace_state_of_the_parent_goes_out(
    client_harness: ClientHarness, global_textmap: Callable[[TextMapPropagator], None]
) -> None:
    """A remote parent's `tracestate` is carried on, as the W3C propagator writes it."""
    global_textmap(_W3C)
    parent_context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "abc"), ("other", "1")]),
    )
    parent = set_span_in_context(NonRecordingSpan(parent_context))
    headers = _propagation_headers(_sent_headers(client_harness, parent))
    assert headers == _expected(client_harness, parent)
    assert headers["tracestate"] == "vendor=abc,other=1"
    assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


def test_unsampled_parent_still_records_the_request_and_says_so(
    client_harness: ClientHarness, global_textmap: Callable[[TextMapPropagator], None]
) -> None:
    """A parent that was not sampled (an upstream sampled the request out): the request is an
    event, never lost to sampling; its span is recorded and sampled in the parent's trace, and
    its headers say so (flags 01, the `tracengent=1` mark a callee's `TracengentSampler` keeps
    its decision trace by)."""
    global_textmap(_W3C)
    parent_context = SpanContext(
        trace_id=0x1234,
        span_id=0x5678,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.DEFAULT),
    )
    parent = set_span_in_context(NonRecordingSpan(parent_context))
    headers = _sent_headers(client_harness, parent)
    trace_id, _span_id, flags = headers["traceparent"].split("-")[1:]
    assert trace_id == f"{0x1234:032x}"
    assert flags == "01"
    assert headers["tracestate"] == "tracengent=1"
    (span,) = client_harness.memory.get_finished_spans()
    assert span.context is not None
    assert span.context.trace_id == 0x1234


def test_baggage_goes_through_the_propagator(
    client_harness: ClientHarness, global_textmap: Callable[[TextMapPropagator], None]
) -> None:
    """Baggage in the context: the configured propagator writes it beside `traceparent`."""
    global_textmap(_W3C)
    parent = baggage.set_baggage("tenant", "acme", context=Context())
    headers = _propagation_headers(_sent_headers(client_harness, parent))
    assert headers == _expected(client_harness, parent)
    assert headers["baggage"] == "tenant=acme"
    assert "traceparent" in headers


def test_another_propagator_is_used_instead(
    client_harness: ClientHarness, global_textmap: Callable[[TextMapPropagator], None]
) -> None:
    """An application's own propagator writes its header, and no `traceparent` appears."""
    global_textmap(_VendorPropagator())
    headers = _propagation_headers(_sent_headers(client_harness))
    span_context = client_harness.span(_NAME).context
    assert span_context is not None
    assert headers == {"x-vendor-trace": f"{span_context.trace_id:x}"}


def test_a_subclass_of_the_w3c_propagator_is_called(
    client_harness: ClientHarness, global_textmap: Callable[[TextMapPropagator], None]
) -> None:
    """A subclass may write more: it is called, not stood in for."""
    global_textmap(CompositePropagator([_LoudTraceContext()]))
    headers = _propagation_headers(_sent_headers(client_harness))
    assert headers["x-subclass"] == "1"
    assert headers["traceparent"] == _expected(client_harness)["traceparent"]


def test_a_propagator_installed_later_is_seen(
    client_harness: ClientHarness, global_textmap: Callable[[TextMapPropagator], None]
) -> None:
    """The verdict on the global propagator follows `set_global_textmap`, both ways."""
    global_textmap(_W3C)
    assert "traceparent" in _sent_headers(client_harness)
    client_harness.memory.clear()
    global_textmap(_VendorPropagator())
    headers = _sent_headers(client_harness)
    assert "traceparent" not in headers
    assert "x-vendor-trace" in headers
    client_harness.memory.clear()
    global_textmap(_W3C)
    headers = _sent_headers(client_harness)
    assert "traceparent" in headers
    assert "x-vendor-trace" not in headers


@pytest.mark.parametrize(
    ("textmap", "w3c_only"),
    [
        (_W3C, True),
        (CompositePropagator([W3CBaggagePropagator(), TraceContextTextMapPropagator()]), True),
        (CompositePropagator([TraceContextTextMapPropagator()]), True),
        (TraceContextTextMapPropagator(), True),
        (CompositePropagator([W3CBaggagePropagator()]), False),
        (W3CBaggagePropagator(), False),
        (CompositePropagator([]), False),
        (CompositePropagator([TraceContextTextMapPropagator(), _VendorPropagator()]), False),
        (CompositePropagator([_LoudTraceContext()]), False),
        (_VendorPropagator(), False),
    ],
)
def test_writes_w3c_only(textmap: TextMapPropagator, w3c_only: bool) -> None:
    """Only the SDK's own W3C classes, alone or composed, count as the known case."""
    assert writes_w3c_only(textmap) is w3c_only
