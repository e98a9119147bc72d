"""The translator's shortcuts send the bytes the plain rules send.

Each shortcut of the batch translator (payloads decoded by orjson without the digit scan, the
inlined timestamp, the cached event id prefix, the fused classification, the single request of a
small batch) is checked here against the plain rule it stands for.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import (
    EVENT,
    Attributes,
    classify,
    classify_for_export,
)
from opentelemetry.exporter.tracengent._payloads import (
    NonFiniteNumberError,
    any_long_digit_run,
    decode_payload,
)
from opentelemetry.exporter.tracengent._translate import (
    SpanTranslator,
    TimestampFormatter,
    TranslationSettings,
    encode_event,
    span_to_event,
)
from opentelemetry.exporter.tracengent.exporter import MAX_BODY_BYTES, TracengentSpanExporter
from opentelemetry.exporter.tracengent.ids import event_id_for
from opentelemetry.exporter.tracengent.jsonvalue import (
    EncodedBatch,
    JsonObject,
    JsonValue,
    dumps_compact,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import AgentEvent, format_timestamp

from .conftest import START_NS, FakePlatform, SpanMaker

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())
OCCURRED = "2026-11-24T10:15:02.123456+00:00"

TRICKY_TEXTS = [
    '{"a": 1, "b" : [1, 2.5, "x"]}',
    '{"a":1,"a":2}',
    "-0",
    "-0.0",
    "0e0",
    "1e16",
    "1E-7",
    "1e-400",
    "[1e-7, 5e-324, 1.7976931348623157e308]",
    '{"f":1.0,"g":100.0,"h":1e22}',
    "123456789012345678",
    '{"u":"\\u00e9\\ud83d\\ude00","t":"\\t\\n\\u0000\\/"}',
    '{"k":"١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠"}',
    '"\\ud800"',
    "null",
    "true",
    " [ ] ",
    "not json",
    "",
    "NaN",
    '{"v": Infinity}',
    "1E400",
    "[" * 300 + "]" * 300,
]


def same_json(left: JsonValue, right: JsonValue) -> bool:
    """Equal values of equal types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    return dumps_compact(left) == dumps_compact(right)


def decoded_both_ways(text: str) -> tuple[JsonValue | Exception, JsonValue | Exception]:
    """`(decode_payload with a list, without one = json_or_raw)`: each a value or the error."""
    results: list[JsonValue | Exception] = []
    routings: tuple[list[str] | None, ...] = ([], None)
    for decoded_texts in routings:
        try:
            results.append(decode_payload(text, decoded_texts))
        except (NonFiniteNumberError, RecursionError) as exc:
            results.append(exc)
    return results[0], results[1]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_orjson_without_the_digit_scan_decodes_like_the_exact_routing(text: str) -> None:
    """Text without a 19-digit run decodes to the same value (or error) on both routings."""
    assert not any_long_digit_run([text])
    fast, exact = decoded_both_ways(text)
    if isinstance(exact, Exception):
        assert type(fast) is type(exact)
    else:
        assert not isinstance(fast, Exception)
        assert same_json(fast, exact)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_documents = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@BOUNDED
@given(document=json_documents, indent=st.sampled_from([None, 1]), ascii_only=st.booleans())
def test_any_json_text_without_a_long_run_decodes_alike(
    document: JsonValue, indent: int | None, ascii_only: bool
) -> None:
    """JSON written by the standard library (spaced or not, escaped or not) decodes alike."""
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    fast, exact = decoded_both_ways(text)
    if any_long_digit_run([text]):
        return  # the translator takes the exact routing for such text
    assert not isinstance(fast, Exception)
    assert not isinstance(exact, Exception)
    assert same_json(fast, exact)


@pytest.mark.parametrize(
    ("texts", "found"),
    [
        ([], False),
        (['{"n":1234567890123456789}'], True),
        (['{"n":123456789012345678}'], False),
        (["1234567890", "123456789"], False),
        (['"ord_12345678901234567890"'], True),
        (["١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠"], False),
        (["\ud800" + "9" * 19], True),
    ],
)
def test_the_digit_scan_finds_ascii_runs_of_nineteen(texts: list[str], found: bool) -> None:
    """Runs of 19+ ASCII digits are found, never across two texts; lone surrogates are fine."""
    assert any_long_digit_run(texts) is found


def action(make_span: SpanMaker, name: str, payload: str) -> ReadableSpan:
    """An action span whose input is `payload`."""
    return make_span(name, {A.EVENT_TYPE: "action", A.INPUT: payload})


def expected_event(span: ReadableSpan, payload: JsonValue) -> JsonObject:
    """The wire event of an `action` span from the wire model itself."""
    assert span.context is not None
    return AgentEvent(
        name=span.name,
        type="action",
        event_id=event_id_for(span.context.trace_id, span.context.span_id),
        agent_id="billing-agent",
        input=payload,
        occurred_at=OCCURRED,
        duration_ms=1.5,
        tags=["staging"],
    ).to_wire()


def test_a_batch_holding_a_long_digit_run_sends_what_the_exact_routing_sends(
    make_span: SpanMaker,
) -> None:
    """An integer beyond 64 bits is sent exactly (json writes that event), its batch-mates by orjson."""
    big = 123456789012345678901234567890
    plain = action(make_span, "plain", '{"f": 1e-7}')
    huge = action(make_span, "huge", f'{{"n": {big}, "f": 1e-7}}')
    in_text = action(make_span, "in-text", '{"id": "ord_12345678901234567890", "f": 1e-7}')
    u64 = action(make_span, "u64", '{"n": 18446744073709551616}')
    spans = [plain, huge, in_text, u64]
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])
    assert batch.encodings == [
        orjson.dumps(expected_event(plain, {"f": 1e-7})),
        dumps_compact(expected_event(huge, {"n": big, "f": 1e-7})).encode(),
        orjson.dumps(expected_event(in_text, {"id": "ord_12345678901234567890", "f": 1e-7})),
        dumps_compact(expected_event(u64, {"n": 2**64})).encode(),
    ]
    assert b'"f":1e-7' in batch.encodings[0]
    assert b'"f":1e-07' in batch.encodings[1]


event_texts = st.sampled_from(TRICKY_TEXTS) | json_documents.map(json.dumps)
payload_values: st.SearchStrategy[AttributeValue] = (
    event_texts
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.tuples(st.text(max_size=3), st.floats(allow_nan=True))
)


@BOUNDED
@given(payloads=st.lists(st.tuples(payload_values, payload_values), min_size=1, max_size=6))
def test_a_translated_batch_equals_the_exact_routing(
    payloads: list[tuple[AttributeValue, AttributeValue]],
) -> None:
    """Whatever the payloads, the batch's bytes and counts equal those of the exact routing."""
    spans = [
        ReadableSpan(
            name=f"s{index}",
            context=SpanContext(0xABC, index + 1, is_remote=False),
            attributes={A.EVENT_TYPE: "action", A.INPUT: first, A.OUTPUT: second},
            start_time=START_NS,
            end_time=START_NS + 1_500_000,
        )
        for index, (first, second) in enumerate(payloads)
    ]
    entries = [(span, A.attributes_of(span)) for span in spans]
    translator = SpanTranslator(SETTINGS)
    fast = translator.translate(entries)
    exact = translator._translate(entries, None, None)
    assert fast.encodings == exact.encodings
    assert fast.unserializable == exact.unserializable
    assert fast.internal_errors == exact.internal_errors == []


@pytest.mark.parametrize(
    "start_ns",
    [
        START_NS,
        START_NS - START_NS % 1_000_000_000,
        START_NS - START_NS % 1_000_000_000 + 999_999_999,
        1_000_000_000,
        999_999_999,
        5_000,
    ],
)
def test_the_inlined_timestamp_is_format_timestamp(make_span: SpanMaker, start_ns: int) -> None:
    """occurredAt is `format_timestamp`'s text, whether its second was cached or not."""
    moment = datetime.fromtimestamp(start_ns // 1_000_000_000, timezone.utc).replace(
        microsecond=start_ns % 1_000_000_000 // 1000
    )
    formatter = TimestampFormatter()
    span = make_span("a", {A.EVENT_TYPE: "action"}, start_ns=start_ns)
    for _ in range(2):  # the first fills the cache, the second reads it
        event = span_to_event(span, A.attributes_of(span), SETTINGS, format_time=formatter)
        assert event is not None
        assert event["occurredAt"] == format_timestamp(moment)


@pytest.mark.parametrize("nanos", [0, 1_000, 999_999_999])
def test_the_formatter_crosses_seconds(nanos: int) -> None:
    """Consecutive seconds, each formatted from the cache after the first call."""
    formatter = TimestampFormatter()
    second = START_NS // 1_000_000_000
    for offset in (0, 0, 1, 1, 0):
        moment = datetime.fromtimestamp(second + offset, timezone.utc)
        expected = format_timestamp(moment.replace(microsecond=nanos // 1000))
        assert formatter((second + offset) * 1_000_000_000 + nanos) == expected


def test_event_ids_equal_event_id_for_across_traces() -> None:
    """The cached trace prefix follows trace changes; ids beyond 64 bits take the plain rule."""
    ids = [(1, 1), (1, 2**64 - 1), (2**128 - 1, 7), (1, 0), (5, 2**64), (5, 2**70 + 3), (1, 9)]
    translator = SpanTranslator(SETTINGS)
    for trace_id, span_id in ids:
        span = ReadableSpan(
            name="a",
            context=SpanContext(trace_id, span_id, is_remote=False),
            attributes={A.EVENT_TYPE: "action"},
            start_time=START_NS,
            end_time=START_NS,
        )
        event = translator.event(span, A.attributes_of(span))
        assert event is not None
        assert event["eventId"] == event_id_for(trace_id, span_id)


CLASSIFYING_KEYS: dict[str, list[AttributeValue]] = {
    A.GOVERNANCE_KIND: ["authorize"],
    A.GEN_AI_OPERATION_NAME: ["invoke_agent", "chat", "execute_tool", "embeddings", 3],
    A.EVENT_TYPE: ["action", "", 5],
    A.HTTP_REQUEST_METHOD: ["GET"],
    A.HTTP_METHOD_OLD: ["POST"],
    A.TRACE_ID: ["trc_x"],
    A.TRACKED: [True, False, "true"],
}


@BOUNDED
@given(
    chosen=st.fixed_dictionaries(
        {},
        optional={key: st.sampled_from(values) for key, values in CLASSIFYING_KEYS.items()},
    ),
    kind=st.sampled_from(list(SpanKind)),
)
def test_the_exporters_classification_is_classify(
    chosen: dict[str, AttributeValue], kind: SpanKind
) -> None:
    """`classify_for_export` returns `classify`'s kind, and an event type only for events."""
    attrs: Attributes = dict(chosen)
    found, event_type, is_http = classify_for_export(attrs, kind)
    assert found == classify(attrs, kind)
    if found != EVENT:
        assert (event_type, is_http) == ("", False)
        return
    assert is_http == (
        kind is SpanKind.CLIENT and (A.HTTP_REQUEST_METHOD in attrs or A.HTTP_METHOD_OLD in attrs)
    )
    if isinstance(attrs.get(A.EVENT_TYPE), str):
        assert event_type == attrs[A.EVENT_TYPE]
    elif attrs.get(A.GEN_AI_OPERATION_NAME) == "chat":
        assert event_type == "llm_call"
    else:
        assert event_type == "tool_call"


@pytest.mark.parametrize("extra_bytes", [0, 1])
def test_one_request_holds_a_batch_up_to_the_body_limit(
    make_span: SpanMaker, platform: FakePlatform, extra_bytes: int
) -> None:
    """Events whose JSON array is exactly 1 MiB go in one request; one byte more makes two."""
    options = TracengentOptions(agent_id="billing-agent", ingest_key="agk_test")
    probe = [action(make_span, f"a{i}", '""') for i in range(2)]
    exporter = TracengentSpanExporter(options, platform=platform)
    sizes = [
        len(encode_event(event))
        for event in exporter._translator.translate(
            [(span, A.attributes_of(span)) for span in probe]
        ).events
    ]
    # Two events, a comma and two brackets; the payload's quotes are already counted.
    padding = (MAX_BODY_BYTES - sum(sizes) - 3) // 2
    odd = (MAX_BODY_BYTES - sum(sizes) - 3) % 2
    spans = [
        action(make_span, "a0", '"' + "x" * (padding + odd + extra_bytes) + '"'),
        action(make_span, "a1", '"' + "x" * padding + '"'),
    ]
    exporter.export(spans)
    assert [len(batch) for batch in platform.event_batches] == ([2] if extra_bytes == 0 else [1, 1])


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_the_json_array_is_the_encodings_joined(count: int) -> None:
    """`[` + the encodings joined by commas + `]`, for any number of items."""
    events: list[JsonObject] = [{"i": index} for index in range(count)]
    encoded = [orjson.dumps(event) for event in events]
    array = EncodedBatch(events, encoded).json_array()
    assert array == b"[" + b",".join(encoded) + b"]"
    assert json.loads(array) == events
    assert encoded == [orjson.dumps(event) for event in events]  # the caller's list is untouched


def test_a_nan_duration_is_refused_even_with_rare_attributes(make_span: SpanMaker) -> None:
    """An explicit NaN duration (a rare attribute) still makes the event unsendable."""
    span = make_span("a", {A.EVENT_TYPE: "action", A.EVENT_DURATION_MS: math.nan})
    with pytest.raises(NonFiniteNumberError):
        span_to_event(span, A.attributes_of(span), SETTINGS, format_time=TimestampFormatter())
