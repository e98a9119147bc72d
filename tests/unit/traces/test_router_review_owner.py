"""A shared provider's router sends each span with the credentials of whoever owns it.

A span of a decision trace belongs to the trace's agent, a span a client recorded to that
client, whatever agent the span itself names (a sub-agent's `AgentEvent(agent_id=...)`); the
default pipeline (another agent's key and platform) only takes spans nobody owns. A client's
spans recorded after it closed go to its own released pipeline, counted `after_shutdown` there.
"""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import AgentEvent, Money
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient


def client_for(agent_id: str, platform: FakePlatform, **overrides: object) -> TracengentClient:
    """A client for `agent_id` with its own ingest key, posting to `platform`."""
    options = platform_options(agent_id=agent_id, ingest_key=f"agk_{agent_id}", **overrides)
    return TracengentClient(options, transport=httpx.MockTransport(platform))


def sent(platform: FakePlatform) -> list[tuple[str | None, str, str]]:
    """`(ingest key, agentId, name)` of every event posted to `platform`, in order."""
    found: list[tuple[str | None, str, str]] = []
    for request in platform.requests:
        if request.url.path != "/v1/ingest/events":
            continue
        single = FakePlatform([request])
        for event in single.events():
            found.append(
                (request.headers.get("x-ingest-key"), str(event["agentId"]), str(event["name"]))
            )
    return found


def test_a_sub_agent_event_in_a_trace_goes_with_the_trace_agents_credentials(
    sdk_global_provider: TracerProvider,
) -> None:
    """Inside agent b's trace, an `AgentEvent(agent_id="hotel-subagent")` goes out through
    b's pipeline (b's key, b's platform), not the default one (a's, attached first)."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    a = client_for("agent-a", platform_a)
    b = client_for("agent-b", platform_b)
    with b.begin_trace("book trip") as trace:
        trace.record(
            AgentEvent(
                name="hotel booked", type="action", agent_id="hotel-subagent", cost=Money.usd(300)
            )
        )
        trace.step("b decided")
    assert a.close(timeout=10)
    assert b.close(timeout=10)
    assert sent(platform_a) == []
    assert sent(platform_b) == [
        ("agk_agent-b", "hotel-subagent", "hotel booked"),
        ("agk_agent-b", "agent-b", "b decided"),
    ]
    assert a.dropped_count == b.dropped_count == 0


def test_another_instrumentations_span_in_a_trace_is_the_trace_agents(
    sdk_global_provider: TracerProvider,
) -> None:
    """An application span in b's trace naming an agent of its own (a framework's sub-agent)
    goes with b's credentials."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    a = client_for("agent-a", platform_a)
    b = client_for("agent-b", platform_b)
    tracer = sdk_global_provider.get_tracer("agent-framework")
    with (
        b.begin_trace("book trip"),
        tracer.start_as_current_span(
            "refund", attributes={A.EVENT_TYPE: "action", A.GEN_AI_AGENT_ID: "refund-subagent"}
        ),
    ):
        pass
    assert a.close(timeout=10)
    assert b.close(timeout=10)
    assert sent(platform_a) == []
    assert sent(platform_b) == [("agk_agent-b", "refund-subagent", "refund")]


def test_a_standalone_event_naming_a_sub_agent_is_its_recording_clients(
    sdk_global_provider: TracerProvider,
) -> None:
    """Outside any trace, b's `record(AgentEvent(agent_id=...))` goes through b's pipeline."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    a = client_for("agent-a", platform_a)
    b = client_for("agent-b", platform_b)
    b.record(AgentEvent(name="sub-agent step", type="action", agent_id="billing-subagent"))
    assert a.close(timeout=10)
    assert b.close(timeout=10)
    assert sent(platform_a) == []
    assert sent(platform_b) == [("agk_agent-b", "billing-subagent", "sub-agent step")]


def test_an_event_recorded_after_its_client_closed_is_counted_by_its_own_pipeline(
    sdk_global_provider: TracerProvider,
) -> None:
    """A task outliving b records into b's trace after b.close(): not sent by a's pipeline,
    counted `after_shutdown` in b's stats (as 0.1.x did)."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    a = client_for("agent-a", platform_a)
    b = client_for("agent-b", platform_b)
    trace = b.begin_trace("job")
    trace.close()
    assert b.close(timeout=10)
    trace.record(AgentEvent(name="late event of agent-b", type="action"))
    b.record(AgentEvent(name="late standalone of b", type="action", agent_id="sub"))
    assert a.close(timeout=10)
    assert sent(platform_a) == []
    assert b.delivery_stats["after_shutdown"] == 2
    assert b.dropped_count == 2
    assert a.dropped_count == 0


def test_a_span_nobody_owns_still_goes_by_its_agent_or_to_the_default(
    sdk_global_provider: TracerProvider,
) -> None:
    """Unowned spans: one naming a live agent goes to that agent's pipeline, any other to the
    default (the first attached), its agent id kept."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    a = client_for("agent-a", platform_a)
    b = client_for("agent-b", platform_b)
    tracer = sdk_global_provider.get_tracer("app")
    with tracer.start_as_current_span(
        "for b", attributes={A.EVENT_TYPE: "action", A.GEN_AI_AGENT_ID: "agent-b"}
    ):
        pass
    with tracer.start_as_current_span(
        "for nobody", attributes={A.EVENT_TYPE: "action", A.GEN_AI_AGENT_ID: "other"}
    ):
        pass
    assert a.close(timeout=10)
    assert b.close(timeout=10)
    assert sent(platform_a) == [("agk_agent-a", "other", "for nobody")]
    assert sent(platform_b) == [("agk_agent-b", "agent-b", "for b")]


def test_one_agent_after_another_keeps_the_single_pipeline_path(
    sdk_global_provider: TracerProvider,
) -> None:
    """Jobs of one agent one after another: the released pipelines are shadowed by the live
    one, so the router still hands every span straight to it."""
    platform = FakePlatform([])
    for job in range(3):
        client = client_for("agent-x", platform)
        client.record(AgentEvent(name=f"job {job}", type="action"))
        assert client.close(timeout=10)
    last = client_for("agent-x", platform)
    router = sdk_global_provider._active_span_processor._span_processors[-1]
    assert router._routes.only is not None  # type: ignore[attr-defined]
    assert last.close(timeout=10)
    assert [name for _, _, name in sent(platform)] == ["job 0", "job 1", "job 2"]
