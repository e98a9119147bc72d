"""A payload text nested deeper than a JSON reader goes (a run of brackets, a cut-off document)
costs its event nothing: it is sent as a JSON string, as any other text that is not JSON the
exporter can read, and its batch-mates go with it."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from opentelemetry.exporter.tracengent import _payloads
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._payloads import MAX_PAYLOAD_DEPTH, deeper_than, strict_json
from opentelemetry.exporter.tracengent._translate import (
    SpanTranslator,
    TimestampFormatter,
    TranslationSettings,
    span_to_event,
)
from tests.support.deep_json import deep_reading_decoder

from .conftest import START_NS

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())

NOT_JSON_DEEP = "[" * 5000
"""Not JSON (never closed): deeper than the standard decoder can read before it says so."""
JSON_DEEP = "[" * 5000 + "]" * 5000
"""JSON, deeper than orjson (1024 levels) or the standard decoder read."""
DEEP_WITH_LONG_NUMBER = "[" * 5000 + "12345678901234567890"
"""Not JSON, with a number of 19+ digits: read by the standard decoder first."""


def event_span(payload_key: str, payload: str, *, span_id: int) -> ReadableSpan:
    return ReadableSpan(
        name=f"step-{span_id}",
        context=SpanContext(0xABC, span_id, is_remote=False),
        kind=SpanKind.INTERNAL,
        attributes={A.EVENT_TYPE: "action", payload_key: payload},
        start_time=START_NS,
        end_time=START_NS + 1_000_000,
        status=Status(StatusCode.UNSET),
    )


@pytest.mark.parametrize("text", [NOT_JSON_DEEP, JSON_DEEP, DEEP_WITH_LONG_NUMBER])
@pytest.mark.parametrize("key", [A.INPUT, A.OUTPUT, A.ATTRIBUTES])
def test_a_deep_payload_text_is_sent_as_a_string_with_its_batch_mates(key: str, text: str) -> None:
    spans = [
        event_span(key, text, span_id=1),
        event_span(A.INPUT, '{"ok": true}', span_id=2),
    ]
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])

    assert batch.unserializable == 0
    assert batch.internal_errors == []
    events = [event for request in batch.requests for event in json.loads(request.json_array())]
    assert [event["name"] for event in events] == ["step-1", "step-2"]
    wire_key = {A.INPUT: "input", A.OUTPUT: "output", A.ATTRIBUTES: "attributes"}[key]
    assert events[0][wire_key] == text
    assert events[1]["input"] == {"ok": True}


@pytest.mark.parametrize("text", [NOT_JSON_DEEP, JSON_DEEP, DEEP_WITH_LONG_NUMBER])
def test_a_deep_payload_text_is_a_string_in_the_single_event_translation(text: str) -> None:
    span = event_span(A.OUTPUT, text, span_id=3)

    event = span_to_event(span, A.attributes_of(span), SETTINGS, format_time=TimestampFormatter())

    assert event is not None
    assert event["output"] == text


def test_a_deep_tool_result_is_sent_as_a_string() -> None:
    span = ReadableSpan(
        name="execute_tool lookup",
        context=SpanContext(0xABC, 4, is_remote=False),
        kind=SpanKind.INTERNAL,
        attributes={
            A.GEN_AI_OPERATION_NAME: A.OPERATION_EXECUTE_TOOL,
            A.GEN_AI_TOOL_NAME: "lookup",
            A.GEN_AI_TOOL_CALL_RESULT: NOT_JSON_DEEP,
        },
        start_time=START_NS,
        end_time=START_NS + 1_000_000,
        status=Status(StatusCode.UNSET),
    )
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span))])

    assert batch.unserializable == 0
    (event,) = json.loads(batch.requests[0].json_array())
    assert event["name"] == "lookup"
    assert event["output"] == NOT_JSON_DEEP


def test_the_depth_bound_holds_whatever_the_decoder_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A standard decoder that reads 2000 levels (Python 3.13's does) still leaves
    deeper-than-orjson text as text: the Python version must not decide what goes on the wire,
    nor make the platform read a body 2000 levels deep."""
    deep = "[" * 2000 + "]" * 2000
    with deep_reading_decoder() as decoder:
        assert decoder.decode(deep) is not None  # the precondition: this decoder reads it
        monkeypatch.setattr(_payloads, "_STRICT_DECODER", decoder)
        assert strict_json(deep) == deep
        exactly = "[" * MAX_PAYLOAD_DEPTH + "]" * MAX_PAYLOAD_DEPTH
        assert strict_json(exactly) != exactly  # as deep as orjson reads: JSON, as orjson would
        spans = [event_span(A.INPUT, deep, span_id=1), event_span(A.INPUT, '{"ok": 1}', span_id=2)]
        translator = SpanTranslator(SETTINGS)
        batch = translator.translate([(span, A.attributes_of(span)) for span in spans])
    requests = [json.loads(request.json_array()) for request in batch.requests]
    first, second = (event for events in requests for event in events)
    assert first["input"] == deep
    assert second["input"] == {"ok": 1}


@pytest.mark.parametrize(
    ("value", "deeper"),
    [
        (1, False),
        ([], False),
        ([[1]], False),
        ([[[1]]], True),
        ({"a": {"b": [1]}}, True),
        ({"a": [], "b": {"c": 1}}, False),
    ],
)
def test_deeper_than_counts_lists_and_objects(value: object, deeper: bool) -> None:
    assert deeper_than(value, 2) is deeper  # type: ignore[arg-type]
