"""Two agents in one process (an orchestrator and a sub-agent, each with its client): an event
one agent's client records while the other agent's decision trace is current (`record`, its
decorated functions, its tracked clients) is the recording agent's own, sent with its
credentials, not an event of the other agent's trace."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from typing import Final

import httpx
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from tests.support.loopback import LoopbackServer, Reply, serve
from tracengent import (
    AgentEvent,
    NotAuthorizedException,
    ToolDeniedException,
    TracengentClient,
    _state,
    governed_async_client,
    governed_client,
    tracked_async_client,
    tracked_client,
)
from tracengent.platform import StoredEvent
from tracengent.testing import RunningPlatform


def _tool_server() -> ContextManager[LoopbackServer]:
    """The third-party API the tracked and governed clients call: a real HTTP server on
    loopback, reached as their proxy so the requests keep the hosts they name."""
    return serve(lambda _: Reply(200, b"[]"))


@pytest.fixture(params=["own providers", "shared provider"])
def provider(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each client on a provider of its own, or both on the application's global SDK provider."""
    if request.param == "shared provider":
        shared = TracerProvider()
        monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", shared)
        yield
        shared.shutdown()
        _state.reset_for_tests()
    else:
        yield


@pytest.mark.usefixtures("provider")
def test_record_inside_another_agents_trace_is_the_recorders_own(
    tracengent_platform: RunningPlatform,
) -> None:
    """`record` in the other agent's trace: a standalone event of the recording agent."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    with orchestrator.begin_trace("plan the trip") as trip:
        trip.step("delegate hotels")
        hotels.record(AgentEvent("hotel-quote", "action"))
        with hotels.begin_trace("book a hotel") as booking:
            booking.step("pick the cheapest")
            orchestrator.record(AgentEvent("budget-check", "action"))
    assert orchestrator.close()
    assert hotels.close()
    stored = {e.body["name"]: e for e in tracengent_platform.store.events()}
    assert stored.keys() == {"delegate hotels", "hotel-quote", "pick the cheapest", "budget-check"}
    assert stored["hotel-quote"].agent_id == "hotel-agent"
    assert stored["budget-check"].agent_id == "demo-agent"
    for name in ("hotel-quote", "budget-check"):
        assert "traceId" not in stored[name].body
        assert "parentEventId" not in stored[name].body
    assert stored["delegate hotels"].body["traceId"] == trip.trace_id
    assert stored["pick the cheapest"].body["traceId"] == booking.trace_id


def test_record_inside_a_trace_of_the_same_agent_joins_it(
    tracengent_platform: RunningPlatform,
) -> None:
    """Two clients of one agent: `record` on either belongs to the trace current."""
    first = TracengentClient(tracengent_platform.options("demo-agent"))
    second = TracengentClient(tracengent_platform.options("demo-agent"))
    with first.begin_trace("refund") as trace:
        second.record(AgentEvent("refund-issued", "action"))
    assert first.close()
    assert second.close()
    (event,) = tracengent_platform.store.events()
    assert event.body["traceId"] == trace.trace_id


def _stored_by_name(platform: RunningPlatform) -> dict[str, StoredEvent]:
    return {str(e.body["name"]): e for e in platform.store.events()}


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _assert_standalone_of(event: StoredEvent, agent_id: str) -> None:
    assert event.agent_id == agent_id
    assert "traceId" not in event.body
    assert "parentEventId" not in event.body


@pytest.mark.usefixtures("provider")
async def test_decorated_calls_inside_another_agents_trace_are_the_callers_own(
    tracengent_platform: RunningPlatform,
) -> None:
    """`@client.tool()`/`@client.action()` of one agent, sync and async, functions and
    generators, called in the other agent's trace: standalone events of the decorating agent;
    the other agent's trace keeps its own event chain."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))

    @hotels.tool()
    def search_hotels(city: str) -> list[str]:
        hotels.record(AgentEvent("hotel-quote", "action"))
        return [f"Ritz {city}"]

    @hotels.action()
    async def book_hotel(name: str) -> str:
        return f"booked {name}"

    @hotels.tool()
    def list_rooms() -> Iterator[str]:
        yield "101"

    @hotels.tool()
    async def stream_rates() -> AsyncIterator[int]:
        yield 90

    with orchestrator.begin_trace("plan the trip") as trip:
        trip.step("delegate hotels")
        assert search_hotels("Paris") == ["Ritz Paris"]
        assert await book_hotel("Ritz") == "booked Ritz"
        assert list(list_rooms()) == ["101"]
        assert [rate async for rate in stream_rates()] == [90]
        trip.step("pay")
    assert orchestrator.close()
    assert hotels.close()
    stored = _stored_by_name(tracengent_platform)
    own = {"search_hotels", "hotel-quote", "book_hotel", "list_rooms", "stream_rates"}
    assert stored.keys() == own | {"delegate hotels", "pay"}
    for name in own:
        _assert_standalone_of(stored[name], "hotel-agent")
    assert stored["delegate hotels"].body["traceId"] == trip.trace_id
    assert stored["pay"].body["traceId"] == trip.trace_id
    assert stored["pay"].body["parentEventId"] == stored["delegate hotels"].body["eventId"]


@pytest.mark.usefixtures("provider")
async def test_tracked_requests_inside_another_agents_trace_are_the_callers_own(
    tracengent_platform: RunningPlatform,
) -> None:
    """Requests through one agent's tracked clients (sync and async) in the other agent's
    trace: standalone `tool_call` events of the tracking agent."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    with (
        _tool_server() as server,
        tracked_client(hotels, inner=httpx.HTTPTransport(proxy=server.url)) as http,
        orchestrator.begin_trace("plan the trip") as trip,
    ):
        trip.step("delegate hotels")
        http.get("http://hotels.example/rooms")
        async_inner = httpx.AsyncHTTPTransport(proxy=server.url)
        async with tracked_async_client(hotels, inner=async_inner) as async_http:
            await async_http.get("http://hotels.example/rates")
    assert server.paths() == ["http://hotels.example/rooms", "http://hotels.example/rates"]
    assert orchestrator.close()
    assert hotels.close()
    stored = _stored_by_name(tracengent_platform)
    assert stored.keys() == {
        "delegate hotels",
        "GET hotels.example/rooms",
        "GET hotels.example/rates",
    }
    for name in ("GET hotels.example/rooms", "GET hotels.example/rates"):
        _assert_standalone_of(stored[name], "hotel-agent")
    assert stored["delegate hotels"].body["traceId"] == trip.trace_id


async def test_decorated_calls_and_requests_of_the_same_agent_join_its_trace(
    tracengent_platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients of one agent on a shared provider: what either tracks belongs to the trace
    current."""
    shared = TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", shared)
    first = TracengentClient(tracengent_platform.options("demo-agent"))
    second = TracengentClient(tracengent_platform.options("demo-agent"))

    @second.tool()
    def lookup(order: str) -> str:
        return order

    @second.action()
    async def refund(order: str) -> str:
        return order

    with (
        _tool_server() as server,
        tracked_client(second, inner=httpx.HTTPTransport(proxy=server.url)) as http,
        first.begin_trace("refund") as trace,
    ):
        lookup("o-1")
        await refund("o-1")
        http.get("http://shop.example/orders")
    assert first.close()
    assert second.close()
    shared.shutdown()
    stored = _stored_by_name(tracengent_platform)
    assert stored.keys() == {"lookup", "refund", "GET shop.example/orders"}
    for event in stored.values():
        assert event.agent_id == "demo-agent"
        assert event.body["traceId"] == trace.trace_id


def test_own_events_inside_another_agents_trace_stay_in_its_otel_trace(
    tracengent_platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a shared provider the application's exporters see what one agent records in the
    other agent's trace as children of the span current there (one distributed trace), though
    on the Tracengent wire those events are the recording agent's, outside that trace."""
    shared = TracerProvider()
    memory = InMemorySpanExporter()
    shared.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", shared)
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))

    @hotels.tool()
    def search_hotels() -> str:
        hotels.record(AgentEvent("hotel-quote", "action"))
        return "Ritz"

    with orchestrator.begin_trace("plan the trip"):
        search_hotels()
        hotels.record(AgentEvent("hotel-check", "action"))
    assert orchestrator.close()
    assert hotels.close()
    shared.shutdown()
    spans = {span.name: span for span in memory.get_finished_spans()}
    root = spans["invoke_agent demo-agent"].context
    tool = spans["search_hotels"]
    assert _parent_id(tool) == root.span_id
    assert tool.context.trace_id == root.trace_id
    quote = spans["hotel-quote"]
    assert _parent_id(quote) == tool.context.span_id
    check = spans["hotel-check"]
    assert _parent_id(check) == root.span_id
    stored = _stored_by_name(tracengent_platform)
    for name in ("search_hotels", "hotel-quote", "hotel-check"):
        _assert_standalone_of(stored[name], "hotel-agent")


def _lookup(arguments: object) -> str:
    return "looked up"


async def _lookup_async(arguments: object) -> str:
    return "looked up"


async def _govern_everything(client: TracengentClient) -> None:
    """Every governance call of `client`, sync and async: authorizations, tool gates and
    governed clients' requests (each a decision the platform stores, allowed or not)."""
    client.authorize("hotels:book")
    await client.authorize_async("hotels:book")
    with contextlib.suppress(NotAuthorizedException):
        client.ensure_authorized("hotels:search")
    with contextlib.suppress(NotAuthorizedException):
        await client.ensure_authorized_async("hotels:search")
    client.tools.guard_function("lookup", {"city": "Paris"}, _lookup)
    await client.tools.guard_mcp_async("search_flights", {"to": "Paris"}, _lookup_async)
    with _tool_server() as server:
        inner = httpx.HTTPTransport(proxy=server.url)
        with governed_client(client, inner=inner) as http, contextlib.suppress(ToolDeniedException):
            http.get("http://api.example.com/v1/flights")
        async_inner = httpx.AsyncHTTPTransport(proxy=server.url)
        async with governed_async_client(client, inner=async_inner) as async_http:
            with contextlib.suppress(ToolDeniedException):
                await async_http.get("http://api.example.com/v1/flights")


_DECISIONS_EACH: Final = 8
"""The decisions `_govern_everything` asks the platform for."""


@pytest.mark.usefixtures("provider")
async def test_governance_inside_another_agents_trace_names_no_trace(
    tracengent_platform: RunningPlatform,
) -> None:
    """One agent's authorizations, tool gates and governed requests (sync and async) while the
    other agent's trace is current: the platform files them under no trace (that agent has
    none current), not under the other agent's; the other agent's own stay in its trace."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    with orchestrator.begin_trace("plan the trip") as trip:
        await _govern_everything(hotels)
        orchestrator.authorize("flights:search")
    assert await orchestrator.aclose()
    assert await hotels.aclose()
    decisions = tracengent_platform.store.decisions()
    of_hotels = [d for d in decisions if d.agent_id == "hotel-agent"]
    assert len(of_hotels) == _DECISIONS_EACH
    for decision in of_hotels:
        assert decision.trace_id is None, decision
        assert "traceId" not in decision.request
    (own,) = [d for d in decisions if d.agent_id == "demo-agent"]
    assert own.trace_id == trip.trace_id


async def test_governance_of_the_same_agent_names_its_trace(
    tracengent_platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients of one agent on a shared provider: either's governance names the trace
    current."""
    shared = TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", shared)
    first = TracengentClient(tracengent_platform.options("hotel-agent"))
    second = TracengentClient(tracengent_platform.options("hotel-agent"))
    with first.begin_trace("book a hotel") as booking:
        await _govern_everything(second)
    assert await first.aclose()
    assert await second.aclose()
    shared.shutdown()
    decisions = tracengent_platform.store.decisions()
    assert len(decisions) == _DECISIONS_EACH
    for decision in decisions:
        assert decision.trace_id == booking.trace_id


async def test_governance_spans_inside_another_agents_trace_are_the_deciders_own(
    tracengent_platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a shared provider, one agent's governance spans (approval waits included) while the
    other agent's trace is current are not stamped into that trace nor exported through the
    other agent's pipeline; they are still children of the span current there."""
    shared = TracerProvider()
    memory = InMemorySpanExporter()
    shared.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", shared)
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent", approval_timeout_s=0.2))
    exported_by: dict[str, list[str]] = {"demo-agent": [], "hotel-agent": []}
    for agent, client in (("demo-agent", orchestrator), ("hotel-agent", hotels)):
        pipeline = client._export
        monkeypatch.setattr(pipeline, "on_end", _noting(pipeline.on_end, exported_by[agent]))
    with orchestrator.begin_trace("plan the trip"):
        await _govern_everything(hotels)
        hotels.wait_for_approval("hotels:book", "apr_unknown")
        await hotels.wait_for_approval_async("hotels:book", "apr_unknown")
        orchestrator.authorize("flights:search")
    assert await orchestrator.aclose()
    assert await hotels.aclose()
    shared.shutdown()
    spans = memory.get_finished_spans()
    root = next(s for s in spans if s.name == "invoke_agent demo-agent").context
    governance = [s for s in spans if s.attributes and "tracengent.governance.kind" in s.attributes]
    of_hotels = [s for s in governance if s.name != "tracengent.authorize flights:search"]
    assert len(of_hotels) == _DECISIONS_EACH + 2
    for span in of_hotels:
        assert span.attributes is not None
        assert "tracengent.trace.id" not in span.attributes, span.name
        assert _parent_id(span) == root.span_id
        assert span.context.trace_id == root.trace_id
        assert span.name in exported_by["hotel-agent"]
        assert span.name not in exported_by["demo-agent"]
    (own,) = [s for s in governance if s.name == "tracengent.authorize flights:search"]
    assert own.attributes is not None
    assert own.attributes["tracengent.trace.id"] is not None
    assert own.name in exported_by["demo-agent"]


def _noting(on_end: Callable[[ReadableSpan], None], names: list[str]) -> Callable[..., None]:
    def noted(span: ReadableSpan) -> None:
        names.append(span.name)
        on_end(span)

    return noted


def _invoke_agent(client: TracengentClient, agent_id: str | None) -> ContextManager[Span]:
    """An `invoke_agent` root made with manual OTel on `client`'s provider (zero code or an
    agent framework would make the same), naming `agent_id` unless None."""
    attributes: dict[str, AttributeValue] = {"gen_ai.operation.name": "invoke_agent"}
    if agent_id is not None:
        attributes["gen_ai.agent.id"] = agent_id
    tracer = client.tracer_provider.get_tracer("an agent framework")
    return tracer.start_as_current_span(f"invoke_agent {agent_id}", attributes=attributes)


def _trace_id_of(span: Span) -> str:
    attributes = getattr(span, "attributes", None)
    assert attributes is not None
    trace_id = attributes["tracengent.trace.id"]
    assert isinstance(trace_id, str)
    return trace_id


@pytest.mark.usefixtures("provider")
async def test_governance_inside_another_agents_invoke_agent_trace_names_no_trace(
    tracengent_platform: RunningPlatform,
) -> None:
    """A trace an `invoke_agent` root naming one agent opened (no `begin_trace`): the other
    agent's governance names no trace, the named agent's names it."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    with _invoke_agent(orchestrator, "demo-agent") as root:
        await _govern_everything(hotels)
        orchestrator.authorize("flights:search")
    assert await orchestrator.aclose()
    assert await hotels.aclose()
    decisions = tracengent_platform.store.decisions()
    of_hotels = [d for d in decisions if d.agent_id == "hotel-agent"]
    assert len(of_hotels) == _DECISIONS_EACH
    for decision in of_hotels:
        assert decision.trace_id is None, decision
        assert "traceId" not in decision.request
    (own,) = [d for d in decisions if d.agent_id == "demo-agent"]
    assert own.trace_id == _trace_id_of(root)


@pytest.mark.usefixtures("provider")
async def test_governance_inside_an_invoke_agent_trace_of_its_agent_or_of_none_names_it(
    tracengent_platform: RunningPlatform,
) -> None:
    """An `invoke_agent` trace naming the deciding agent, naming no agent, or naming an agent
    no client here is for (a framework's own name): the governance names it, as the only
    client's always did, while another agent's client is open too."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    with _invoke_agent(hotels, "hotel-agent") as named:
        await _govern_everything(hotels)
    with _invoke_agent(orchestrator, None) as unnamed:
        await _govern_everything(orchestrator)
    with _invoke_agent(orchestrator, "research-assistant") as framework:
        await _govern_everything(orchestrator)
    assert await orchestrator.aclose()
    assert await hotels.aclose()
    decisions = tracengent_platform.store.decisions()
    assert len(decisions) == 3 * _DECISIONS_EACH
    of_hotels = [d.trace_id for d in decisions if d.agent_id == "hotel-agent"]
    assert of_hotels == [_trace_id_of(named)] * _DECISIONS_EACH
    of_orchestrator = [d.trace_id for d in decisions if d.agent_id == "demo-agent"]
    assert (
        of_orchestrator
        == [_trace_id_of(unnamed)] * _DECISIONS_EACH + [_trace_id_of(framework)] * _DECISIONS_EACH
    )


async def test_governance_spans_inside_another_agents_invoke_agent_trace_are_the_deciders_own(
    tracengent_platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a shared provider, one agent's governance spans inside an `invoke_agent` trace naming
    the other agent are not stamped into it nor exported through the other agent's pipeline;
    they are still children of the root."""
    shared = TracerProvider()
    memory = InMemorySpanExporter()
    shared.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", shared)
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent", approval_timeout_s=0.2))
    exported_by: dict[str, list[str]] = {"demo-agent": [], "hotel-agent": []}
    for agent, client in (("demo-agent", orchestrator), ("hotel-agent", hotels)):
        pipeline = client._export
        monkeypatch.setattr(pipeline, "on_end", _noting(pipeline.on_end, exported_by[agent]))
    with _invoke_agent(orchestrator, "demo-agent") as root_span:
        await _govern_everything(hotels)
        hotels.wait_for_approval("hotels:book", "apr_unknown")
        await hotels.wait_for_approval_async("hotels:book", "apr_unknown")
        orchestrator.authorize("flights:search")
    assert await orchestrator.aclose()
    assert await hotels.aclose()
    shared.shutdown()
    root = root_span.get_span_context()
    spans = memory.get_finished_spans()
    governance = [s for s in spans if s.attributes and "tracengent.governance.kind" in s.attributes]
    of_hotels = [s for s in governance if s.name != "tracengent.authorize flights:search"]
    assert len(of_hotels) == _DECISIONS_EACH + 2
    for span in of_hotels:
        assert span.attributes is not None
        assert "tracengent.trace.id" not in span.attributes, span.name
        assert _parent_id(span) == root.span_id
        assert span.context.trace_id == root.trace_id
        assert span.name in exported_by["hotel-agent"]
        assert span.name not in exported_by["demo-agent"]
    (own,) = [s for s in governance if s.name == "tracengent.authorize flights:search"]
    assert own.attributes is not None
    assert own.attributes["tracengent.trace.id"] == _trace_id_of(root_span)
    assert own.name in exported_by["demo-agent"]
