"""Fourth review: another instrumentation wrapped `ClientSession.call_tool` before ours.

OpenTelemetry's contrib `opentelemetry-instrumentation-mcp` (and guardrail libraries) wrap
`ClientSession.call_tool` with `wrapt`. Under `opentelemetry-instrument` either may be applied
first. Ours must call the method it replaces as attribute access would bind it, so that such a
wrapper still gets the session as its instance and the tool's name as its first argument.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import wrapt
from mcp import Client, ClientSession
from mcp.server.mcpserver import MCPServer

from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.unit.mcp.conftest import FakeGate, ServerLog, Traced


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
