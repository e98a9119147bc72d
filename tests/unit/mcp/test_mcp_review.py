"""Tool calls made while another runs are governed; in-code governance over an active
instrumentation; a held call marks only its own span.

In-process servers: under the 2026-07-28 protocol (`mode="auto"`) the server's tools run inline
in the caller's task and elicitation callbacks in tasks the client starts during the call; under
`mode="legacy"` callbacks run in the session's receive loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from opentelemetry import trace as otel_trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.unit.governance.fakes import make_jwt
from tests.unit.mcp.conftest import FakeGate, GateSaysNo, Traced
from tracengent import (
    ToolDeniedException,
    ToolPendingApprovalException,
    TracengentClient,
    _state,
)

Mode = Literal["auto", "legacy"]
NestedCall = Callable[[], Awaitable[object]]


class Confirm(BaseModel):
    """What `plan_trip` elicits from the client."""

    ok: bool


def _ask_confirm() -> Elicit[Confirm]:
    return Elicit("confirm?", Confirm)


@dataclass
class DenyOne:
    """A `ToolCallGate` denying one tool (`GateSaysNo`) and allowing the rest; records each ask."""

    denied: str
    asked: list[str] = field(default_factory=list)

    async def check_async(
        self, tool: str, arguments: Mapping[str, object] | None
    ) -> Mapping[str, object] | None:
        self.asked.append(tool)
        if tool == self.denied:
            raise GateSaysNo(tool)
        return arguments


@dataclass
class Servers:
    """Servers: `outer` (plan_trip, cleanup, delete_everything), `inner` (delete_account).

    `cleanup` runs `nested` (set by the test) the way a proxying tool calls a downstream server.
    """

    outer: MCPServer
    inner: MCPServer
    executed: list[str] = field(default_factory=list)
    nested: NestedCall | None = None


@pytest.fixture
def servers() -> Servers:
    """The two servers; `executed` lists the tools that ran, in order."""
    made = Servers(MCPServer("outer", log_level="WARNING"), MCPServer("inner", log_level="WARNING"))

    @made.outer.tool()
    async def plan_trip(confirm: Annotated[Confirm, Resolve(_ask_confirm)]) -> str:
        """Plan a trip once the client confirmed (an input-required round)."""
        made.executed.append("plan_trip")
        return f"planned {confirm.ok}"

    @made.outer.tool()
    async def cleanup() -> str:
        """Call the tool the test put in `nested`; say how it went."""
        made.executed.append("cleanup")
        assert made.nested is not None
        try:
            await made.nested()
        except GateSaysNo:
            return "nested denied"
        return "nested done"

    @made.inner.tool()
    def delete_account(user: str) -> str:
        """Delete an account (what the gate denies)."""
        made.executed.append("delete_account")
        return "deleted"

    @made.outer.tool()
    def delete_everything() -> str:
        """Delete everything (what the gate denies, on the outer server)."""
        made.executed.append("delete_everything")
        return "deleted"

    return made


def _accepting(nested: NestedCall, outcomes: list[str]) -> ElicitationFnT:
    """An elicitation callback that first makes `nested` (recording how it went), then accepts."""

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        try:
            await nested()
            outcomes.append("executed")
        except GateSaysNo:
            outcomes.append("denied")
        return types.ElicitResult(action="accept", content={"ok": True})

    return on_elicit


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_call_from_an_elicitation_callback_to_another_server_is_authorized(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, servers: Servers, mode: Mode
) -> None:
    """A callback answering the outer call's input request makes a denied call: it is denied."""
    gate = DenyOne("delete_account")
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    outcomes: list[str] = []
    async with Client(servers.inner, mode=mode) as inner:
        on_elicit = _accepting(lambda: inner.call_tool("delete_account", {"user": "u"}), outcomes)
        async with Client(servers.outer, mode=mode, elicitation_callback=on_elicit) as outer:
            await outer.call_tool("plan_trip", {})
    assert outcomes == ["denied"]
    assert servers.executed == ["plan_trip"]
    assert gate.asked == ["plan_trip", "delete_account"]
    assert sorted(s.name for s in traced.tool_spans()) == [
        "execute_tool delete_account",
        "execute_tool plan_trip",
    ]


async def test_session_call_from_a_callback_on_the_driven_session_is_authorized(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, servers: Servers
) -> None:
    """The callback calls the very session the outer call runs on: that call is authorized too."""
    gate = DenyOne("delete_everything")
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    outcomes: list[str] = []
    opened: list[Client] = []
    on_elicit = _accepting(lambda: opened[0].session.call_tool("delete_everything", {}), outcomes)
    async with Client(servers.outer, mode="auto", elicitation_callback=on_elicit) as outer:
        opened.append(outer)
        await outer.call_tool("plan_trip", {})
    assert outcomes == ["denied"]
    assert servers.executed == ["plan_trip"]
    assert gate.asked == ["plan_trip", "delete_everything"]


async def test_server_tool_calling_a_downstream_server_is_authorized(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, servers: Servers
) -> None:
    """An in-process tool (run inside the caller's call) calling another server is governed."""
    gate = DenyOne("delete_account")
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    async with Client(servers.inner) as inner, Client(servers.outer) as outer:
        servers.nested = lambda: inner.call_tool("delete_account", {"user": "u"})
        result = await outer.call_tool("cleanup", {})
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "nested denied"
    assert servers.executed == ["cleanup"]
    assert gate.asked == ["cleanup", "delete_account"]


async def test_server_tool_calling_back_through_the_driven_session_is_authorized(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, servers: Servers
) -> None:
    """A tool that calls the session its own call came through, same task, is governed."""
    gate = DenyOne("delete_everything")
    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    async with Client(servers.outer) as outer:
        servers.nested = lambda: outer.session.call_tool("delete_everything", {})
        result = await outer.call_tool("cleanup", {})
    assert isinstance(result.content[0], types.TextContent)
    assert result.content[0].text == "nested denied"
    assert servers.executed == ["cleanup"]
    assert gate.asked == ["cleanup", "delete_everything"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_input_required_rounds_are_one_span_and_one_authorization(
    instrumentor: TracengentMCPInstrumentor, traced: Traced, servers: Servers, mode: Mode
) -> None:
    """`Client.call_tool` answering an input request (two rounds under auto) is governed once."""
    gate = FakeGate()

    async def accept(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"ok": True})

    instrumentor.instrument(tracer_provider=traced.provider, gate=gate)
    async with Client(servers.outer, mode=mode, elicitation_callback=accept) as outer:
        await outer.call_tool("plan_trip", {})
    assert gate.asked == [("plan_trip", {})]
    assert [s.name for s in traced.tool_spans()] == ["execute_tool plan_trip"]


# --- in-code governance over an active instrumentation, and pending -------------------------


@dataclass
class Platform:
    """Answers `/v1/tool-authorize` with `decision`; records the tools it was asked about."""

    decision: dict[str, object]
    asked: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        if request.url.path == "/v1/oauth/token":
            token = make_jwt({"sub": "demo-agent"})
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": 900}
            )
        if request.url.path == "/v1/tool-authorize":
            body = httpx.Response(200, content=request.content).json()
            self.asked.append(str(body["toolName"]))
            return httpx.Response(200, json=self.decision)
        return httpx.Response(202, json={})


DENY: dict[str, object] = {
    "allowed": False,
    "status": "denied",
    "outcome": "policy_deny",
    "reason": "no",
}
PENDING: dict[str, object] = {
    "allowed": False,
    "status": "pending_approval",
    "outcome": "approval_required",
    "reason": "held",
    "approvalId": "apr_1",
}


@pytest.fixture
def private_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No global SDK provider: each client makes its own (the test owns every span it sees)."""
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    yield
    _state.reset_for_tests()


@dataclass
class Agent:
    """A Tracengent client on a scripted platform, its spans kept in memory."""

    client: TracengentClient
    platform: Platform
    spans: InMemorySpanExporter


async def _agent(decision: dict[str, object]) -> AsyncIterator[Agent]:
    platform = Platform(decision)
    options = TracengentOptions(
        agent_id="demo-agent", client_id="key_demo", client_secret="ags_demo", max_retries=0
    )
    async with TracengentClient(options, transport=httpx.MockTransport(platform.handle)) as client:
        spans = InMemorySpanExporter()
        client.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        yield Agent(client, platform, spans)


@pytest.fixture
async def denying_agent(private_provider: None) -> AsyncIterator[Agent]:
    """An agent whose platform denies every tool."""
    async for agent in _agent(DENY):
        yield agent


@pytest.fixture
async def holding_agent(private_provider: None) -> AsyncIterator[Agent]:
    """An agent whose platform holds every tool for approval."""
    async for agent in _agent(PENDING):
        yield agent


async def test_govern_puts_the_gate_into_an_instrumentation_made_without_one(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    servers: Servers,
    denying_agent: Agent,
) -> None:
    """MCP traced already (zero code), `instrument_mcp(govern=True)`: calls are authorized."""
    instrumentor.instrument(tracer_provider=traced.provider, gate=None, payload_hook=None)
    assert denying_agent.client.instrument_mcp(govern=True) is instrumentor
    async with Client(servers.inner) as inner:
        with pytest.raises(ToolDeniedException):
            await inner.call_tool("delete_account", {"user": "u"})
    assert denying_agent.platform.asked == ["delete_account"]
    assert servers.executed == []


async def test_govern_replaces_another_gate(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    servers: Servers,
    denying_agent: Agent,
) -> None:
    """MCP governed already by another gate: this client's gate decides from then on."""
    earlier = FakeGate()
    instrumentor.instrument(tracer_provider=traced.provider, gate=earlier)
    denying_agent.client.instrument_mcp(govern=True)
    async with Client(servers.inner) as inner:
        with pytest.raises(ToolDeniedException):
            await inner.call_tool("delete_account", {"user": "u"})
    assert earlier.asked == []
    assert servers.executed == []


async def test_trace_only_never_removes_a_gate_in_force(
    instrumentor: TracengentMCPInstrumentor,
    traced: Traced,
    servers: Servers,
    denying_agent: Agent,
) -> None:
    """`instrument_mcp(govern=False)` over a governed instrumentation leaves its gate deciding."""
    instrumentor.instrument(tracer_provider=traced.provider, gate=FakeGate(deny=True))
    denying_agent.client.instrument_mcp(govern=False)
    async with Client(servers.inner) as inner:
        with pytest.raises(GateSaysNo):
            await inner.call_tool("delete_account", {"user": "u"})
    assert denying_agent.platform.asked == []


def test_use_gate_needs_an_active_instrumentation_and_a_gate(
    instrumentor: TracengentMCPInstrumentor, traced: Traced
) -> None:
    """`use_gate` refuses to govern nothing, and refuses an object that is not a gate."""
    with pytest.raises(RuntimeError, match="not instrumented"):
        instrumentor.use_gate(FakeGate())
    instrumentor.instrument(tracer_provider=traced.provider)
    with pytest.raises(TypeError, match="ToolCallGate"):
        instrumentor.use_gate(object())  # type: ignore[arg-type]  # the point of the test
    first = FakeGate()
    assert instrumentor.use_gate(first) is None
    assert instrumentor.use_gate(FakeGate()) is first


async def test_held_call_under_suppression_leaves_the_callers_span_alone(
    instrumentor: TracengentMCPInstrumentor, servers: Servers, holding_agent: Agent
) -> None:
    """Suppressed: the call has no span, and the caller's current span does not turn pending."""
    holding_agent.client.instrument_mcp()
    tracer = holding_agent.client.tracer_provider.get_tracer("app")
    async with Client(servers.inner) as inner:
        with (
            tracer.start_as_current_span("my-own-step"),
            suppress_instrumentation(),
            pytest.raises(ToolPendingApprovalException),
        ):
            await inner.call_tool("delete_account", {"user": "u"})
    (own,) = [s for s in holding_agent.spans.get_finished_spans() if s.name == "my-own-step"]
    assert A.EVENT_STATUS not in (own.attributes or {})
    assert servers.executed == []


async def test_held_call_marks_its_own_span_pending(
    instrumentor: TracengentMCPInstrumentor, servers: Servers, holding_agent: Agent
) -> None:
    """Traced: the call's execute_tool span is pending, the caller's span is not."""
    holding_agent.client.instrument_mcp()
    tracer = holding_agent.client.tracer_provider.get_tracer("app")
    async with Client(servers.inner) as inner:
        with (
            tracer.start_as_current_span("my-own-step"),
            pytest.raises(ToolPendingApprovalException),
        ):
            await inner.call_tool("delete_account", {"user": "u"})
    status = {
        s.name: (s.attributes or {}).get(A.EVENT_STATUS)
        for s in holding_agent.spans.get_finished_spans()
    }
    assert status["execute_tool delete_account"] == A.EventStatuses.PENDING
    assert status["my-own-step"] is None
