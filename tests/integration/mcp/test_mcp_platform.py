"""MCP tool calls traced and governed end to end: a real MCP server, a real client session, and
the real local platform, over stdio and over streamable HTTP on loopback.

Each outcome is proved twice: by what the MCP server received (it records every call, the
arguments and the `_meta` it saw) and by what the platform stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from click.testing import CliRunner
from mcp import ClientSession
from mcp_types import TextContent
from opentelemetry.sdk.trace import ReadableSpan

from opentelemetry.exporter.tracengent.errors import (
    ToolDeniedException,
    ToolPendingApprovalException,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tests.integration.mcp.conftest import Agent, ServerRecord, connect
from tracengent.cli import main
from tracengent.testing import RunningPlatform

OpenSession = Callable[[], AbstractAsyncContextManager[ClientSession]]


@pytest.fixture(params=["stdio", "http"])
def open_session(request: pytest.FixtureRequest, record: ServerRecord) -> OpenSession:
    """Opens a session to the test server over stdio (a subprocess) or streamable HTTP."""
    transport = request.param
    url = request.getfixturevalue("http_server") if transport == "http" else None
    return lambda: connect(transport, record, url)


def execute_tool_span(agent: Agent, tool: str) -> ReadableSpan:
    """The one `execute_tool` span of `tool`."""
    (span,) = [s for s in agent.spans.get_finished_spans() if s.name == f"execute_tool {tool}"]
    return span


def stored_tool_calls(platform: RunningPlatform) -> list[JsonObject]:
    """The bodies of every stored `tool_call` event, in the order received."""
    return [e.body for e in platform.store.events() if e.body.get("type") == "tool_call"]


async def test_allowed_call_reaches_the_server_inside_the_agents_trace(
    agent: Agent,
    record: ServerRecord,
    open_session: OpenSession,
    tracengent_platform: RunningPlatform,
) -> None:
    """An allowed tool is called once with its arguments, joins the trace, and is one event."""
    with agent.client.begin_trace("find a flight") as decision_trace:
        async with open_session() as session:
            result = await session.call_tool(
                "search_flights", {"origin": "PAR", "destination": "NYC"}
            )
    assert isinstance(result.content[0], TextContent)
    assert result.content[0].text == "3 flights PAR->NYC"

    (call,) = record.calls()
    assert call["arguments"] == {"origin": "PAR", "destination": "NYC"}
    trace_id = format(execute_tool_span(agent, "search_flights").context.trace_id, "032x")
    meta = call["meta"]
    assert isinstance(meta, dict)
    assert meta["traceparent"].split("-")[1] == trace_id
    assert call["joined_trace_id"] == trace_id

    assert agent.client.close(timeout=10)
    (stored,) = tracengent_platform.store.traces()
    assert stored.trace_id == decision_trace.trace_id
    tool_calls = [e.body for e in stored.events if e.body.get("type") == "tool_call"]
    assert [(b["name"], b["status"]) for b in tool_calls] == [("search_flights", "success")]
    assert tool_calls[0]["input"] == {"origin": "PAR", "destination": "NYC"}
    (decision,) = tracengent_platform.store.decisions()
    assert (decision.status, decision.permission) == ("allowed", "flights:search")

    printed = CliRunner().invoke(
        main, ["traces", "--json", "--db", str(tracengent_platform.store.path)]
    )
    assert printed.exit_code == 0, printed.output
    (listed,) = json.loads(printed.output)["traces"]
    assert [e["name"] for e in listed["events"] if e["type"] == "tool_call"] == ["search_flights"]


async def test_denied_call_never_reaches_the_server(
    agent: Agent,
    record: ServerRecord,
    open_session: OpenSession,
    tracengent_platform: RunningPlatform,
) -> None:
    """A denied tool raises ToolDeniedException, the server gets nothing, the event failed."""
    with agent.client.begin_trace("close an account"):
        async with open_session() as session:
            with pytest.raises(ToolDeniedException) as denied:
                await session.call_tool("delete_account", {"user": "u-1"})
    assert denied.value.outcome == "policy_deny"
    assert record.calls() == []

    assert agent.client.close(timeout=10)
    assert [(b["name"], b["status"]) for b in stored_tool_calls(tracengent_platform)] == [
        ("delete_account", "failure")
    ]
    (decision,) = tracengent_platform.store.decisions()
    assert decision.status == "denied"


async def test_call_held_for_approval_never_reaches_the_server(
    agent: Agent,
    record: ServerRecord,
    open_session: OpenSession,
    tracengent_platform: RunningPlatform,
) -> None:
    """A tool that needs approval raises with the stored approval's id; the event is pending."""
    with agent.client.begin_trace("bill the customer"):
        async with open_session() as session:
            with pytest.raises(ToolPendingApprovalException) as held:
                await session.call_tool("send_invoice", {"amount": 120.0})
    assert record.calls() == []
    (approval,) = tracengent_platform.store.approvals()
    assert held.value.approval_id == approval.approval_id
    assert approval.status == "pending"

    assert agent.client.close(timeout=10)
    assert [(b["name"], b["status"]) for b in stored_tool_calls(tracengent_platform)] == [
        ("send_invoice", "pending")
    ]


async def test_redacted_field_is_masked_before_the_server_sees_it(
    agent: Agent,
    record: ServerRecord,
    open_session: OpenSession,
    tracengent_platform: RunningPlatform,
) -> None:
    """The server receives `card` masked, and the card number is nowhere in what was stored."""
    card = "4111 1111 1111 1111"
    with agent.client.begin_trace("book a room"):
        async with open_session() as session:
            result = await session.call_tool("book_hotel", {"guest": "Ada", "card": card})
    assert not result.is_error

    (call,) = record.calls()
    assert call["arguments"] == {"guest": "Ada", "card": "***REDACTED***"}

    assert agent.client.close(timeout=10)
    (event,) = stored_tool_calls(tracengent_platform)
    assert event["name"] == "book_hotel"
    assert event["input"] == {"guest": "Ada", "card": "***REDACTED***"}
    stored = json.dumps([e.body for e in tracengent_platform.store.events()])
    assert card not in stored
