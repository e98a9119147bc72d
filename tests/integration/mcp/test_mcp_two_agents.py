"""Two agents in one process: the MCP gate of one agent's client while the other agent's
decision trace is current names no trace, as that client's other governance does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from tracengent import TracengentClient, _state
from tracengent.testing import RunningPlatform

POLICY = """
currency = "EUR"

[[agents]]
id = "demo-agent"
client_id = "key_demo"
client_secret = "ags_demo"
permissions = ["flights:*"]

[[agents]]
id = "hotel-agent"
client_id = "key_hotel"
client_secret = "ags_hotel"
permissions = ["hotels:*"]

[[tools]]
transport = "mcp"
name = "search_hotels"
permission = "hotels:search"
"""


@pytest.fixture
def tracengent_policy(tmp_path: Path) -> Path:
    """Two agents; `search_hotels` is a bound MCP tool the hotel agent may call."""
    path = tmp_path / "two-agents-policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture
def hotels_server() -> MCPServer:
    """An in-process MCP server with `search_hotels`."""
    server = MCPServer("hotels")

    @server.tool()
    def search_hotels(city: str) -> str:
        """Find a hotel in `city`."""
        return f"Hotel {city}"

    return server


@pytest.fixture
async def clients(
    tracengent_platform: RunningPlatform,
) -> AsyncIterator[tuple[TracengentClient, TracengentClient]]:
    """The orchestrator's client and the hotel agent's, MCP governed by the hotel agent's."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    # The public way: the client's own `instrument_mcp` hands the gate its recorder.
    instrumentor = hotels.instrument_mcp()
    try:
        yield orchestrator, hotels
    finally:
        instrumentor.uninstrument()
        await orchestrator.aclose()
        await hotels.aclose()
        _state.reset_for_tests()


async def test_mcp_gate_inside_another_agents_trace_names_no_trace(
    clients: tuple[TracengentClient, TracengentClient],
    hotels_server: MCPServer,
    tracengent_platform: RunningPlatform,
) -> None:
    """The hotel agent's MCP decision made while the orchestrator's trace is current is filed
    under no trace, not under the orchestrator's."""
    orchestrator, _ = clients
    with orchestrator.begin_trace("plan the trip"):
        async with Client(hotels_server) as session:
            result = await session.call_tool("search_hotels", {"city": "Oslo"})
    assert not result.is_error
    (decision,) = tracengent_platform.store.decisions()
    assert decision.agent_id == "hotel-agent"
    assert decision.trace_id is None
    assert "traceId" not in decision.request


async def test_mcp_gate_inside_its_own_agents_trace_names_it(
    clients: tuple[TracengentClient, TracengentClient],
    hotels_server: MCPServer,
    tracengent_platform: RunningPlatform,
) -> None:
    """The same gate inside a trace of its own agent names that trace."""
    _, hotels = clients
    with hotels.begin_trace("book a hotel") as booking:
        async with Client(hotels_server) as session:
            await session.call_tool("search_hotels", {"city": "Oslo"})
    (decision,) = tracengent_platform.store.decisions()
    assert decision.trace_id == booking.trace_id
