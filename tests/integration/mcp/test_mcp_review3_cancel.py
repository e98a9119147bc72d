"""Third review, end to end on the real local platform: a tool call the agent abandons."""

from __future__ import annotations

import anyio
from mcp import Client
from mcp.server.mcpserver import MCPServer

from tests.integration.mcp.conftest import Agent
from tracengent.testing import RunningPlatform

_LONG_S = 30.0
_CANCEL_AFTER_S = 0.5


async def test_call_abandoned_in_flight_is_stored_as_a_failure(
    agent: Agent, tracengent_platform: RunningPlatform
) -> None:
    """An allowed call cancelled by the caller's timeout is a `failure` event, not a `success`."""
    server = MCPServer("slow-flights", log_level="WARNING")

    @server.tool()
    async def search_flights(origin: str, destination: str) -> str:
        """Allowed by the test policy; answers far later than the caller waits."""
        await anyio.sleep(_LONG_S)
        return "TP 1234"

    with agent.client.begin_trace("find a flight"):
        async with Client(server) as client:
            with anyio.move_on_after(_CANCEL_AFTER_S) as scope:
                await client.call_tool("search_flights", {"origin": "LIS", "destination": "OSL"})
    assert scope.cancelled_caught

    assert agent.client.close(timeout=10)
    (decision,) = tracengent_platform.store.decisions()
    assert decision.status == "allowed"
    tool_calls = [
        e.body for e in tracengent_platform.store.events() if e.body.get("type") == "tool_call"
    ]
    assert [(b["name"], b["status"]) for b in tool_calls] == [("search_flights", "failure")]
