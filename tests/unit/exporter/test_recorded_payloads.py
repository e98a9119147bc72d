"""Payload texts the recorder wrote with orjson are embedded by the exporter without being read.

The recorder names them on its finished spans (`RecordedSpan.json_texts`); the translator embeds a
payload attribute *equal* to one of them as it is and reads any other text (orjson's check). These
tests hold each link: what is named, that naming skips the read, and that a payload changed since
(by the application, a processor or a span limit) is read as any other text.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext

from opentelemetry.exporter.tracengent import _span_reads, _translate
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._span_reads import RecordedSpan
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue, loads_exact
from opentelemetry.exporter.tracengent.wire import AgentEvent
from tracengent._processors.context import ContextProcessor
from tracengent._recording import Recorder
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._trace import begin_trace

from .conftest import START_NS

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())
PAYLOAD: dict[str, JsonValue] = {"orderId": "ord_1042", "amount": 42.5}
PAYLOAD_TEXT = '{"orderId":"ord_1042","amount":42.5}'


def sent(span: ReadableSpan) -> tuple[bytes, JsonObject]:
    """The encoded request one span becomes, and its event as the platform reads it."""
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span))])
    assert batch.unserializable == 0
    (request,) = batch.requests
    body = request.json_array()
    events = loads_exact(body)
    assert isinstance(events, list)
    (event,) = events
    assert isinstance(event, dict)
    return body, event


def finished(attrs: dict[str, str], json_texts: tuple[str, ...] = ()) -> RecordedSpan:
    span = RecordedSpan(
        name="refund",
        context=SpanContext(1, 2, is_remote=False),
        attributes={A.EVENT_TYPE: "action", **attrs},
        start_time=START_NS,
        end_time=START_NS,
    )
    span.json_texts = json_texts
    return span


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every payload text the translator reads to check it."""
    read: list[str] = []

    def counting_loads(text: str) -> object:
        read.append(text)
        return orjson.loads(text)

    monkeypatch.setattr(_translate, "_orjson_loads", counting_loads)
    return read


def test_the_recorded_span_class_is_read_through_its_fields() -> None:
    assert _span_reads.fields_match_properties(RecordedSpan)
    assert _span_reads.RECORDED_SPAN is RecordedSpan


def test_a_named_payload_is_embedded_unread_and_an_unnamed_one_is_read(reads: list[str]) -> None:
    named_body, named = sent(
        finished({A.INPUT: PAYLOAD_TEXT, A.OUTPUT: "[1,2]"}, (PAYLOAD_TEXT, "[1,2]"))
    )
    assert reads == []
    plain_body, _ = sent(finished({A.INPUT: PAYLOAD_TEXT, A.OUTPUT: "[1,2]"}))
    assert reads == [PAYLOAD_TEXT, "[1,2]"]
    assert named_body == plain_body
    assert b'"input":' + PAYLOAD_TEXT.encode() + b',"output":[1,2],' in named_body
    assert named["input"] == PAYLOAD


def test_a_payload_changed_since_it_was_named_is_read(reads: list[str]) -> None:
    _, event = sent(finished({A.INPUT: '{"orderId": "ord_1'}, (PAYLOAD_TEXT,)))
    assert reads == ['{"orderId": "ord_1']
    assert event["input"] == '{"orderId": "ord_1'  # not JSON: sent as a string


@BOUNDED
@given(
    value=st.recursive(
        st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
)
def test_what_the_recorder_names_is_sent_as_the_same_text_unnamed(value: JsonValue) -> None:
    text, by_orjson = Scrubber().payload_json(value)
    assert text is not None
    if not by_orjson:
        # Only what orjson refuses (an integer beyond 64 bits, a lone surrogate) is `json`'s.
        with pytest.raises(TypeError):
            orjson.dumps(value)
        return
    assert orjson.dumps(orjson.loads(text)).decode() == text
    named_body, _ = sent(finished({A.INPUT: text}, (text,)))
    plain_body, _ = sent(finished({A.INPUT: text}))
    assert named_body == plain_body


def test_text_orjson_did_not_write_is_not_named() -> None:
    scrubber = Scrubber()
    assert scrubber.payload_json({"n": 2**70}) == ('{"n":1180591620717411303424}', False)
    assert scrubber.payload_json(PAYLOAD) == (PAYLOAD_TEXT, True)
    assert Scrubber(capture_payloads=False).payload_json(PAYLOAD) == (None, False)


class _Pipeline:
    def __init__(self, limits: SpanLimits | None = None) -> None:
        self.provider = TracerProvider(span_limits=limits) if limits else TracerProvider()
        self.memory = InMemorySpanExporter()
        scrubber = Scrubber()
        context = ContextProcessor()
        self.provider.add_span_processor(context)
        self.provider.add_span_processor(ScrubbingProcessor(scrubber))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.recorder = Recorder(self.provider.get_tracer("t"), scrubber, "billing-agent", context)

    def span(self, name: str) -> ReadableSpan:
        (found,) = [s for s in self.memory.get_finished_spans() if s.name == name]
        return found


@pytest.fixture
def pipeline() -> Iterator[_Pipeline]:
    made = _Pipeline()
    yield made
    made.provider.shutdown()


def test_a_recorded_event_names_its_payloads(pipeline: _Pipeline) -> None:
    pipeline.recorder.record(
        AgentEvent(
            name="refund", type="action", input=PAYLOAD, output=[1, 2], attributes={"k": "v"}
        ),
        None,
        (),
    )
    span = pipeline.span("refund")
    assert type(span) is RecordedSpan
    assert span.json_texts == (PAYLOAD_TEXT, "[1,2]", '{"k":"v"}')
    assert sent(span)[1]["input"] == PAYLOAD


def test_a_tracked_call_names_its_input_and_output_and_a_step_its_attributes(
    pipeline: _Pipeline,
) -> None:
    with begin_trace(pipeline.recorder, "refund it") as trace:
        trace.track_action("refund", lambda: {"refundId": "rf_1"}, input=PAYLOAD)
        trace.step("within policy", {"rule": "refunds<100"})
    refund = pipeline.span("refund")
    assert type(refund) is RecordedSpan
    assert refund.json_texts == (PAYLOAD_TEXT, '{"refundId":"rf_1"}')
    step = pipeline.span("within policy")
    assert type(step) is RecordedSpan
    assert step.json_texts == ('{"rule":"refunds<100"}',)


def test_an_input_the_application_replaced_is_read_not_trusted(
    pipeline: _Pipeline, reads: list[str]
) -> None:
    def refund() -> None:
        otel_trace.get_current_span().set_attribute(A.INPUT, '{"broken": ')

    with begin_trace(pipeline.recorder, "refund it") as trace:
        trace.track_action("refund", refund, input=PAYLOAD)
    span = pipeline.span("refund")
    assert type(span) is RecordedSpan
    assert PAYLOAD_TEXT in span.json_texts
    _, event = sent(span)
    assert '{"broken": ' in reads
    assert event["input"] == '{"broken": '


def test_a_payload_a_span_limit_truncated_is_read_and_sent_as_text(reads: list[str]) -> None:
    pipeline = _Pipeline(SpanLimits(max_span_attribute_length=12))
    try:
        pipeline.recorder.record(AgentEvent(name="refund", type="action", input=PAYLOAD), None, ())
        span = pipeline.span("refund")
    finally:
        pipeline.provider.shutdown()
    assert type(span) is not RecordedSpan  # a length limit sends event spans through the SDK
    _, event = sent(span)
    assert reads == ['{"orderId":"']
    assert event["input"] == '{"orderId":"'
