"""A decision trace whose root names no agent with a client here (zero code's or a framework's
`invoke_agent`, naming no agent or one of its own) is anyone's trace: on a provider shared by two
agents' clients each records into it through its own export, and each agent's copy of the trace
is closed, not left open on the platform forever.

Against the real local platform: a trace is filed per authenticated agent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider

from tracengent import AgentEvent, TracengentClient, _state
from tracengent._processors import routing
from tracengent.testing import RunningPlatform


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """The application's provider, the global one for this test."""
    provider = TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider
    provider.shutdown()
    _state.reset_for_tests()


@pytest.mark.parametrize("root_agent", [None, "research-assistant"])
def test_each_agents_copy_of_anyones_trace_is_closed(
    tracengent_platform: RunningPlatform, shared: TracerProvider, root_agent: str | None
) -> None:
    """Both clients record into a framework's trace: the events stay each agent's own, and the
    platform has the trace closed (completed) under both agents, nothing left open."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    attributes: dict[str, str] = {
        "gen_ai.operation.name": "invoke_agent",
        "tracengent.trace.root_request": "plan the trip",
    }
    if root_agent is not None:
        attributes["gen_ai.agent.id"] = root_agent
    tracer = shared.get_tracer("an agent framework")
    with tracer.start_as_current_span("invoke_agent trip", attributes=attributes):
        hotels.record(AgentEvent("hotel-quote", "action"))
        orchestrator.record(AgentEvent("budget-check", "action"))
    assert orchestrator.close()
    assert hotels.close()
    stored = tracengent_platform.store.traces()
    by_agent = {t.agent_id: t for t in stored}
    assert sorted(by_agent) == ["demo-agent", "hotel-agent"], stored
    assert len({t.trace_id for t in stored}) == 1
    assert [e.body["name"] for e in by_agent["hotel-agent"].events] == ["hotel-quote"]
    assert [e.body["name"] for e in by_agent["demo-agent"].events] == ["budget-check"]
    assert {t.status for t in stored} == {"completed"}
    counters = tracengent_platform.store.counters()
    assert counters["demo-agent"].trace_closes_received == 1
    assert counters["hotel-agent"].trace_closes_received == 1


def test_a_trace_only_the_default_agent_records_into_is_closed_once(
    tracengent_platform: RunningPlatform, shared: TracerProvider
) -> None:
    """Only the first client's agent records into anyone's trace: one close, its own."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    tracer = shared.get_tracer("an agent framework")
    with tracer.start_as_current_span(
        "invoke_agent trip", attributes={"gen_ai.operation.name": "invoke_agent"}
    ):
        orchestrator.record(AgentEvent("budget-check", "action"))
    assert orchestrator.close()
    assert hotels.close()
    counters = tracengent_platform.store.counters()
    assert set(counters) == {"demo-agent"}
    assert counters["demo-agent"].trace_closes_received == 1


def test_roots_that_never_end_do_not_grow_the_router_without_bound(
    tracengent_platform: RunningPlatform, shared: TracerProvider
) -> None:
    """Spans of anyone's traces whose roots never end (leaked): the router remembers a bounded
    number of them."""
    orchestrator = TracengentClient(tracengent_platform.options("demo-agent"))
    hotels = TracengentClient(tracengent_platform.options("hotel-agent"))
    tracer = shared.get_tracer("an agent framework")
    attachment = _state.attachment_of(shared)
    assert attachment is not None
    assert attachment.router is not None
    for _ in range(routing._JOINED_KEPT + 50):
        root = tracer.start_span(
            "invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}
        )
        with otel_trace.use_span(root, end_on_exit=False):
            hotels.record(AgentEvent("hotel-quote", "action"))
    assert len(attachment.router._joined) == routing._JOINED_KEPT
    assert orchestrator.close()
    assert hotels.close()
