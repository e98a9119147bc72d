"""Two agents' clients on the application's provider, against the real local platform: an
event in one agent's decision trace is stored in that trace, under that agent, whatever agent
it names (the platform files an event under the credentials it came with)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

import tracengent
from tests.integration.traces.test_pipeline_review_shared_provider import options
from tracengent.testing import RunningPlatform


def test_a_sub_agent_event_is_stored_in_its_trace_under_the_trace_agent(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    demo = tracengent.TracengentClient(options(tracengent_platform, "demo-agent"))  # default
    hotel = tracengent.TracengentClient(options(tracengent_platform, "hotel-agent"))
    with hotel.begin_trace("book hotel for order 7") as trace:
        trace.step("pick hotel")
        trace.record(
            tracengent.AgentEvent(
                "payment sub-agent charged",
                "action",
                agent_id="payments-subagent",
                cost=tracengent.Money.eur(300),
            )
        )
    assert hotel.close(timeout=10)
    assert demo.close(timeout=10)
    traces = tracengent_platform.store.traces()
    assert [(t.agent_id, t.root_request) for t in traces] == [
        ("hotel-agent", "book hotel for order 7")
    ]
    assert [e.body["name"] for e in traces[0].events] == [
        "pick hotel",
        "payment sub-agent charged",
    ]
    assert demo.dropped_count == hotel.dropped_count == 0
