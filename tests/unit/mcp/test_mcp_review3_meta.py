"""Third review of the trace context in `params._meta`: a forwarded `_meta`, the 1.x SDK's."""

from __future__ import annotations

from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp_types import RequestParamsMeta
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from pydantic import BaseModel, ConfigDict

from opentelemetry.instrumentation.tracengent_mcp import (
    TracengentMCPInstrumentor,
    extract_context,
    inject_context,
    joined_trace,
)
from tests.unit.mcp.conftest import ServerLog, Traced

# The trace context of another trace, as an MCP proxy forwards it from the request it serves.
FORWARDED_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FORWARDED_TRACESTATE = "congo=t61rcWkgMzE"


def _span(trace_state: TraceState | None = None) -> trace.Span:
    context = SpanContext(
        0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1), trace_state=trace_state
    )
    return NonRecordingSpan(context)


def test_a_tracestate_of_another_trace_is_not_kept_with_the_new_traceparent() -> None:
    """`tracestate` belongs to the `traceparent` it came with: replaced with it, never kept."""
    forwarded = {"traceparent": FORWARDED_TRACEPARENT, "tracestate": FORWARDED_TRACESTATE, "k": 1}
    with trace.use_span(_span()):
        meta = inject_context(forwarded)
    assert meta is not None
    assert "tracestate" not in meta
    assert meta["k"] == 1
    assert str(meta["traceparent"]).split("-")[1] == format(0x1234, "032x")


def test_the_current_tracestate_replaces_a_forwarded_one() -> None:
    """When the current span has a trace state of its own, that one is sent."""
    forwarded = {"traceparent": FORWARDED_TRACEPARENT, "tracestate": FORWARDED_TRACESTATE}
    with trace.use_span(_span(TraceState([("ours", "1")]))):
        meta = inject_context(forwarded)
    assert meta is not None
    assert meta["tracestate"] == "ours=1"


async def test_forwarded_meta_reaches_the_server_without_the_old_tracestate(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """A proxy forwarding its request's `_meta`: the server gets one coherent trace context."""
    instrumentor.instrument(tracer_provider=traced.provider)
    forwarded: RequestParamsMeta = {  # type: ignore[typeddict-unknown-key]  # PEP 728 extra keys
        "traceparent": FORWARDED_TRACEPARENT,
        "tracestate": FORWARDED_TRACESTATE,
    }
    async with Client(server) as client:
        await client.session.call_tool("echo", {"text": "hi"}, meta=forwarded)
    ((_, _, meta),) = server_log.calls
    (span,) = traced.tool_spans()
    assert str(meta["traceparent"]).split("-")[1] == format(span.context.trace_id, "032x")
    assert "tracestate" not in meta


class SdkOneMeta(BaseModel):
    """What a tool handler gets as `ctx.request_context.meta` from `mcp` 1.x: a pydantic model
    (`mcp.types.RequestParams.Meta`) whose extra fields carry `traceparent` and `tracestate`."""

    progressToken: str | int | None = None  # noqa: N815 - the SDK's own field name
    model_config = ConfigDict(extra="allow")


def test_server_of_the_sdk_one_joins_the_callers_trace() -> None:
    """`joined_trace` works on the `_meta` a 1.x server hands its tool (the README's use)."""
    meta = SdkOneMeta.model_validate(
        {"progressToken": 7, "traceparent": FORWARDED_TRACEPARENT, "tracestate": "congo=1"}
    )
    with joined_trace(meta):
        parent = trace.get_current_span().get_span_context()
    assert format(parent.trace_id, "032x") == FORWARDED_TRACEPARENT.split("-")[1]
    assert parent.is_remote
    assert parent.trace_state.get("congo") == "1"
    assert extract_context(SdkOneMeta()) is not None
