"""A span processor that raises never fails or loses an MCP tool call (review 3).

The application's own span processor raising in `on_start` made `call_tool` raise before the call
(after the gate allowed it); raising in `on_end` made it raise *after* the tool had run, so the
agent lost the tool's result. Telemetry never raises into the agent: the call goes on with a
non-recording span, or its result comes back whatever `on_end` does; the gate still decides.
"""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.support.broken_processor import BrokenProcessor
from tests.unit.mcp.conftest import FakeGate, GateSaysNo, ServerLog


@pytest.mark.parametrize(("start", "end"), [(True, False), (False, True), (True, True)])
async def test_the_call_goes_on_and_its_result_comes_back(
    instrumentor: TracengentMCPInstrumentor,
    server: MCPServer,
    server_log: ServerLog,
    start: bool,
    end: bool,
) -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BrokenProcessor(on_start=start, on_end=end))
    gate = FakeGate()
    instrumentor.instrument(tracer_provider=provider, gate=gate)
    async with Client(server) as client:
        result = await client.session.call_tool("echo", {"text": "hi"})
    assert not result.is_error
    assert [call[:2] for call in server_log.calls] == [("echo", {"text": "hi"})]
    assert gate.asked == [("echo", {"text": "hi"})]


async def test_the_gate_still_denies(
    instrumentor: TracengentMCPInstrumentor, server: MCPServer, server_log: ServerLog
) -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BrokenProcessor(on_start=True, on_end=True))
    instrumentor.instrument(tracer_provider=provider, gate=FakeGate(deny=True))
    async with Client(server) as client:
        with pytest.raises(GateSaysNo):
            await client.session.call_tool("echo", {"text": "hi"})
    assert server_log.calls == []
