"""Zero code, `TRACENGENT_GOVERN_MCP=true`: whatever goes wrong while the gate's settings are read,
every MCP tool call is denied. A factory that raised would be skipped by the instrumentation's
discovery (`load_hooks`), and the calls would then go out ungoverned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tracengent import _mcp, _state

# Settings that look complete; the base URL is a typo'd IPv6 address, which `urlsplit` refuses
# with a plain ValueError.
SETTINGS = {
    env.TRACENGENT_AGENT_ID: "demo-agent",
    env.TRACENGENT_CLIENT_ID: "key_demo",
    env.TRACENGENT_CLIENT_SECRET: "ags_demo",
    env.TRACENGENT_URL: "http://[::1",
    env.TRACENGENT_GOVERN_MCP: "true",
}


@pytest.fixture
def governed_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings above, with no zero-code set-up recorded (another configurator ran)."""
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(env.TRACENGENT_DISABLED, raising=False)
    _state.reset_for_tests()
    yield
    _state.reset_for_tests()


async def test_settings_that_fail_to_parse_deny_every_call(governed_environment: None) -> None:
    """An unparseable base URL: the factory returns a gate that denies, it does not raise."""
    hooks = _mcp.zero_code_mcp_hooks()
    assert hooks is not None
    assert hooks.gate is not None
    with pytest.raises(ToolDeniedException) as denied:
        await hooks.gate.check_async("search_flights", {"origin": "LIS"})
    assert denied.value.outcome == "not_configured"


async def test_any_failure_reading_the_settings_denies_every_call(
    governed_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the zero-code state failing in any way is a deny too (fail closed)."""

    def broken() -> None:
        raise RuntimeError("state unreadable")

    monkeypatch.setattr(_mcp, "governance_state", broken)
    hooks = _mcp.zero_code_mcp_hooks()
    assert hooks is not None
    assert hooks.gate is not None
    with pytest.raises(ToolDeniedException) as denied:
        await hooks.gate.check_async("search_flights", {})
    assert "state unreadable" in str(denied.value)


async def test_the_instrumentation_found_through_the_entry_point_denies(
    governed_environment: None,
) -> None:
    """What `opentelemetry-instrument` does (hooks from the entry point): the call is refused
    and the tool never runs."""
    server = MCPServer("flights")
    ran: list[str] = []

    @server.tool()
    def search_flights(origin: str) -> str:
        """Find a flight."""
        ran.append(origin)
        return "TP 1234"

    instrumentor = TracengentMCPInstrumentor()
    instrumentor.instrument()
    try:
        async with Client(server) as client:
            with pytest.raises(ToolDeniedException):
                await client.call_tool("search_flights", {"origin": "LIS"})
    finally:
        instrumentor.uninstrument()
    assert ran == []
