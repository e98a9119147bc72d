"""Two agents in one process (an orchestrator and a sub-agent, each with its client): an event
one agent's client records while the other agent's decision trace is current is the recording
agent's own, sent with its credentials, not an event of the other agent's trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider

from tracengent import AgentEvent, TracengentClient, _state
from tracengent.testing import RunningPlatform


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
