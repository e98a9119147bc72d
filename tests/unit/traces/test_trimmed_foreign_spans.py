"""A foreign GenAI span trimmed by the SDK's attribute count limit is still the event it is.

The SDK's `BoundedAttributes` evicts the oldest attributes of a span that gets more than
`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (128 by default): on an instrumentation's `chat` span that
sets one attribute per prompt message (`gen_ai.prompt.{i}.content`, as OpenLLMetry-style
instrumentations do), those are `gen_ai.operation.name` and the decision-trace stamps the
context processor set as it started. The event is still delivered with its type and trace
membership: the context processor remembers them from the start and hands back what the span
lost. Through the whole pipeline: our processors, the exporter, the wire a (fake) platform gets.
"""

from __future__ import annotations

import json

import httpx
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import TracengentSpanExporter, _classify
from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.exporter.conftest import FakePlatform as PostedEvents
from tests.unit.traces.conftest import ClientHarness, FakePlatform, platform_options
from tracengent import TracengentClient
from tracengent._processors import ContextProcessor

CHAT: dict[str, AttributeValue] = {
    A.GEN_AI_OPERATION_NAME: "chat",
    A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
}
PROMPTS = 200
"""Attributes set after the start: more than the SDK's default limit (128) on their own."""


def _chat(tracer: Tracer, name: str = "chat gpt-4o-mini", prompts: int = PROMPTS) -> None:
    """An instrumentation's chat span, current while it runs, with `prompts` prompt attributes."""
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=CHAT) as span:
        for i in range(prompts):
            span.set_attribute(f"gen_ai.prompt.{i}.content", f"message {i}")


def _trimmed(span: ReadableSpan) -> None:
    """The precondition: the SDK evicted the span's operation and our stamps."""
    attributes = span.attributes or {}
    assert span.dropped_attributes > 0
    assert A.GEN_AI_OPERATION_NAME not in attributes
    assert A.TRACE_ID not in attributes


def _closes(platform: FakePlatform) -> list[dict[str, object]]:
    return [json.loads(r.content) for r in platform.requests if r.url.path == "/v1/ingest/traces"]


def test_a_trimmed_chat_span_is_still_an_llm_call(client_harness: ClientHarness) -> None:
    """Outside any decision trace: one `llm_call` event, nothing dropped."""
    client = client_harness.client
    _chat(client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai"))
    span = client_harness.span("chat gpt-4o-mini")
    assert span.dropped_attributes > 0
    assert A.GEN_AI_OPERATION_NAME not in (span.attributes or {})
    assert client.close(timeout=10)
    events = client_harness.platform.events()
    assert [(e["name"], e["type"]) for e in events] == [("chat gpt-4o-mini", "llm_call")]
    assert client.dropped_count == 0
    # Other exporters get the span as the SDK kept it: nothing is added to it.
    assert A.GEN_AI_OPERATION_NAME not in (span.attributes or {})


def test_a_trimmed_chat_span_keeps_its_decision_trace(client_harness: ClientHarness) -> None:
    """Inside a decision trace: the event carries the trace's id, follows the previous event
    and names the agent, as it would untrimmed."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai")
    with client.begin_trace("summarize") as trace:
        trace.step("before")
        _chat(tracer)
        trace.step("after")
    _trimmed(client_harness.span("chat gpt-4o-mini"))
    assert client.close(timeout=10)
    events = client_harness.platform.events()
    assert [(e["name"], e["type"]) for e in events] == [
        ("before", "decision"),
        ("chat gpt-4o-mini", "llm_call"),
        ("after", "decision"),
    ]
    before, chat, after = events
    assert chat["traceId"] == before["traceId"] == after["traceId"]
    assert isinstance(chat["traceId"], str)
    assert chat["traceId"].startswith("trc_")
    assert chat["parentEventId"] == before["eventId"]
    assert after["parentEventId"] == chat["eventId"]
    assert chat["agentId"] == before["agentId"]
    assert client.dropped_count == 0


def test_a_trimmed_foreign_root_still_closes_its_trace(client_harness: ClientHarness) -> None:
    """A framework's `invoke_agent` root trimmed the same way still opens its trace: its event
    is in it and its end sends the trace close."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("agent.framework")
    root_attributes: dict[str, AttributeValue] = {A.GEN_AI_OPERATION_NAME: "invoke_agent"}
    with tracer.start_as_current_span("invoke_agent planner", attributes=root_attributes) as root:
        _chat(tracer, prompts=10)
        for i in range(PROMPTS):
            root.set_attribute(f"framework.state.{i}", i)
    _trimmed(client_harness.span("invoke_agent planner"))
    assert client.close(timeout=10)
    events = client_harness.platform.events()
    assert [(e["name"], e["type"]) for e in events] == [("chat gpt-4o-mini", "llm_call")]
    closes = _closes(client_harness.platform)
    assert [c["traceId"] for c in closes] == [events[0]["traceId"]]
    assert client.dropped_count == 0


def test_an_untrimmed_chat_span_is_unchanged(client_harness: ClientHarness) -> None:
    """Nothing dropped: the event is what it always was, and nothing is handed over."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai")
    with client.begin_trace("summarize") as trace:
        trace.step("before")
        _chat(tracer, prompts=10)
    span = client_harness.span("chat gpt-4o-mini")
    assert span.dropped_attributes == 0
    assert _classify.lost_by(span) is None
    assert client.close(timeout=10)
    before, chat = client_harness.platform.events()
    assert (chat["name"], chat["type"]) == ("chat gpt-4o-mini", "llm_call")
    assert chat["traceId"] == before["traceId"]
    assert chat["parentEventId"] == before["eventId"]
    assert span.attributes is not None
    assert span.attributes[A.TRACE_ID] == chat["traceId"]


def test_a_trimmed_span_on_a_shared_provider_goes_to_its_traces_agent(
    sdk_global_provider: TracerProvider,
) -> None:
    """Two agents' clients on the application's provider (the router picks a pipeline per
    span): a trimmed chat span in the second agent's trace goes to that agent, not to the
    default pipeline (the first agent's)."""
    first, second = FakePlatform([]), FakePlatform([])
    client_a = TracengentClient(
        platform_options(agent_id="agent-a"), transport=httpx.MockTransport(first)
    )
    client_b = TracengentClient(
        platform_options(agent_id="agent-b"), transport=httpx.MockTransport(second)
    )
    memory = InMemorySpanExporter()
    sdk_global_provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = sdk_global_provider.get_tracer("opentelemetry.instrumentation.openai")
    with client_b.begin_trace("summarize") as trace:
        trace.step("before")
        _chat(tracer)
    (span,) = [s for s in memory.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    _trimmed(span)
    assert client_a.close(timeout=10)
    assert client_b.close(timeout=10)
    assert first.events() == []
    before, chat = second.events()
    assert (chat["name"], chat["type"], chat["agentId"]) == (
        "chat gpt-4o-mini",
        "llm_call",
        "agent-b",
    )
    assert chat["traceId"] == before["traceId"]
    assert client_a.dropped_count == client_b.dropped_count == 0


def test_a_trimmed_span_under_a_chat_span_is_not_given_the_chats_operation(
    client_harness: ClientHarness,
) -> None:
    """A span that is no event shares its parent's record: trimmed, it is given nothing of the
    chat span's start (it stays no event), and the chat span is still one `llm_call`."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai")
    with (
        client.begin_trace("summarize"),
        tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT),
        tracer.start_as_current_span("template render") as child,
    ):
        for i in range(PROMPTS):
            child.set_attribute(f"template.var.{i}", i)
    child_span = client_harness.span("template render")
    assert child_span.dropped_attributes > 0
    assert _classify.lost_by(child_span) is None
    assert client.close(timeout=10)
    events = client_harness.platform.events()
    assert [(e["name"], e["type"]) for e in events] == [("chat gpt-4o-mini", "llm_call")]
    assert client.dropped_count == 0


def test_our_exporter_under_the_sdks_batching_processor_restores_it() -> None:
    """Another configurator's (or a declarative file's) `BatchSpanProcessor` over our exporter,
    ahead of the context processor as zero code adds it: the trimmed chat span is still the
    `llm_call` of its decision trace when the batch is exported."""
    platform = PostedEvents()
    exporter = TracengentSpanExporter(platform_options(), platform=platform)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    provider.add_span_processor(ContextProcessor())
    tracer = provider.get_tracer("agent.framework")
    root_attributes: dict[str, AttributeValue] = {A.GEN_AI_OPERATION_NAME: "invoke_agent"}
    try:
        with tracer.start_as_current_span("invoke_agent planner", attributes=root_attributes):
            _chat(tracer)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    (chat,) = platform.events
    assert (chat["name"], chat["type"]) == ("chat gpt-4o-mini", "llm_call")
    (close,) = [body for kind, body in platform.calls if kind == "close"]
    assert isinstance(close, dict)
    assert chat["traceId"] == close["traceId"]
    assert exporter.dropped_count == 0
