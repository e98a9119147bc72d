"""Third review of the MCP `tools/call` flow: calls that end early, a `_meta` not a mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode

from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from opentelemetry.instrumentation.tracengent_mcp._flow import ToolCallState, call_tool_traced
from tests.unit.mcp.conftest import Traced

_LONG_S = 30.0
_CANCEL_AFTER_S = 0.2


@pytest.fixture
def slow_server() -> MCPServer:
    """An in-process server whose `slow` tool takes far longer than any test waits."""
    server = MCPServer("slow-server")

    @server.tool()
    async def slow() -> str:
        """Answer, eventually."""
        await anyio.sleep(_LONG_S)
        return "done"

    return server


class SlowGate:
    """A gate that takes far longer to decide than the caller waits (a slow platform)."""

    async def check_async(
        self, tool: str, arguments: Mapping[str, object] | None
    ) -> Mapping[str, object] | None:
        await anyio.sleep(_LONG_S)
        return arguments


async def test_call_cancelled_in_flight_is_a_failed_span(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, slow_server: MCPServer
) -> None:
    """A call the caller abandons (a timeout scope) is not reported as a success."""
    instrumentor.instrument(tracer_provider=traced.provider)
    async with Client(slow_server) as client:
        with anyio.move_on_after(_CANCEL_AFTER_S) as scope:
            await client.session.call_tool("slow", {})
    assert scope.cancelled_caught
    (span,) = traced.tool_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "CancelledError"


async def test_call_cancelled_while_authorized_is_a_failed_span(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, slow_server: MCPServer
) -> None:
    """A call cancelled before its gate decided was never made: not a success either."""
    instrumentor.instrument(tracer_provider=traced.provider, gate=SlowGate())
    async with Client(slow_server) as client:
        with anyio.move_on_after(_CANCEL_AFTER_S) as scope:
            await client.call_tool("slow", {})
    assert scope.cancelled_caught
    (span,) = traced.tool_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "CancelledError"


class SdkRefusesMeta(Exception):
    """What the SDK raises for a `_meta` that is not an object."""


async def test_meta_that_is_not_a_mapping_reaches_the_sdk_unchanged() -> None:
    """The instrumentation does not fail on a `_meta` it cannot copy: the SDK judges it."""
    received: list[object] = []

    async def call_tool(*args: Any, **kwargs: Any) -> str:
        received.append(kwargs["meta"])
        raise SdkRefusesMeta

    provider = TracerProvider()
    state = ToolCallState(provider.get_tracer("test"), None, None)
    with pytest.raises(SdkRefusesMeta):
        await call_tool_traced(state, call_tool, ("echo",), {"meta": "not-an-object"})
    assert received == ["not-an-object"]
