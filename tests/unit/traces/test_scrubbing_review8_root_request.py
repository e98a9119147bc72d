"""Review 8: the decision trace's root request is free text, scrubbed wherever it enters."""

from __future__ import annotations

import json

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import FakePlatform, Harness, make_harness, platform_options
from tracengent import TracengentClient
from tracengent._scrubbing import Scrubber

SECRET_REQUEST = "refund https://bob:hunter2@shop.example/orders?token=abc and password=hunter2"
SCRUBBED_REQUEST = f"refund https://shop.example/orders?token=REDACTED and password={MASK_TOKEN}"
START_NS = 1_795_515_302_123_456_789


def _assert_no_secret(value: object) -> None:
    text = repr(value)
    assert "hunter2" not in text
    assert "token=abc" not in text
    assert "bob:" not in text


def _all_attributes(harness: Harness) -> list[dict[str, AttributeValue]]:
    return [dict(span.attributes or {}) for span in harness.spans()]


@pytest.mark.parametrize("capture_payloads", [True, False])
def test_begin_traces_root_request_is_recorded_scrubbed(capture_payloads: bool) -> None:
    """`begin_trace(root_request)` with a URL's credentials and a `password=` in it: the root
    span and the trace's first event carry it scrubbed for every exporter (with payload capture
    off too: the root request is the trace's title, not a payload), and `AgentTrace.root_request`
    is what was recorded."""
    harness = make_harness(Scrubber(capture_payloads=capture_payloads))
    with harness.begin(SECRET_REQUEST) as trace:
        trace.step("plan")
    assert trace.root_request == SCRUBBED_REQUEST
    root = harness.span(f"invoke_agent {harness.recorder.agent_id}")
    assert (root.attributes or {})[A.TRACE_ROOT_REQUEST] == SCRUBBED_REQUEST
    assert harness.attr("plan", A.TRACE_ROOT_REQUEST) == SCRUBBED_REQUEST
    _assert_no_secret(_all_attributes(harness))


def test_a_root_request_without_credentials_is_recorded_as_written() -> None:
    """Nothing to mask: the root request stays byte for byte."""
    harness = make_harness()
    with harness.begin("refund order 42, see https://shop.example/orders/42") as trace:
        trace.step("plan")
    assert trace.root_request == "refund order 42, see https://shop.example/orders/42"
    assert harness.attr("plan", A.TRACE_ROOT_REQUEST) == trace.root_request


def test_an_agent_events_root_request_is_recorded_scrubbed() -> None:
    """An `AgentEvent(root_request=...)` the agent records itself (0.1.0's way) carries it
    scrubbed, inside a trace and outside one."""
    harness = make_harness()
    harness.recorder.record(
        AgentEvent(name="alone", type="decision", root_request=SECRET_REQUEST), None, ()
    )
    with harness.begin("refund") as trace:
        trace.record(AgentEvent(name="inside", type="decision", root_request=SECRET_REQUEST))
    assert harness.attr("alone", A.TRACE_ROOT_REQUEST) == SCRUBBED_REQUEST
    assert harness.attr("inside", A.TRACE_ROOT_REQUEST) == SCRUBBED_REQUEST
    _assert_no_secret(_all_attributes(harness))


@pytest.mark.parametrize(
    "root_attributes",
    [
        {A.TRACE_ROOT_REQUEST: SECRET_REQUEST},
        {
            A.GEN_AI_INPUT_MESSAGES: json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": SECRET_REQUEST}]}]
            )
        },
    ],
    ids=["explicit", "from-input-messages"],
)
def test_a_third_party_roots_request_is_scrubbed_for_every_exporter(
    root_attributes: dict[str, AttributeValue],
) -> None:
    """An agent framework's `invoke_agent` root (zero code) started with the root request, or
    with GenAI input messages it is taken from: the root span's `tracengent.trace.root_request`
    reaches the user's exporter scrubbed, and so does the framework's first event under it."""
    harness = make_harness()
    tracer = harness.provider.get_tracer("some.agent.framework")
    attributes: dict[str, AttributeValue] = {
        A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
        A.GEN_AI_AGENT_ID: "framework-agent",
        **root_attributes,
    }
    with (
        tracer.start_as_current_span("invoke_agent framework", attributes=attributes),
        tracer.start_as_current_span(
            "execute_tool lookup",
            attributes={A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "lookup"},
        ),
    ):
        pass
    assert harness.attr("invoke_agent framework", A.TRACE_ROOT_REQUEST) == SCRUBBED_REQUEST
    assert harness.attr("execute_tool lookup", A.TRACE_ROOT_REQUEST) == SCRUBBED_REQUEST
    for attributes_seen in _all_attributes(harness):
        _assert_no_secret(attributes_seen.get(A.TRACE_ROOT_REQUEST))


def _root_and_event(root_request: str) -> tuple[ReadableSpan, ReadableSpan]:
    """An `invoke_agent` root and its first event as another exporter's pipeline left them:
    the root request as written, unscrubbed."""
    root = ReadableSpan(
        name="invoke_agent framework",
        context=SpanContext(0xABC, 0xDEF, is_remote=False),
        kind=SpanKind.INTERNAL,
        attributes={
            A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
            A.TRACE_ROOT_REQUEST: root_request,
            A.TRACE_ID: "trc_1",
        },
        start_time=START_NS,
        end_time=START_NS + 2_000_000,
        status=Status(StatusCode.UNSET),
    )
    event = ReadableSpan(
        name="plan",
        context=SpanContext(0xABC, 0x123, is_remote=False),
        kind=SpanKind.INTERNAL,
        attributes={
            A.EVENT_TYPE: "decision",
            A.TRACE_ID: "trc_1",
            A.TRACE_ROOT_REQUEST: root_request,
        },
        start_time=START_NS,
        end_time=START_NS + 1_000_000,
        status=Status(StatusCode.UNSET),
    )
    return root, event


@pytest.mark.parametrize("capture_payloads", [True, False])
def test_the_exporter_scrubs_the_root_request_it_sends(capture_payloads: bool) -> None:
    """A root request that reached the exporter unscrubbed (stamped by a pipeline the scrubbing
    processor did not see): the event's and the trace close's `rootRequest` are scrubbed by the
    scrubber set as the exporter's payload filter, and kept with payload capture off."""
    scrubber = Scrubber(capture_payloads=capture_payloads)
    settings = TranslationSettings(
        agent_id="a",
        environment="e",
        default_tags=(),
        capture_payloads=capture_payloads,
        payload_filter=scrubber.exported_payload,
    )
    root, event = _root_and_event(SECRET_REQUEST)
    translator = SpanTranslator(settings)
    batch = translator.translate([(event, A.attributes_of(event)), (root, A.attributes_of(root))])
    (request,) = batch.requests
    (sent,) = json.loads(request.json_array())
    (close,) = batch.closes
    assert sent["rootRequest"] == SCRUBBED_REQUEST
    assert close["rootRequest"] == SCRUBBED_REQUEST
    alone = translator.event(event, A.attributes_of(event))
    assert alone is not None
    assert alone["rootRequest"] == SCRUBBED_REQUEST


def test_exported_payload_scrubs_a_root_request_as_free_text() -> None:
    """`Scrubber.exported_payload` given the root request: free text scrubbing, whatever the
    capture setting; scrubbing it twice changes nothing; a configured glob naming the attribute
    masks it whole."""
    scrubber = Scrubber(capture_payloads=False)
    once = scrubber.exported_payload(A.TRACE_ROOT_REQUEST, SECRET_REQUEST)
    assert once == SCRUBBED_REQUEST
    assert scrubber.exported_payload(A.TRACE_ROOT_REQUEST, SCRUBBED_REQUEST) == SCRUBBED_REQUEST
    masking = Scrubber(patterns=["*root_request*"])
    assert masking.exported_payload(A.TRACE_ROOT_REQUEST, "refund") == MASK_TOKEN


@pytest.mark.parametrize(
    "root_attributes",
    [
        {A.TRACE_ROOT_REQUEST: SECRET_REQUEST},
        {
            A.GEN_AI_INPUT_MESSAGES: json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": SECRET_REQUEST}]}]
            )
        },
    ],
    ids=["explicit", "from-input-messages"],
)
def test_a_framework_roots_first_event_recorded_by_tracengent_carries_it_scrubbed(
    sdk_global_provider: TracerProvider, root_attributes: dict[str, AttributeValue]
) -> None:
    """A client alongside the application's pipeline, and an agent framework's `invoke_agent`
    root holding a secret in its request: the trace's first event is a `@client.tool` call,
    a span Tracengent records (the scrubbing processor does not look at it again), and it
    reaches the application's own exporter with the root request scrubbed."""
    mine = InMemorySpanExporter()
    sdk_global_provider.add_span_processor(SimpleSpanProcessor(mine))
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(FakePlatform([])))
    try:

        @client.tool("lookup")
        def lookup() -> str:
            return "found"

        tracer = sdk_global_provider.get_tracer("some.agent.framework")
        root = {A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, **root_attributes}
        with tracer.start_as_current_span("invoke_agent framework", attributes=root):
            lookup()
    finally:
        client.close()
    (event,) = [span for span in mine.get_finished_spans() if span.name == "lookup"]
    assert (event.attributes or {})[A.TRACE_ROOT_REQUEST] == SCRUBBED_REQUEST
    for span in mine.get_finished_spans():
        _assert_no_secret((span.attributes or {}).get(A.TRACE_ROOT_REQUEST))
