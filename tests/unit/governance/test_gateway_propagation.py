"""A governed request carries the current trace context exactly as `propagate.inject` writes it
(the W3C default written directly, anything else through the configured propagator)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW
from tests.unit.traces.test_tracking_propagation import _W3C, _VendorPropagator
from tracengent import governed_client

from .egress_support import scripted_governor


@pytest.fixture
def tracer() -> Tracer:
    """A recording tracer of a provider of the test's own."""
    return TracerProvider().get_tracer("test")


@pytest.fixture(autouse=True)
def restore_textmap() -> Iterator[None]:
    """The global propagator comes back after each test."""
    previous = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(previous)


def _sent(tracer: Tracer, context: Context | None = None) -> tuple[httpx.Headers, dict[str, str]]:
    """The headers of one allowed GET sent inside a span (in `context`), and what
    `propagate.inject` writes for that span's context."""
    gate, _ = scripted_governor(dict(ALLOW), tracer)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    token = otel_context.attach(context) if context is not None else None
    try:
        with (
            tracer.start_as_current_span("agent step"),
            governed_client(gate, inner=httpx.MockTransport(handler)) as http,
        ):
            expected: dict[str, str] = {}
            propagate.inject(expected)
            http.get("https://api.example.com/items").raise_for_status()
    finally:
        if token is not None:
            otel_context.detach(token)
    (request,) = seen
    return request.headers, expected


def test_w3c_default_writes_what_propagate_inject_writes(tracer: Tracer) -> None:
    """`traceparent` of the current span, byte for byte."""
    propagate.set_global_textmap(_W3C)
    headers, expected = _sent(tracer)
    assert set(expected) == {"traceparent"}
    assert headers["traceparent"] == expected["traceparent"]
    assert "baggage" not in headers


def test_baggage_and_other_propagators_go_through_the_propagator(tracer: Tracer) -> None:
    """Baggage in the context is written beside `traceparent`; another propagator's headers
    replace the W3C ones."""
    propagate.set_global_textmap(_W3C)
    headers, expected = _sent(tracer, baggage.set_baggage("tenant", "acme", context=Context()))
    assert expected["baggage"] == "tenant=acme"
    assert {name: headers[name] for name in expected} == expected
    propagate.set_global_textmap(CompositePropagator([_VendorPropagator()]))
    headers, expected = _sent(tracer)
    assert set(expected) == {"x-vendor-trace"}
    assert headers["x-vendor-trace"] == expected["x-vendor-trace"]
    assert "traceparent" not in headers
