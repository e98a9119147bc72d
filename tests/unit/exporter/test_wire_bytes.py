"""The translator's shortcuts send what the plain rules send.

Each shortcut of the batch translator (payload text embedded as it is instead of decoded and
re-encoded, the inlined timestamp, the cached event id prefix, the fused classification, one
encoding per request) is checked here against the plain rule it stands for: the platform reads
the same document.
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
    compact_json_text,
    json_or_raw,
)
from opentelemetry.exporter.tracengent._stats import DropReason
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
    has_long_digit_run,
    json_array,
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


def embedded_and_exact(text: str) -> tuple[JsonValue | Exception, JsonValue | Exception]:
    """`(what the platform reads of the payload the exporter's path sent, json_or_raw's value)`,
    each a value or the error. A payload embedded as text must be that very text, compacted."""
    results: list[JsonValue | Exception] = []
    span = ReadableSpan(
        name="a",
        context=SpanContext(1, 2, is_remote=False),
        attributes={A.EVENT_TYPE: "action", A.INPUT: text},
        start_time=START_NS,
        end_time=START_NS,
    )
    try:
        # The batch path (`translate`), one span, with its failure raised instead of counted.
        events, _ = SpanTranslator(SETTINGS)._events(
            [(span, A.attributes_of(span))], None, embed=True
        )
        body = encode_event(events[0])
        try:
            embeds = orjson.loads(text) is not None
        except orjson.JSONDecodeError:
            embeds = False
        if embeds:
            assert b'"input":' + compact_json_text(text).encode() + b',"occurredAt"' in body
        decoded = json.loads(body)
        assert isinstance(decoded, dict)
        results.append(decoded.get("input"))
    except (NonFiniteNumberError, RecursionError, UnicodeEncodeError) as exc:
        results.append(exc)
    try:
        exact = json_or_raw(text)
        dumps_compact(exact).encode()  # sendable: a decoded lone surrogate is not
        results.append(exact)
    except (NonFiniteNumberError, RecursionError, UnicodeEncodeError) as exc:
        results.append(exc)
    return results[0], results[1]


def assert_read_alike(text: str) -> None:
    """The platform reads the embedded payload as `json_or_raw` decodes it (or both refuse)."""
    embedded, exact = embedded_and_exact(text)
    if isinstance(exact, Exception):
        assert type(embedded) is type(exact)
    else:
        assert not isinstance(embedded, Exception)
        assert same_json(embedded, exact)


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_an_embedded_payload_is_read_as_the_exact_routing_decodes_it(text: str) -> None:
    """Spaced, escaped, duplicate-key, huge and refused texts: the same value, or the same error."""
    assert_read_alike(text)


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
def test_any_json_text_is_read_as_the_exact_routing_decodes_it(
    document: JsonValue, indent: int | None, ascii_only: bool
) -> None:
    """JSON written by the standard library (spaced or not, escaped or not, any integer)."""
    assert_read_alike(json.dumps(document, indent=indent, ensure_ascii=ascii_only))


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("", False),
        ('{"n":1234567890123456789}', True),
        ('{"n":123456789012345678}', False),
        ("1234567890,123456789", False),
        ('"ord_12345678901234567890"', True),
        ("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠", False),
    ],
)
def test_the_digit_scan_finds_ascii_runs_of_nineteen(text: str, found: bool) -> None:
    """`loads_exact`'s test for text orjson may read inexactly: runs of 19+ ASCII digits."""
    assert has_long_digit_run(text.encode()) is found


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


def sent(batch_requests: list[EncodedBatch]) -> list[JsonValue]:
    """The events the requests carry, as the platform's standard decoder reads them."""
    events: list[JsonValue] = []
    for request in batch_requests:
        decoded = json.loads(request.json_array())
        assert isinstance(decoded, list)
        assert len(decoded) == len(request)
        events.extend(decoded)
    return events


def test_payload_text_is_sent_as_written(make_span: SpanMaker) -> None:
    """An integer beyond 64 bits stays exact and a number keeps its spelling: the text is not
    decoded and re-encoded, only the whitespace between its tokens is dropped."""
    big = 123456789012345678901234567890
    texts = ['{"f": 1e-7}', f'{{"n": {big}, "f": 1E-7}}', '{"n":18446744073709551616}']
    spans = [action(make_span, f"a{index}", text) for index, text in enumerate(texts)]
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])
    (request,) = batch.requests
    array = request.json_array()
    for text in texts:
        assert b'"input":' + text.replace(" ", "").encode() + b"," in array
    assert sent(batch.requests) == [
        expected_event(spans[0], {"f": 1e-7}),
        expected_event(spans[1], {"n": big, "f": 1e-7}),
        expected_event(spans[2], {"n": 2**64}),
    ]
    assert batch.unserializable == 0


def test_an_event_orjson_cannot_encode_goes_alone_by_the_standard_library(
    make_span: SpanMaker,
) -> None:
    """A cost beyond 64 bits (outside any payload): that event is written by `json`, with its
    payload decoded; its batch-mates are unchanged, and an actor id UTF-8 cannot encode (a lone
    surrogate) is mended to U+FFFD rather than costing its event."""
    huge = 2**70
    plain = action(make_span, "plain", '{"a": [1, 2]}')
    costly = make_span(
        "costly", {A.EVENT_TYPE: "action", A.INPUT: '{"b": 1E-7}', A.COST_AMOUNT: huge}
    )
    lone = make_span("lone", {A.EVENT_TYPE: "action", A.INPUT: '"ok"', A.ACTOR_USER_ID: "\ud800"})
    batch = SpanTranslator(SETTINGS).translate(
        [(span, A.attributes_of(span)) for span in (plain, costly, lone)]
    )
    assert batch.unserializable == 0
    assert batch.internal_errors == []
    events = sent(batch.requests)
    names = [event["name"] for event in events if isinstance(event, dict)]
    assert names == ["plain", "costly", "lone"]
    assert events[0] == expected_event(plain, {"a": [1, 2]})
    costly_event = events[1]
    assert isinstance(costly_event, dict)
    assert costly_event["cost"] == {"amount": huge, "currency": "USD"}
    assert costly_event["input"] == {"b": 1e-7}
    lone_event = events[2]
    assert isinstance(lone_event, dict)
    assert lone_event["actor"] == {"userId": "\ufffd"}
    assert lone_event["input"] == "ok"


@pytest.mark.parametrize(("max_batch_size", "sizes"), [(100, [5]), (2, [2, 2, 1]), (1, [1] * 5)])
def test_requests_hold_at_most_the_batch_size(
    make_span: SpanMaker, max_batch_size: int, sizes: list[int]
) -> None:
    """Requests of `max_batch_size` events, in order; each array's items read lazily."""
    spans = [action(make_span, f"a{index}", f'{{"i": {index}}}') for index in range(5)]
    batch = SpanTranslator(SETTINGS).translate(
        [(span, A.attributes_of(span)) for span in spans], max_batch_size=max_batch_size
    )
    assert [len(request) for request in batch.requests] == sizes
    assert sum(map(len, batch.requests)) == 5
    assert [event["input"] for request in batch.requests for event in request] == [
        {"i": index} for index in range(5)
    ]


def test_an_array_above_the_body_limit_is_split_by_size(make_span: SpanMaker) -> None:
    """Above `max_body_bytes` the events are packed one by one; one larger than the limit goes
    alone."""
    spans = [action(make_span, f"a{index}", '"' + "x" * 300 + '"') for index in range(4)]
    spans.insert(2, action(make_span, "big", '"' + "y" * 2000 + '"'))
    batch = SpanTranslator(SETTINGS).translate(
        [(span, A.attributes_of(span)) for span in spans], max_body_bytes=1200
    )
    arrays = [request.json_array() for request in batch.requests]
    assert [len(request) for request in batch.requests] == [2, 1, 2]
    assert all(len(array) <= 1200 for index, array in enumerate(arrays) if index != 1)
    names = [event["name"] for request in batch.requests for event in request]
    assert names == ["a0", "a1", "big", "a2", "a3"]


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
    """Whatever the payloads, the platform reads the events the plain rules make (each span's
    `span_to_event`, encoded alone), and the same events are refused."""
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
    fast = translator.translate(entries, max_batch_size=4)
    exact: list[JsonValue] = []
    refused = 0
    for span, attrs in entries:
        try:
            event = translator.event(span, attrs)
            assert event is not None
            exact.append(json.loads(encode_event(event)))
        except (ValueError, TypeError, RecursionError):
            refused += 1
    assert same_json(sent(fast.requests), exact)
    assert fast.unserializable == refused
    assert fast.internal_errors == []


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
    A.GEN_AI_OPERATION_NAME: [
        "invoke_agent",
        "chat",
        "embeddings",
        "execute_tool",
        "create_agent",
        3,
    ],
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
    operation = attrs.get(A.GEN_AI_OPERATION_NAME)
    if isinstance(attrs.get(A.EVENT_TYPE), str):
        assert event_type == attrs[A.EVENT_TYPE]
    elif operation in ("chat", "embeddings"):
        assert event_type == "llm_call"
    elif operation == "execute_tool" or (
        is_http and (A.TRACE_ID in attrs or attrs.get(A.TRACKED) is True)
    ):
        assert event_type == "tool_call"
    else:
        # A type set but not text, on a span that is no other event: "" (the translator
        # refuses it and counts it).
        assert event_type == ""
        assert A.EVENT_TYPE in attrs


@pytest.mark.parametrize("extra_bytes", [0, 1])
def test_one_request_holds_a_batch_up_to_the_body_limit(
    make_span: SpanMaker, platform: FakePlatform, extra_bytes: int
) -> None:
    """Events whose JSON array is exactly 1 MiB go in one request; one byte more makes two."""
    options = TracengentOptions(agent_id="billing-agent", ingest_key="agk_test")
    probe = [action(make_span, f"a{i}", '""') for i in range(2)]
    exporter = TracengentSpanExporter(options, platform=platform)
    sizes = [
        len(
            exporter._translator.translate([(span, A.attributes_of(span))]).requests[0].json_array()
        )
        - 2
        for span in probe
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
    array = json_array(encoded)
    assert array == b"[" + b",".join(encoded) + b"]"
    assert json.loads(array) == events
    assert encoded == [orjson.dumps(event) for event in events]  # the caller's list is untouched
    # Known by its array alone, a batch reads its items from it (exactly, big integers too).
    known = EncodedBatch(array, count)
    assert (len(known), list(known), known.json_array()) == (count, events, array)
    assert list(EncodedBatch(b'[{"n":123456789012345678901}]', 1)) == [{"n": 123456789012345678901}]


def test_an_array_that_does_not_hold_its_objects_is_refused_when_read() -> None:
    """A count that does not match, or items that are not objects: a clear error on reading."""
    for array, count in ((b"[{}]", 2), (b"[1]", 1), (b"{}", 1)):
        batch = EncodedBatch(array, count)
        assert len(batch) == count
        with pytest.raises(ValueError, match="array"):
            batch[0]


def test_a_nan_duration_is_refused_even_with_rare_attributes(make_span: SpanMaker) -> None:
    """An explicit NaN duration (a rare attribute) still makes the event unsendable."""
    span = make_span("a", {A.EVENT_TYPE: "action", A.EVENT_DURATION_MS: math.nan})
    with pytest.raises(NonFiniteNumberError):
        span_to_event(span, A.attributes_of(span), SETTINGS, format_time=TimestampFormatter())


def test_the_platform_reads_each_kind_of_payload_as_documented(
    make_span: SpanMaker, platform: FakePlatform
) -> None:
    """Through `export`: JSON as written, `null` as no payload, other text as a string, and an
    event whose payload holds NaN dropped alone and counted."""
    options = TracengentOptions(agent_id="billing-agent", ingest_key="agk_test")
    exporter = TracengentSpanExporter(options, platform=platform)
    payloads = {
        "spaced": '{ "n": 123456789012345678901234567890 }',
        "null": "null",
        "text": "refund issued",
        "nan": '{"x": NaN}',
    }
    exporter.export([action(make_span, name, text) for name, text in payloads.items()])
    (batch,) = platform.event_batches
    inputs = {event["name"]: event.get("input", "<absent>") for event in batch}
    assert inputs == {
        "spaced": {"n": 123456789012345678901234567890},
        "null": "<absent>",
        "text": "refund issued",
    }
    assert exporter.stats.dropped_count == exporter.stats.dropped(DropReason.UNSERIALIZABLE) == 1
    assert exporter.stats.delivered == 3


def test_each_event_handed_out_has_its_own_tags(make_span: SpanMaker) -> None:
    """The translator shares one base tags list among the events it encodes; `event` hands out
    a list the caller may change without touching the next event."""
    translator = SpanTranslator(SETTINGS)
    first, second = (action(make_span, name, "1") for name in ("a", "b"))
    event = translator.event(first, A.attributes_of(first))
    assert event is not None
    tags = event["tags"]
    assert isinstance(tags, list)
    tags.append("changed")
    again = translator.event(second, A.attributes_of(second))
    assert again is not None
    assert again["tags"] == ["staging"]
    (request,) = translator.translate([(second, A.attributes_of(second))]).requests
    assert json.loads(request.json_array())[0]["tags"] == ["staging"]
