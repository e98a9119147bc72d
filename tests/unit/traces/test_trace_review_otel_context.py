"""A decision trace made current keeps the rest of the OpenTelemetry context current then.

`with trace:` (and a tracker of a trace used without `with`) makes the trace's root the current
span as OTel's `use_span` does: in the context current at that moment. Baggage and other context
values set after `begin_trace` stay (they were replaced by the context `begin_trace` ran in).
"""

from __future__ import annotations

import asyncio

import httpx
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from tests.unit.traces.conftest import ClientHarness
from tracengent import current_trace, tracked_client

_KEY = otel_context.create_key("tests.request-scope")


def test_with_trace_keeps_the_baggage_current_at_enter(client_harness: ClientHarness) -> None:
    """Baggage attached between `begin_trace` and `with` is still current inside the block,
    in tracked calls, and on the requests a tracked client sends (the `baggage` header)."""
    client = client_harness.client
    trace = client.begin_trace("refund 7")
    seen: list[str | None] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("baggage"))
        return httpx.Response(200)

    transport = httpx.MockTransport(platform)
    token = otel_context.attach(baggage.set_baggage("tenant", "t-1"))
    try:
        with trace:
            assert baggage.get_baggage("tenant") == "t-1"
            assert otel_trace.get_current_span() is trace.otel_span
            inner = trace.track_tool_call("lookup", lambda: baggage.get_baggage("tenant"))
            with tracked_client(client, inner=transport) as http:
                http.get("https://api.example.com/orders/7")
    finally:
        otel_context.detach(token)
    assert inner == "t-1"
    assert seen == ["tenant=t-1"]


def test_a_tracker_of_a_trace_not_entered_keeps_the_current_context(
    client_harness: ClientHarness,
) -> None:
    """Without `with`, the tracked callable runs with its event span current in the caller's
    context (its context values too), not in the one `begin_trace` ran in."""
    client = client_harness.client
    trace = client.begin_trace("refund 7")
    token = otel_context.attach(otel_context.set_value(_KEY, "request-42"))
    try:
        value = trace.track_action("act", lambda: otel_context.get_value(_KEY))
        assert trace.track_tool_call("again", lambda: otel_context.get_value(_KEY)) == value
        assert trace.track_tool_call("in trace", lambda: current_trace() is trace) is True
    finally:
        otel_context.detach(token)
    trace.close()
    assert value == "request-42"
    parent = client_harness.span("act").parent
    assert parent is not None
    assert parent.span_id == trace.otel_span.get_span_context().span_id


def test_async_with_trace_keeps_the_tasks_context_values(client_harness: ClientHarness) -> None:
    """`async with` in a task whose context holds a value set after `begin_trace`."""
    client = client_harness.client
    trace = client.begin_trace("plan")

    async def agent() -> object:
        otel_context.attach(otel_context.set_value(_KEY, "task-value"))
        async with trace:
            return otel_context.get_value(_KEY)

    assert asyncio.run(agent()) == "task-value"
