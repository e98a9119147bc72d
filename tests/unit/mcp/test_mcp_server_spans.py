"""Server side: `joined_trace` inside a server that opened its own span for the request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mcp import Client
from mcp.server.mcpserver import Context, MCPServer
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from opentelemetry.instrumentation.tracengent_mcp import (
    TracengentMCPInstrumentor,
    extract_context,
    joined_trace,
)

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


@pytest.fixture
def global_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A global SDK provider (where the `mcp` server's own spans go), spans kept in memory."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield exporter
    provider.shutdown()


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name]
    return span


async def test_spans_of_a_joined_handler_nest_under_the_servers_own_span(
    global_provider: InMemorySpanExporter,
) -> None:
    """In an `mcp` 2.x server, which opens a SERVER span from `_meta` already, a handler's spans
    inside `joined_trace` are children of that span, not its siblings under the caller's."""
    server = MCPServer("joined-server")

    @server.tool()
    def echo(text: str, ctx: Context) -> str:
        """Echo `text` inside a span of the handler's own."""
        with (
            joined_trace(ctx.request_context.meta),
            trace.get_tracer("handler").start_as_current_span("handler work"),
        ):
            return text

    instrumentor = TracengentMCPInstrumentor()
    instrumentor.instrument()
    try:
        async with Client(server) as client:
            await client.call_tool("echo", {"text": "hi"})
    finally:
        instrumentor.uninstrument()
    spans = list(global_provider.get_finished_spans())
    server_span = _one(spans, "tools/call echo")
    assert server_span.kind is SpanKind.SERVER
    work = _one(spans, "handler work")
    assert work.parent is not None
    assert work.parent.span_id == server_span.context.span_id
    assert work.context.trace_id == _one(spans, "execute_tool echo").context.trace_id


def test_a_context_in_the_callers_trace_already_is_kept_with_the_metas_baggage() -> None:
    """`extract_context` on top of a span of the caller's trace keeps that span as the parent
    (it joined the trace already) and still adds the `_meta`'s baggage."""
    joined = NonRecordingSpan(
        SpanContext(TRACE_ID, 0x1111111111111111, is_remote=False, trace_flags=TraceFlags(1))
    )
    with trace.use_span(joined):
        context = extract_context({"traceparent": TRACEPARENT, "baggage": "tenant=acme"})
    assert trace.get_current_span(context) is joined
    assert baggage.get_baggage("tenant", context) == "acme"


def test_a_context_in_another_trace_is_replaced_by_the_callers() -> None:
    """A current span of another trace is not the caller's: the remote parent is used."""
    other = NonRecordingSpan(
        SpanContext(0x2222, 0x3333, is_remote=False, trace_flags=TraceFlags(1))
    )
    with trace.use_span(other):
        context = extract_context({"traceparent": TRACEPARENT})
    parent = trace.get_current_span(context).get_span_context()
    assert (parent.trace_id, parent.span_id, parent.is_remote) == (TRACE_ID, SPAN_ID, True)
