"""`TracengentMCPInstrumentor` against an in-process MCP server, spans in memory."""

from __future__ import annotations

import pytest
from mcp import Client, ClientSession
from mcp.client.client import Client as ClientClass
from mcp.server.mcpserver import MCPServer
from mcp_types import RequestParamsMeta
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import SpanKind, StatusCode

from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.unit.mcp.conftest import FakeGate, FakeHook, GateSaysNo, ServerLog, Traced


async def test_call_tool_is_one_execute_tool_span_with_payloads(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, server: MCPServer
) -> None:
    """A session's call_tool becomes one INTERNAL execute_tool span with both payloads."""
    hook = FakeHook()
    instrumentor.instrument(tracer_provider=traced.provider, payload_hook=hook)
    async with Client(server) as client:
        await client.session.call_tool("echo", {"text": "hi"})
    (span,) = traced.tool_spans()
    assert span.name == "execute_tool echo"
    assert span.kind is SpanKind.INTERNAL
    attributes = dict(span.attributes or {})
    assert attributes[gen_ai.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert attributes[gen_ai.GEN_AI_TOOL_NAME] == "echo"
    assert attributes[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] == "payload:['text']"
    assert str(attributes[gen_ai.GEN_AI_TOOL_CALL_RESULT]).startswith("payload:")
    assert hook.seen[0] == {"text": "hi"}
    assert span.status.status_code is StatusCode.UNSET


async def test_trace_context_travels_in_meta_without_touching_the_callers_dict(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """The server sees `traceparent` of the span's trace next to the caller's own `_meta`."""
    instrumentor.instrument(tracer_provider=traced.provider)
    # mypy does not know PEP 728 `extra_items`, which RequestParamsMeta declares.
    callers_meta: RequestParamsMeta = {"tenant": "acme"}  # type: ignore[typeddict-unknown-key]
    async with Client(server) as client:
        await client.session.call_tool("echo", {"text": "hi"}, meta=callers_meta)
    assert callers_meta == {"tenant": "acme"}
    ((_, _, meta),) = server_log.calls
    assert meta["tenant"] == "acme"
    (span,) = traced.tool_spans()
    assert str(meta["traceparent"]).split("-")[1] == format(span.context.trace_id, "032x")


async def test_without_a_payload_hook_no_payload_is_recorded(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, server: MCPServer
) -> None:
    """With no hook, neither arguments nor result are written onto the span."""
    instrumentor.instrument(tracer_provider=traced.provider, gate=None, payload_hook=None)
    async with Client(server) as client:
        await client.session.call_tool("echo", {"text": "secret"})
    (span,) = traced.tool_spans()
    assert gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS not in (span.attributes or {})
    assert gen_ai.GEN_AI_TOOL_CALL_RESULT not in (span.attributes or {})


async def test_gate_deny_raises_its_own_exception_and_nothing_is_sent(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """The gate's exception reaches the caller unchanged, the server gets nothing."""
    gate = FakeGate(deny=True)
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    async with Client(server) as client:
        with pytest.raises(GateSaysNo):
            await client.session.call_tool("echo", {"text": "hi"})
    assert server_log.calls == []
    assert gate.asked == [("echo", {"text": "hi"})]
    (span,) = traced.tool_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "GateSaysNo"


async def test_server_receives_the_arguments_the_gate_returned(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """Redacted arguments from the gate are what is sent and what is recorded."""
    gate = FakeGate(replace_with={"text": "***REDACTED***"})
    hook = FakeHook()
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate, payload_hook=hook)
    async with Client(server) as client:
        await client.session.call_tool("echo", {"text": "4111"})
    assert [args for _, args, _ in server_log.calls] == [{"text": "***REDACTED***"}]
    assert hook.seen[0] == {"text": "***REDACTED***"}


async def test_gate_answering_nonsense_fails_closed(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """A gate returning something that is not a mapping stops the call."""
    instrumentor.instrument(tracer_provider=traced.provider, gate=FakeGate(answer_nonsense=True))
    async with Client(server) as client:
        with pytest.raises(TypeError):
            await client.session.call_tool("echo", {"text": "hi"})
    assert server_log.calls == []


async def test_suppressed_instrumentation_still_governs(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """Under OTel's suppression there is no span, but the gate still decides."""
    instrumentor.instrument(tracer_provider=traced.provider, gate=FakeGate(deny=True))
    async with Client(server) as client:
        with suppress_instrumentation(), pytest.raises(GateSaysNo):
            await client.session.call_tool("echo", {"text": "hi"})
    assert server_log.calls == []
    assert traced.tool_spans() == []


async def test_tool_error_result_marks_the_span_failed(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, server: MCPServer
) -> None:
    """A result with `isError` is returned as is and fails the span (`error.type=tool_error`)."""
    instrumentor.instrument(tracer_provider=traced.provider)
    async with Client(server) as client:
        result = await client.session.call_tool("boom", {})
    assert result.is_error
    (span,) = traced.tool_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "tool_error"


async def test_failing_payload_hook_never_reaches_the_agent(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, server: MCPServer
) -> None:
    """A hook that raises loses only the payload; the call and its span complete."""
    instrumentor.instrument(tracer_provider=traced.provider, payload_hook=FakeHook(fail=True))
    async with Client(server) as client:
        result = await client.session.call_tool("echo", {"text": "hi"})
    assert not result.is_error
    (span,) = traced.tool_spans()
    assert gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS not in (span.attributes or {})


async def test_high_level_client_call_is_one_span_and_one_authorization(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """`mcp.Client.call_tool` (which calls the session) is traced and authorized once."""
    gate = FakeGate()
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    async with Client(server) as client:
        await client.call_tool("echo", {"text": "hi"})
    assert len(traced.tool_spans()) == 1
    assert len(gate.asked) == 1
    assert len(server_log.calls) == 1


async def test_instrument_twice_still_traces_each_call_once(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, server: MCPServer
) -> None:
    """A second instrument() is a no-op: no nested second span."""
    instrumentor.instrument(tracer_provider=traced.provider)
    instrumentor.instrument(tracer_provider=traced.provider)
    async with Client(server) as client:
        await client.session.call_tool("echo", {"text": "hi"})
    assert len(traced.tool_spans()) == 1


async def test_uninstrument_restores_the_sdk_methods_exactly(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, server: MCPServer
) -> None:
    """After uninstrument() the SDK's own function objects are back and nothing is traced."""
    originals = {owner: vars(owner)["call_tool"] for owner in (ClientSession, ClientClass)}
    instrumentor.instrument(tracer_provider=traced.provider, gate=FakeGate(deny=True))
    assert all(vars(owner)["call_tool"] is not fn for owner, fn in originals.items())
    instrumentor.uninstrument()
    assert all(vars(owner)["call_tool"] is fn for owner, fn in originals.items())
    async with Client(server) as client:
        result = await client.call_tool("echo", {"text": "hi"})
    assert not result.is_error
    assert traced.tool_spans() == []


def test_wrong_gate_type_is_refused(
    instrumentor: TracengentMCPInstrumentor, traced: Traced
) -> None:
    """instrument(gate=...) with an object that is not a ToolCallGate raises, patching nothing."""
    original = vars(ClientSession)["call_tool"]
    with pytest.raises(TypeError, match="ToolCallGate"):
        instrumentor.instrument(tracer_provider=traced.provider, gate=object())
    assert vars(ClientSession)["call_tool"] is original
