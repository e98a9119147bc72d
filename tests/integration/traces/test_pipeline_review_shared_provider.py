"""Clients on the application's own provider, against the real local platform: what the
platform stores is every event once, whatever agent a span names and whatever the app samples."""

from __future__ import annotations

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from tracengent import _state
from tracengent.testing import RunningPlatform


def options(platform: RunningPlatform, agent: str = "demo-agent") -> tracengent.TracengentOptions:
    """The built-in policy's credentials of `agent` (demo-agent or hotel-agent)."""
    name = agent.removesuffix("-agent")
    return tracengent.TracengentOptions(
        agent_id=agent, base_url=platform.url, client_id=f"key_{name}", client_secret=f"ags_{name}"
    )


def test_sub_agent_events_and_a_framework_trace_are_stored(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """0.1.0's sub-agent `AgentEvent`s and an agent framework's trace naming its own agent id
    are stored (sent with the client's credentials); nothing is counted dropped."""
    client = tracengent.TracengentClient(options(tracengent_platform))
    client.record(tracengent.AgentEvent("sub-agent step", "action", agent_id="billing-subagent"))
    with client.begin_trace("check refund") as trace:
        trace.record(tracengent.AgentEvent("delegated", "decision", agent_id="billing-subagent"))
    tracer = app_provider.get_tracer("agent-framework")
    with (
        tracer.start_as_current_span(
            "invoke_agent Refunder",
            attributes={
                A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
                A.GEN_AI_AGENT_ID: "asst_abc123",
                A.TRACE_ROOT_REQUEST: "refund order 42",
            },
        ),
        tracer.start_as_current_span("refund", attributes={A.EVENT_TYPE: "action"}),
    ):
        pass
    assert client.close(timeout=10)
    assert client.dropped_count == 0
    stored = {t.root_request: t for t in tracengent_platform.store.traces()}
    assert [e.body["name"] for e in stored["check refund"].events] == ["delegated"]
    assert [e.body["name"] for e in stored["refund order 42"].events] == ["refund"]
    assert stored["refund order 42"].status == "completed"
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert (counters.events_received, counters.trace_closes_received) == (3, 2)


def test_spans_of_no_agent_are_stored_once_with_two_agents_clients(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """With demo-agent's and hotel-agent's clients on one provider, a manual event naming no
    agent is stored once (by the first attached), each client's own trace under its agent."""
    demo = tracengent.TracengentClient(options(tracengent_platform))
    hotel = tracengent.TracengentClient(options(tracengent_platform, "hotel-agent"))
    with app_provider.get_tracer("app").start_as_current_span(
        "refund", attributes={A.EVENT_TYPE: "action", A.COST_AMOUNT: 280.0}
    ):
        pass
    with hotel.begin_trace("book a room") as trace:
        trace.track_action("book_room", lambda: "ok")
    assert demo.close(timeout=10)
    assert hotel.close(timeout=10)
    counters = tracengent_platform.store.counters()
    assert counters["demo-agent"].events_received == 1
    assert counters["demo-agent"].trace_closes_received == 0
    assert counters["hotel-agent"].events_received == 1
    assert counters["hotel-agent"].trace_closes_received == 1


def test_an_application_ratio_sampler_loses_none_of_the_clients_traces(
    tracengent_platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app samples 0 % of its traces: every decision trace the client records is stored."""
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    try:
        client = tracengent.TracengentClient(options(tracengent_platform))
        for index in range(10):
            with client.begin_trace(f"request {index}") as trace:
                trace.step("thinking")
                trace.track_action("act", lambda: 1)
        assert client.close(timeout=10)
    finally:
        provider.shutdown()
        _state.reset_for_tests()
    assert len(tracengent_platform.store.traces()) == 10
    assert tracengent_platform.store.counters()["demo-agent"].events_received == 20


def test_a_client_per_job_adds_nothing_to_the_provider_for_good(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """Thirty jobs, each with a client of its own (0.1.0 style): every trace is stored and the
    provider still calls three Tracengent processors per span."""
    for job in range(30):
        with (
            tracengent.TracengentClient(options(tracengent_platform)) as client,
            client.begin_trace(f"job {job}") as trace,
        ):
            trace.track_action("work", lambda: 1)
        assert client.flushed
    assert len(app_provider._active_span_processor._span_processors) == 3
    assert len(tracengent_platform.store.traces()) == 30


def test_misuse_whose_event_is_sent_is_no_drop(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """An unknown `complete()` status, an LLM call returning no `LlmCallResult` and a cost that
    is not `Money`: every event and the close are stored; counted `misuse`, not dropped."""
    client = tracengent.TracengentClient(options(tracengent_platform))
    with client.begin_trace("misused") as trace:
        trace.track_llm_call("plain", lambda: "text")  # type: ignore[arg-type, return-value]
        trace.track_action("priced", lambda: 1, cost=42)  # type: ignore[arg-type]
        trace.complete("done")
    assert client.close(timeout=10)
    (stored,) = tracengent_platform.store.traces()
    assert [e.body["name"] for e in stored.events] == ["plain", "priced"]
    assert (client.dropped_count, client.delivery_stats["recording_failed"]) == (0, 0)
    assert client.misuse_count == client.delivery_stats["misuse"] == 3
