"""Two clients instrumenting MCP from two threads at once: one instrumentation, the asked-for
gate in force, and `uninstrument()` puts the SDK's own method back."""

from __future__ import annotations

import threading

import pytest
from mcp import Client, ClientSession
from mcp.server.mcpserver import MCPServer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.wire import ToolDecision
from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.unit.mcp.conftest import ServerLog, Traced
from tests.unit.mcp.test_mcp_gate import OPTIONS, AsyncFakePlatform, FakePlatform
from tracengent._mcp import instrument_mcp

_THREAD_WAIT_S = 10.0
_RACE_WINDOW_S = 0.5


class HeldProvider(TracerProvider):
    """A provider whose `get_tracer` waits for `release`: the instrumentation it is given is
    held half made (after its hooks are built, before `call_tool` is patched)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def get_tracer(self, *args: object, **kwargs: object) -> Tracer:
        self.entered.set()
        self.release.wait(_THREAD_WAIT_S)
        return super().get_tracer(*args, **kwargs)  # type: ignore[arg-type]


async def test_concurrent_instrument_mcp_is_one_instrumentation_with_the_gate(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """A trace-only client and a governing client instrument MCP in two threads at once: every
    call is authorized by the governing client's gate, traced once, and `uninstrument()`
    restores the SDK's method."""
    original_call_tool = vars(ClientSession)["call_tool"]
    platform = FakePlatform(decision=ToolDecision.deny("no", "policy_deny"))
    held = HeldProvider()

    def trace_only() -> None:
        tracer = traced.provider.get_tracer("trace-only")
        instrument_mcp(OPTIONS, tracer=tracer, tracer_provider=held, govern=False)

    def govern() -> None:
        instrument_mcp(
            OPTIONS,
            tracer=traced.provider.get_tracer("gov"),
            tracer_provider=traced.provider,
            platform=platform,  # type: ignore[arg-type]  # a fake of the platform client
            async_platform=AsyncFakePlatform(platform),  # type: ignore[arg-type]
        )

    first = threading.Thread(target=trace_only)
    first.start()
    assert held.entered.wait(_THREAD_WAIT_S)
    second = threading.Thread(target=govern)
    second.start()
    second.join(_RACE_WINDOW_S)  # done at once unless it waits for the first (bounds the wait)
    held.release.set()
    first.join(_THREAD_WAIT_S)
    second.join(_THREAD_WAIT_S)
    assert not first.is_alive()
    assert not second.is_alive()

    async with Client(server) as client:
        with pytest.raises(ToolDeniedException):
            await client.session.call_tool("echo", {"text": "hi"})
    assert server_log.calls == []
    assert len(platform.requests) == 1
    instrumentor.uninstrument()
    assert vars(ClientSession)["call_tool"] is original_call_tool
