"""Export pipelines on a shared tracer provider: each span goes out exactly once, none unseen.

The application's provider gets one `ExportRouter`, once; each agent's pipeline lives inside it
while a client for that agent is open. A span naming an agent with a live pipeline goes there;
every other span (no agent id, or an agent of its own such as a sub-agent's or a framework's)
goes to one default pipeline, its agent id kept on the wire.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient, _state


def client_for(agent_id: str, platform: FakePlatform, **overrides: object) -> TracengentClient:
    """A client for `agent_id` posting to `platform`."""
    return TracengentClient(
        platform_options(agent_id=agent_id, **overrides), transport=httpx.MockTransport(platform)
    )


def sent(platform: FakePlatform) -> list[tuple[str, str]]:
    """`(agentId, name)` of every event posted to `platform`, in order."""
    return [(str(e["agentId"]), str(e["name"])) for e in platform.events()]


def closes(platform: FakePlatform) -> list[dict[str, object]]:
    """Every trace close posted to `platform`."""
    return [json.loads(r.content) for r in platform.requests if r.url.path == "/v1/ingest/traces"]


def processors_on(provider: TracerProvider) -> int:
    """How many span processors the provider calls for every span."""
    return len(provider._active_span_processor._span_processors)


def test_an_events_own_agent_id_is_sent_not_dropped(sdk_global_provider: TracerProvider) -> None:
    """0.1.0's `AgentEvent(agent_id=...)` of an agent without a pipeline here is sent, with its
    own agent id, standalone and inside a trace; nothing is dropped."""
    platform = FakePlatform([])
    client = client_for("agent-x", platform)
    client.record(AgentEvent(name="sub-agent step", type="action", agent_id="billing-subagent"))
    with client.begin_trace("refund 42") as trace:
        trace.record(AgentEvent(name="in trace", type="decision", agent_id="billing-subagent"))
    assert client.close(timeout=10)
    assert sent(platform) == [
        ("billing-subagent", "sub-agent step"),
        ("billing-subagent", "in trace"),
    ]
    assert [c["agentId"] for c in closes(platform)] == ["agent-x"]
    assert client.dropped_count == 0


def test_a_framework_root_naming_its_own_agent_is_sent_whole(
    sdk_global_provider: TracerProvider,
) -> None:
    """An agent framework's `invoke_agent` root with its own `gen_ai.agent.id` (an assistant
    id) and the spans in it go out, close included, under that id."""
    platform = FakePlatform([])
    client = client_for("demo-agent", platform)
    tracer = sdk_global_provider.get_tracer("agent-framework")
    with tracer.start_as_current_span(
        "invoke_agent Refunder",
        attributes={
            A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
            A.GEN_AI_AGENT_ID: "asst_abc123",
            A.TRACE_ROOT_REQUEST: "refund order 42",
        },
    ):
        with tracer.start_as_current_span("refund", attributes={A.EVENT_TYPE: "action"}):
            pass
        with tracer.start_as_current_span(
            "chat gpt-4o", attributes={A.GEN_AI_OPERATION_NAME: "chat"}
        ):
            pass
    assert client.close(timeout=10)
    assert sent(platform) == [("asst_abc123", "refund"), ("asst_abc123", "chat gpt-4o")]
    (close,) = closes(platform)
    assert (close["agentId"], close["rootRequest"]) == ("asst_abc123", "refund order 42")
    assert client.dropped_count == 0


def test_an_agent_with_a_live_pipeline_gets_its_spans_and_no_other_does(
    sdk_global_provider: TracerProvider,
) -> None:
    """A span naming agent-b goes to agent-b's pipeline alone, although agent-a's attached
    first; agent-a's own spans go to agent-a's alone."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    client_a = client_for("agent-a", platform_a)
    client_b = client_for("agent-b", platform_b)
    tracer = sdk_global_provider.get_tracer("app")
    with tracer.start_as_current_span(
        "b's", attributes={A.EVENT_TYPE: "action", A.GEN_AI_AGENT_ID: "agent-b"}
    ):
        pass
    client_a.record(AgentEvent(name="a's", type="action"))
    assert client_a.close(timeout=10)
    assert client_b.close(timeout=10)
    assert sent(platform_a) == [("agent-a", "a's")]
    assert sent(platform_b) == [("agent-b", "b's")]


def test_spans_of_no_agent_go_out_once_on_a_provider_two_agents_share(
    sdk_global_provider: TracerProvider,
) -> None:
    """A manual event, a GenAI chat span and a decision trace naming no agent are sent by one
    pipeline (the first attached), not by every agent's: no doubled costs or token budgets."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    client_a = client_for("agent-a", platform_a)
    client_b = client_for("agent-b", platform_b)
    tracer = sdk_global_provider.get_tracer("app")
    with tracer.start_as_current_span(
        "refund", attributes={A.EVENT_TYPE: "action", A.COST_AMOUNT: 280.0}
    ):
        pass
    with tracer.start_as_current_span(
        "chat gpt-4o",
        attributes={A.GEN_AI_OPERATION_NAME: "chat", A.GEN_AI_USAGE_INPUT_TOKENS: 100},
    ):
        pass
    with (
        tracer.start_as_current_span(
            "invoke_agent bot",
            attributes={
                A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
                A.TRACE_ROOT_REQUEST: "r",
            },
        ),
        tracer.start_as_current_span("inner", attributes={A.EVENT_TYPE: "action"}),
    ):
        pass
    assert client_a.close(timeout=10)
    assert client_b.close(timeout=10)
    assert [name for _, name in sent(platform_a)] == ["refund", "chat gpt-4o", "inner"]
    assert len(closes(platform_a)) == 1
    assert (sent(platform_b), closes(platform_b)) == ([], [])


def test_clients_for_one_agent_configured_differently_share_one_export(
    sdk_global_provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """Two clients for one agent whose environments differ: each event and close is sent once
    (with the first client's environment), and one warning says the export is shared."""
    platform = FakePlatform([])
    transport = httpx.MockTransport(platform)
    first = TracengentClient(platform_options(environment="production"), transport=transport)
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        second = TracengentClient(platform_options(environment="staging"), transport=transport)
        third = TracengentClient(platform_options(environment="staging"), transport=transport)
    assert second.delivery_stats == first.delivery_stats
    with first.begin_trace("refund order 42") as trace:
        trace.track_action("issue_refund", lambda: "ok")
    for client in (first, second, third):
        assert client.close(timeout=10)
    events = platform.events()
    assert [(e["name"], e["tags"]) for e in events] == [("issue_refund", ["production"])]
    assert len(closes(platform)) == 1
    shared = [r for r in caplog.records if "shares the export" in r.getMessage()]
    assert len(shared) == 1


def test_once_an_agents_client_closed_its_spans_go_to_a_live_pipeline(
    sdk_global_provider: TracerProvider,
) -> None:
    """Spans naming an agent whose client closed are sent by the default pipeline; with no
    pipeline live at all they are counted `after_shutdown`, never lost unseen."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    client_a = client_for("agent-a", platform_a)
    client_b = client_for("agent-b", platform_b)
    tracer = sdk_global_provider.get_tracer("app")
    assert client_b.close(timeout=10)
    with tracer.start_as_current_span(
        "late b", attributes={A.EVENT_TYPE: "action", A.GEN_AI_AGENT_ID: "agent-b"}
    ):
        pass
    assert client_a.close(timeout=10)
    assert sent(platform_a) == [("agent-b", "late b")]
    with tracer.start_as_current_span(
        "after all closed", attributes={A.EVENT_TYPE: "action", A.GEN_AI_AGENT_ID: "agent-a"}
    ):
        pass
    assert client_a.delivery_stats["after_shutdown"] == 1
    assert client_a.dropped_count == 1


def test_client_lifecycles_leave_one_router_and_no_dead_processor(
    sdk_global_provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """A client per job (0.1.0 style), fifty times: the provider keeps its three processors
    (context, scrubbing, router), the router holds no closed pipeline, every job's events are
    delivered and nothing warns."""
    from tracengent._processors.routing import ExportRouter

    platform = FakePlatform([])
    before: int | None = None
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        for job in range(50):
            with client_for("agent-a", platform) as client, client.begin_trace(f"job {job}") as t:
                t.track_action("work", lambda: 1)
            assert client.flushed
            if before is None:
                before = processors_on(sdk_global_provider)
    assert before == processors_on(sdk_global_provider) == 3
    attachment = _state.attachment_of(sdk_global_provider)
    assert attachment is not None
    assert isinstance(attachment.router, ExportRouter)
    assert attachment.router.pipelines == ()
    assert len(platform.events()) == 50
    assert caplog.records == []


def test_a_recorders_span_hooks_do_not_grow_with_lifecycles(
    sdk_global_provider: TracerProvider,
) -> None:
    """The recorder's fast path calls as many `on_end` hooks after 20 client lifecycles as
    after the first: one per processor on the provider."""
    platform = FakePlatform([])
    with client_for("agent-a", platform) as first:
        with first.begin_trace("first") as trace:
            trace.step("s")
        hooks = len(first.recorder._direct.hooks()[3]) if first.recorder._direct else None
    for _ in range(20):
        with client_for("agent-a", platform):
            pass
    with client_for("agent-a", platform) as last:
        with last.begin_trace("last") as trace:
            trace.step("s")
        assert last.recorder._direct is not None
        assert len(last.recorder._direct.hooks()[3]) == hooks
