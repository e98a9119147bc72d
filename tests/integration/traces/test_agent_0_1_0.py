"""An agent written for 0.1.0 runs unchanged; its trace is also in the application's OTel data."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from tests.support.loopback import json_reply, serve
from tracengent.testing import RunningPlatform


def run_agent_written_for_0_1_0(base_url: str, api_url: str) -> str:
    """The 0.1.0 API only: options, client, trace, trackers, record, tracked client, close."""
    options = tracengent.TracengentOptions(
        agent_id="demo-agent",
        base_url=base_url,
        client_id="key_demo",
        client_secret="ags_demo",
    )
    client = tracengent.TracengentClient(options)
    with client.begin_trace("book a table for two", actor_user_id="guest-1") as trace:
        trace.step("find a restaurant", attributes={"city": "Lisbon"})
        found = trace.track_tool_call("search", lambda: ["Tasca"], input={"city": "Lisbon"})
        reply = trace.track_llm_call(
            "choose",
            lambda: tracengent.LlmCallResult(found[0], tokens=30, model="m"),
            estimated_tokens=50,
        )
        http = tracengent.tracked_client(client, base_url=api_url)
        http.post("/reservations", json={"at": reply})
        http.close()
        trace.track_action("confirm", lambda: "ok", cost=tracengent.Money.eur(2.5))
        trace.record(tracengent.AgentEvent(name="note", type=tracengent.EventTypes.DECISION))
        trace.complete("completed", summary="booked")
    client.close(timeout=10)
    return trace.trace_id


def test_agent_0_1_0_whole_trace_and_app_otel_trace(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """The whole trace is stored, and the app's own exporter sees the same OTel trace id."""
    memory = InMemorySpanExporter()
    app_provider.add_span_processor(SimpleSpanProcessor(memory))
    with serve(lambda _: json_reply({"id": 1})) as api:
        trace_id = run_agent_written_for_0_1_0(tracengent_platform.url, api.url)

    (stored,) = tracengent_platform.store.traces()
    assert stored.trace_id == trace_id
    assert (stored.status, stored.summary, stored.agent_id) == ("completed", "booked", "demo-agent")
    names = [str(e.body["name"]) for e in stored.events]
    assert sorted(names) == sorted(
        ["find a restaurant", "search", "choose", "POST 127.0.0.1/reservations", "confirm", "note"]
    )
    assert sum("rootRequest" in e.body for e in stored.events) == 1

    otel_trace_ids = {s.context.trace_id for s in memory.get_finished_spans() if s.context}
    assert otel_trace_ids == {int(trace_id[4:36], 16)}
    # Six events, the root, and the `llm:call` authorization (a governance span, not an event).
    assert len(memory.get_finished_spans()) == 8
    kinds = [
        s.attributes.get(A.GOVERNANCE_KIND) for s in memory.get_finished_spans() if s.attributes
    ]
    assert kinds.count("authorize") == 1
    (reservation,) = tracengent_platform.store.decisions()
    assert reservation.permission == "llm:call"
