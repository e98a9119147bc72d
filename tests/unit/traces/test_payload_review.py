"""Payload review fixes, end to end through the client: capture off takes no root request from
GenAI messages, a payload UTF-8 cannot encode is left out (counted), odd names and root requests
are mended, and an event outside the contract is counted without costing its batch-mates."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import ClientHarness, FakePlatform, platform_options
from tracengent import TracengentClient
from tracengent._processors.context import ContextProcessor
from tracengent._scrubbing import Scrubber, ScrubbingProcessor

LONE = "caf\udce9.txt"  # what `surrogateescape` makes of a Latin-1 file name
MENDED = "caf\ufffd.txt"
MESSAGES = json.dumps([{"role": "user", "content": "my private question"}])


@pytest.fixture
def memory() -> Iterator[InMemorySpanExporter]:
    """An in-memory exporter, cleared after the test."""
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


def framework_trace(capture: bool, memory: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    """An agent framework's root (its request as GenAI messages) and one LLM span under it,
    through our context and scrubbing processors; the finished spans by name."""
    provider = TracerProvider()
    provider.add_span_processor(ContextProcessor(capture_payloads=capture))
    provider.add_span_processor(ScrubbingProcessor(Scrubber(capture_payloads=capture)))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    root_attributes = {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.GEN_AI_INPUT_MESSAGES: MESSAGES}
    with (
        tracer.start_as_current_span("invoke_agent fw", attributes=root_attributes),
        tracer.start_as_current_span("chat", attributes={A.GEN_AI_OPERATION_NAME: "chat"}),
    ):
        pass
    provider.shutdown()
    return {span.name: span for span in memory.get_finished_spans()}


@pytest.mark.parametrize("capture", [True, False])
def test_capture_off_takes_no_root_request_from_genai_messages(
    capture: bool, memory: InMemorySpanExporter
) -> None:
    """The user message of a root's GenAI messages is payload: with capture off it is neither
    stamped on the root nor on the trace's first event (so no exporter sends it)."""
    spans = framework_trace(capture, memory)
    expected = "my private question" if capture else None
    for name in ("invoke_agent fw", "chat"):
        assert (spans[name].attributes or {}).get(A.TRACE_ROOT_REQUEST) == expected


def test_capture_turned_off_later_holds_for_the_next_trace(memory: InMemorySpanExporter) -> None:
    """A shared provider's context processor can be made stricter after it was built (another
    client with capture off attaches): the next root takes no request from its messages."""
    processor = ContextProcessor()
    processor.capture_payloads = False
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    root_attributes = {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.GEN_AI_INPUT_MESSAGES: MESSAGES}
    with provider.get_tracer("test").start_as_current_span("root", attributes=root_attributes):
        pass
    provider.shutdown()
    (root,) = memory.get_finished_spans()
    assert A.TRACE_ROOT_REQUEST not in (root.attributes or {})


def test_capture_off_keeps_an_explicit_root_request(memory: InMemorySpanExporter) -> None:
    """`tracengent.trace.root_request` is the application's own field, not a payload: kept."""
    provider = TracerProvider()
    provider.add_span_processor(ContextProcessor(capture_payloads=False))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    root_attributes = {
        A.GEN_AI_OPERATION_NAME: "invoke_agent",
        A.TRACE_ROOT_REQUEST: "refund order 42",
        A.GEN_AI_INPUT_MESSAGES: MESSAGES,
    }
    with (
        tracer.start_as_current_span("root", attributes=root_attributes),
        tracer.start_as_current_span("step", attributes={A.EVENT_TYPE: "decision"}),
    ):
        pass
    provider.shutdown()
    step = next(span for span in memory.get_finished_spans() if span.name == "step")
    assert (step.attributes or {}).get(A.TRACE_ROOT_REQUEST) == "refund order 42"


def test_a_client_with_capture_off_posts_no_payload(no_global_provider: None) -> None:
    """The reviewer's case: with capture off, neither a payload set after its span started nor a
    root request taken from GenAI messages reaches the platform."""
    platform = FakePlatform([])
    client = TracengentClient(
        platform_options(capture_payloads=False), transport=httpx.MockTransport(platform)
    )
    tracer = client.tracer
    try:
        with tracer.start_as_current_span("later", attributes={A.EVENT_TYPE: "action"}) as span:
            span.set_attribute(A.OUTPUT, json.dumps({"result": "set after start"}))
        root_attributes = {
            A.GEN_AI_OPERATION_NAME: "invoke_agent",
            A.GEN_AI_INPUT_MESSAGES: MESSAGES,
        }
        with (
            tracer.start_as_current_span("invoke_agent fw", attributes=root_attributes),
            tracer.start_as_current_span("chat", attributes={A.GEN_AI_OPERATION_NAME: "chat"}),
        ):
            pass
    finally:
        assert client.close(timeout=10)
    events = platform.events()
    assert [event["name"] for event in events] == ["later", "chat"]
    for event in events:
        assert not set(event) & {"input", "output", "attributes", "rootRequest"}
    closes = [r for r in platform.requests if r.url.path == "/v1/ingest/traces"]
    assert all(b"my private question" not in close.content for close in closes)


def test_a_payload_utf8_cannot_encode_is_dropped_by_the_scrubber() -> None:
    """A payload whose JSON holds a lone surrogate is no payload at all (None), as any other
    value that cannot be encoded; text UTF-8 can carry is untouched."""
    scrubber = Scrubber()
    assert scrubber.payload_json({"path": LONE}) == (None, False)
    assert scrubber.payload_json({LONE: 1}) == (None, False)
    assert scrubber.payload_json({"path": "café"}) == ('{"path":"café"}', True)
    assert scrubber.scrub_attribute(A.INPUT, LONE) is None  # text that is not JSON
    assert scrubber.scrub_attribute(A.INPUT, json.dumps({"p": LONE}, ensure_ascii=False)) is None
    assert scrubber.scrub_attribute(A.INPUT, json.dumps({"p": LONE})) is None  # `\udce9` escape
    assert scrubber.scrub_attribute(A.INPUT, '{"p": "café"}') == '{"p":"café"}'
    assert scrubber.scrub_attribute(A.EVENT_NAME, LONE) == LONE  # no payload: the exporter mends


def test_a_lone_surrogate_costs_no_event_and_no_trace_close(client_harness: ClientHarness) -> None:
    """The reviewer's case: a file name with a lone surrogate as a tool's input, a step's text and
    a root request. The input is left out (counted `payloads_omitted`), the texts are mended to
    U+FFFD, and every event and trace close is delivered."""
    client = client_harness.client
    with client.begin_trace("req") as trace:
        trace.track_tool_call("read_file", lambda: "content", input={"path": LONE})
        trace.step(f"read {LONE}")
    with client.begin_trace(f"open {LONE}") as second:
        second.step("s")
    assert client.close(timeout=10)
    events = client_harness.platform.events()
    assert [event["name"] for event in events] == ["read_file", f"read {MENDED}", "s"]
    assert "input" not in events[0]
    assert events[0]["output"] == "content"
    assert events[2]["rootRequest"] == f"open {MENDED}"
    closes = [
        json.loads(request.content)
        for request in client_harness.platform.requests
        if request.url.path == "/v1/ingest/traces"
    ]
    assert [close["rootRequest"] for close in closes] == ["req", f"open {MENDED}"]
    stats = client.delivery_stats
    assert (stats["unserializable"], stats["retries_exhausted"]) == (0, 0)
    assert stats["payloads_omitted"] == 1
    assert (stats["delivered"], stats["traces_closed"]) == (3, 2)


def test_a_recorded_event_outside_the_contract_is_counted(client_harness: ClientHarness) -> None:
    """`AgentEvent`s whose name is not text, or whose type or status is outside the contract,
    are each dropped and counted `unserializable` (a None type no longer vanishes uncounted);
    the good ones are delivered."""
    client = client_harness.client
    client.record(AgentEvent(name="good", type="action"))
    client.record(AgentEvent(name=None, type="action"))  # type: ignore[arg-type]
    client.record(AgentEvent(name=123, type="action"))  # type: ignore[arg-type]
    client.record(AgentEvent(name="no-type", type=None))  # type: ignore[arg-type]
    client.record(AgentEvent(name="odd-type", type="tool"))
    client.record(AgentEvent(name="odd-status", type="action", status="ok"))
    client.record(AgentEvent(name="no-status", type="action", status=None))  # type: ignore[arg-type]
    client.record(AgentEvent(name="also-good", type="decision"))
    client.close(timeout=10)
    events = client_harness.platform.events()
    assert [event["name"] for event in events] == ["good", "no-status", "also-good"]
    assert events[1]["status"] == "success"
    assert client.delivery_stats["unserializable"] == 5
    assert client.dropped_count == 5


def test_the_mask_stands_for_a_started_payload_utf8_cannot_encode(
    memory: InMemorySpanExporter,
) -> None:
    """A third-party span starting with such a payload has it masked by the scrubbing processor,
    so no exporter (the user's OTLP one included) meets text it cannot encode."""
    provider = TracerProvider()
    provider.add_span_processor(ScrubbingProcessor(Scrubber()))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("test").start_as_current_span(
        "tool", attributes={A.EVENT_TYPE: "tool_call", A.INPUT: json.dumps({"p": LONE})}
    ):
        pass
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    assert (span.attributes or {})[A.INPUT] == MASK_TOKEN


PROMPT_ATTRIBUTES = {
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "be terse"}]),
    "gen_ai.prompt": "what is my balance?",
    "gen_ai.completion": "it is 42",
    "gen_ai.prompt.0.content": "what is my balance?",
    "gen_ai.completion.0.content": "it is 42",
}
"""Prompt and completion text as GenAI semantic conventions name it now (system instructions)
and as instrumentations still write it (the deprecated `gen_ai.prompt`/`completion`, indexed
per message by OpenLLMetry-style instrumentations)."""


def test_capture_off_reaches_no_exporter_with_prompt_or_completion_text(
    memory: InMemorySpanExporter,
) -> None:
    """With capture off, a third-party LLM span started with prompt or completion text keeps
    none of it for the application's own exporters: those attributes are payloads."""
    provider = TracerProvider()
    provider.add_span_processor(ScrubbingProcessor(Scrubber(capture_payloads=False)))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    attributes = {
        A.GEN_AI_OPERATION_NAME: "chat",
        **PROMPT_ATTRIBUTES,
        "gen_ai.prompt.0.role": "user",
    }
    with provider.get_tracer("llm-instrumentation").start_as_current_span(
        "chat", attributes=attributes
    ):
        pass
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    kept = dict(span.attributes or {})
    for key in PROMPT_ATTRIBUTES:
        assert kept[key] == MASK_TOKEN, key
    # Not payload text: kept as written.
    assert kept["gen_ai.prompt.0.role"] == "user"
    assert kept[A.GEN_AI_OPERATION_NAME] == "chat"


def test_capture_on_keeps_prompt_text_and_masks_its_sensitive_keys(
    memory: InMemorySpanExporter,
) -> None:
    """With capture on, prompt text is kept, and JSON in it is scrubbed like any payload."""
    provider = TracerProvider()
    provider.add_span_processor(ScrubbingProcessor(Scrubber()))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    secret = json.dumps({"password": "hunter2", "question": "balance?"})
    attributes = {"gen_ai.prompt.0.content": secret, "gen_ai.completion": "it is 42"}
    with provider.get_tracer("llm-instrumentation").start_as_current_span(
        "chat", attributes=attributes
    ):
        pass
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    kept = dict(span.attributes or {})
    assert "hunter2" not in str(kept["gen_ai.prompt.0.content"])
    assert json.loads(str(kept["gen_ai.prompt.0.content"]))["question"] == "balance?"
    assert kept["gen_ai.completion"] == "it is 42"
