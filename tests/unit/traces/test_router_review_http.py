"""A pipeline posts through the `http=` client of the client that made it: clients bringing
their own `httpx.Client` do not share a pipeline (its owner may close it when its job ends)."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient, _state


def test_a_later_client_keeps_sending_after_the_first_closed_its_http(
    sdk_global_provider: TracerProvider,
) -> None:
    platform = FakePlatform([])
    http_a = httpx.Client(transport=httpx.MockTransport(platform))
    a = TracengentClient(platform_options(agent_id="agent-x"), http=http_a)
    http_b = httpx.Client(transport=httpx.MockTransport(platform))
    b = TracengentClient(platform_options(agent_id="agent-x"), http=http_b)
    with b.begin_trace("job 2 starts"):
        pass
    assert a.close(timeout=10)
    http_a.close()
    b.record(AgentEvent(name="job2 event", type="action"))
    with b.begin_trace("job 2 goes on") as trace:
        trace.step("job2 step")
    assert b.close(timeout=10)
    http_b.close()
    assert [e["name"] for e in platform.events()] == ["job2 event", "job2 step"]
    assert b.dropped_count == 0
    assert b.delivery_stats["retries_exhausted"] == 0


def test_clients_with_one_http_share_one_pipeline(sdk_global_provider: TracerProvider) -> None:
    platform = FakePlatform([])
    http = httpx.Client(transport=httpx.MockTransport(platform))
    a = TracengentClient(platform_options(agent_id="agent-x"), http=http)
    b = TracengentClient(platform_options(agent_id="agent-x"), http=http)
    attachment = _state.attachment_of(sdk_global_provider)
    assert attachment is not None
    assert attachment.router is not None
    assert len(attachment.router.pipelines) == 1
    a.record(AgentEvent(name="from a", type="action"))
    b.record(AgentEvent(name="from b", type="action"))
    assert a.close(timeout=10)
    assert b.close(timeout=10)
    http.close()
    assert sorted(str(e["name"]) for e in platform.events()) == ["from a", "from b"]
