"""Fourth review: the MCP instrumentation beside other instrumentations and other `mcp` versions.

OpenTelemetry's contrib `opentelemetry-instrumentation-mcp` (and guardrail libraries) wrap
`ClientSession.call_tool` with `wrapt`. Under `opentelemetry-instrument` either may be applied
first. Ours must call the method it replaces as attribute access would bind it, so that such a
wrapper still gets the session as its instance and the tool's name as its first argument.

Governance asked for in code must be in force whatever `mcp` is installed: OTel's dependency
check only logs an error for a version outside the declared range, and patches nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import wrapt
from mcp import Client, ClientSession
from mcp.server.mcpserver import MCPServer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.unit.mcp.conftest import FakeGate, ServerLog, Traced
from tests.unit.mcp.test_mcp_gate import OPTIONS
from tests.unit.mcp.test_mcp_review import DENY
from tracengent._mcp import instrument_mcp


async def test_a_wrapt_wrapper_applied_first_still_sees_the_session_and_the_tool(
    monkeypatch: pytest.MonkeyPatch,
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """The other wrapper is bound to the session and sees `("echo", redacted arguments)`."""
    seen: list[tuple[object, tuple[Any, ...]]] = []

    async def other(
        wrapped: Callable[..., Awaitable[Any]],
        instance: object,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        seen.append((instance, args))
        return await wrapped(*args, **kwargs)

    # What `wrapt.wrap_function_wrapper("mcp.client.session", "ClientSession.call_tool", ...)`
    # does, undone by monkeypatch after the instrumentor fixture has uninstrumented.
    wrapper = wrapt.FunctionWrapper(vars(ClientSession)["call_tool"], other)
    monkeypatch.setattr(ClientSession, "call_tool", wrapper)
    gate = FakeGate(replace_with={"text": "***"})
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    async with Client(server) as client:
        session = client.session
        result = await session.call_tool("echo", {"text": "4111"})
    assert not result.is_error
    ((instance, args),) = seen
    assert instance is session
    assert args == ("echo", {"text": "***"})
    assert [call[:2] for call in server_log.calls] == [("echo", {"text": "***"})]
    assert [s.name for s in traced.tool_spans()] == ["execute_tool echo"]


async def test_governance_asked_for_is_in_force_on_an_mcp_outside_the_declared_range(
    monkeypatch: pytest.MonkeyPatch,
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    server: MCPServer,
    server_log: ServerLog,
) -> None:
    """`instrument_mcp(govern=True)` with an `mcp` OTel's dependency check refuses (older than
    `_instruments` says): the calls are still authorized, never sent ungoverned."""
    monkeypatch.setattr(
        TracengentMCPInstrumentor, "instrumentation_dependencies", lambda self: ("mcp >= 99",)
    )
    asked: list[object] = []

    def deny(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content)["toolName"])
        return httpx.Response(200, json=DENY)

    instrument_mcp(
        OPTIONS,
        tracer=traced.provider.get_tracer("governance"),
        tracer_provider=traced.provider,
        platform=PlatformClient(OPTIONS, transport=httpx.MockTransport(deny)),
        async_platform=AsyncPlatformClient(OPTIONS, transport=httpx.MockTransport(deny)),
    )
    async with Client(server) as client:
        with pytest.raises(ToolDeniedException):
            await client.session.call_tool("echo", {"text": "hi"})
    assert server_log.calls == []
    assert asked == ["echo"]
