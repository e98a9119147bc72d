"""Translation review fixes: capture off sends no payload, an event outside the contract goes
alone (counted), and text UTF-8 cannot encode never costs an event or a trace close."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import EVENT, classify_for_export
from opentelemetry.exporter.tracengent._translate import (
    OutOfContractEventError,
    SpanTranslator,
    TimestampFormatter,
    TranslatedBatch,
    TranslationSettings,
    span_to_event,
    span_to_trace_close,
)
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, loads_exact
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import START_NS, SpanMaker

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())
CAPTURE_OFF = TranslationSettings(
    agent_id="billing-agent", environment="staging", default_tags=(), capture_payloads=False
)
TRACE = "trc_" + "c" * 48
LONE = "caf\udce9.txt"  # what `surrogateescape` makes of a Latin-1 file name
MENDED = "caf\ufffd.txt"


def plain_span(name: object, attrs: Mapping[str, object], *, span_id: int = 0xDEF) -> ReadableSpan:
    """A finished span holding exactly `attrs` (values the SDK would refuse, such as None,
    included: our recorder's spans keep its dict as it is)."""
    return ReadableSpan(
        name=name,  # type: ignore[arg-type]  # a recorder's span may carry any name
        context=SpanContext(0xABC, span_id, is_remote=False),
        kind=SpanKind.INTERNAL,
        attributes=dict(attrs),  # type: ignore[arg-type]
        start_time=START_NS,
        end_time=START_NS + 1_000_000,
        status=Status(StatusCode.UNSET),
    )


def translate(
    spans: Sequence[ReadableSpan], settings: TranslationSettings = SETTINGS
) -> tuple[TranslatedBatch, list[JsonObject]]:
    """One translated batch of `spans`, and its events as the platform reads them."""
    batch = SpanTranslator(settings).translate([(span, A.attributes_of(span)) for span in spans])
    events: list[JsonObject] = []
    for request in batch.requests:
        decoded = loads_exact(request.json_array())
        assert isinstance(decoded, list)
        events.extend(item for item in decoded if isinstance(item, dict))
    return batch, events


PAYLOADS: dict[str, AttributeValue] = {
    A.INPUT: json.dumps({"q": "private"}),
    A.OUTPUT: json.dumps({"result": "private"}),
    A.ATTRIBUTES: json.dumps({"note": "private"}),
}


@pytest.mark.parametrize("capture", [True, False])
def test_capture_off_fills_no_payload_slot(make_span: SpanMaker, capture: bool) -> None:
    """With capture off no event carries input, output or attributes, whether a span started
    with them, set them later or holds the GenAI tool arguments and result; with it on they go."""
    settings = SETTINGS if capture else CAPTURE_OFF
    started_with = make_span("started", {A.EVENT_TYPE: "action", **PAYLOADS})
    tool = make_span(
        "execute_tool search",
        {
            A.GEN_AI_OPERATION_NAME: "execute_tool",
            A.GEN_AI_TOOL_NAME: "search",
            A.GEN_AI_TOOL_CALL_ARGUMENTS: json.dumps({"query": "private"}),
            A.GEN_AI_TOOL_CALL_RESULT: json.dumps(["private"]),
        },
    )
    set_later = make_span.tracer.start_span("later", attributes={A.EVENT_TYPE: "action"})
    set_later.set_attribute(A.OUTPUT, json.dumps({"result": "set after start"}))
    set_later.end(end_time=START_NS + 1_000)
    later = make_span.memory.get_finished_spans()[-1]
    batch, events = translate([started_with, tool, later], settings)
    assert batch.unserializable == 0
    assert [event["name"] for event in events] == ["started", "search", "later"]
    carried = [sorted(set(event) & {"input", "output", "attributes"}) for event in events]
    if capture:
        assert carried == [["attributes", "input", "output"], ["input", "output"], ["output"]]
    else:
        assert carried == [[], [], []]


def test_capture_off_keeps_http_details_and_root_request(make_span: SpanMaker) -> None:
    """HTTP method, URL and status are no payload (no span processor masks them either), and the
    root request is the application's own field: both still go with capture off."""
    http = make_span(
        "GET",
        {
            A.HTTP_REQUEST_METHOD: "GET",
            A.URL_FULL: "https://api.example.com/v1/x",
            A.HTTP_RESPONSE_STATUS_CODE: 200,
            A.TRACE_ID: TRACE,
            A.TRACE_ROOT_REQUEST: "refund order 42",
        },
        kind=SpanKind.CLIENT,
    )
    _, events = translate([http], CAPTURE_OFF)
    assert events[0]["attributes"] == {
        "method": "GET",
        "url": "https://api.example.com/v1/x",
        "statusCode": 200,
    }
    assert events[0]["rootRequest"] == "refund order 42"


class _Ingest:
    """A MockTransport handler that keeps the events posted."""

    def __init__(self) -> None:
        self.events: list[JsonObject] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/ingest/events":
            self.events.extend(json.loads(request.content))
        return httpx.Response(202, json={"accepted": 1})


def test_the_exporter_with_capture_off_posts_no_payload(make_span: SpanMaker) -> None:
    """An exporter whose options turn capture off posts events without any payload."""
    ingest = _Ingest()
    options = TracengentOptions(
        agent_id="billing-agent",
        ingest_key="agk_test",
        base_url="http://platform.test",
        capture_payloads=False,
        gzip_threshold_bytes=1 << 30,
    )
    exporter = TracengentSpanExporter(options, transport=httpx.MockTransport(ingest))
    try:
        exporter.export([make_span("manual", {A.EVENT_TYPE: "action", **PAYLOADS})])
    finally:
        exporter.shutdown()
    assert [event["name"] for event in ingest.events] == ["manual"]
    assert not set(ingest.events[0]) & {"input", "output", "attributes"}


OUT_OF_CONTRACT: list[tuple[object, dict[str, object]]] = [
    ("lookup", {A.EVENT_TYPE: "tool"}),
    ("lookup", {A.EVENT_TYPE: ""}),
    ("lookup", {A.EVENT_TYPE: None}),
    ("lookup", {A.EVENT_TYPE: 5}),
    ("lookup", {A.EVENT_TYPE: "action", A.EVENT_STATUS: "ok"}),
    ("lookup", {A.EVENT_TYPE: "action", A.EVENT_STATUS: "failed"}),
    (None, {A.EVENT_TYPE: "action"}),
    (123, {A.EVENT_TYPE: "action"}),
    ("", {A.EVENT_TYPE: "action"}),
]


@pytest.mark.parametrize(("name", "attrs"), OUT_OF_CONTRACT)
def test_an_event_outside_the_contract_is_counted_and_its_batch_mates_go(
    name: object, attrs: dict[str, object]
) -> None:
    """A type, status or name the platform would refuse (sinking the whole request) drops that
    event alone, counted `unserializable`; the events around it are sent."""
    good = [plain_span(f"good-{i}", {A.EVENT_TYPE: "action"}, span_id=i + 1) for i in range(3)]
    bad = plain_span(name, attrs, span_id=0xBAD)
    batch, events = translate([good[0], bad, good[1], good[2]])
    assert batch.unserializable == 1
    assert batch.internal_errors == []
    assert [event["name"] for event in events] == ["good-0", "good-1", "good-2"]
    with pytest.raises(OutOfContractEventError):
        span_to_event(bad, A.attributes_of(bad), SETTINGS, format_time=TimestampFormatter())


def test_a_type_set_but_not_text_is_an_event_to_count() -> None:
    """`tracengent.event.type` set to a value that is not text makes the span an event, so the
    processor queues it and the translator counts it, instead of it vanishing uncounted."""
    assert classify_for_export({A.EVENT_TYPE: None}, SpanKind.INTERNAL) == (EVENT, "", False)
    assert classify_for_export({A.EVENT_TYPE: 5}, SpanKind.INTERNAL) == (EVENT, "", False)
    # A GenAI span keeps its own type; an absent type is no event at all.
    llm = classify_for_export({A.EVENT_TYPE: 5, A.GEN_AI_OPERATION_NAME: "chat"}, SpanKind.CLIENT)
    assert llm == (EVENT, "llm_call", False)
    assert classify_for_export({}, SpanKind.INTERNAL)[0] != EVENT


@pytest.mark.parametrize("status", [None, "", 7])
def test_an_absent_or_non_text_status_is_read_from_the_span(status: object) -> None:
    """Only a status that is text outside the contract is refused; no status at all, or one
    that is no text, is the span's own (success here), as before."""
    span = plain_span("step", {A.EVENT_TYPE: "decision", A.EVENT_STATUS: status})
    batch, events = translate([span])
    assert batch.unserializable == 0
    assert events[0]["status"] == "success"


def test_another_agents_bad_event_is_counted_like_any_other() -> None:
    """An out-of-contract event naming another agent is counted too: the translator skips no
    span for the agent it names (the provider's router chose this pipeline for it)."""
    bad = plain_span("x", {A.EVENT_TYPE: "tool", A.GEN_AI_AGENT_ID: "other-agent"})
    batch = SpanTranslator(SETTINGS).translate([(bad, A.attributes_of(bad))])
    assert (batch.unserializable, batch.requests) == (1, [])


def test_text_utf8_cannot_encode_is_mended_and_such_payloads_left_out() -> None:
    """A lone surrogate in a name, root request, tag or actor becomes U+FFFD; a payload holding
    one (raw, or as a JSON escape) is left out and counted; no event is lost."""
    odd = plain_span(
        f"open {LONE}",
        {
            A.EVENT_TYPE: "tool_call",
            A.TRACE_ID: TRACE,
            A.TRACE_ROOT_REQUEST: f"read {LONE}",
            A.ACTOR_USER_ID: LONE,
            A.EVENT_TAGS: (LONE,),
            A.INPUT: json.dumps({"path": LONE}, ensure_ascii=False),
            A.OUTPUT: json.dumps({"path": LONE}),  # ASCII: `\udce9` as an escape
            A.ATTRIBUTES: json.dumps({"fine": "ok"}),
        },
        span_id=2,
    )
    mates = [plain_span(f"mate-{i}", {A.EVENT_TYPE: "action"}, span_id=10 + i) for i in range(2)]
    translator = SpanTranslator(SETTINGS)
    batch = translator.translate([(s, A.attributes_of(s)) for s in (mates[0], odd, mates[1])])
    assert batch.unserializable == 0
    events = [event for request in batch.requests for event in request]
    assert [event["name"] for event in events] == ["mate-0", f"open {MENDED}", "mate-1"]
    sent = events[1]
    assert sent["rootRequest"] == f"read {MENDED}"
    assert sent["actor"] == {"userId": MENDED}
    assert sent["tags"] == ["staging", MENDED]
    assert "input" not in sent
    assert "output" not in sent
    assert sent["attributes"] == {"fine": "ok"}
    assert translator.payloads_omitted == 2
    # The one-span API hands out the event as it is sent.
    alone = span_to_event(odd, A.attributes_of(odd), SETTINGS, format_time=TimestampFormatter())
    assert alone is not None
    assert alone["name"] == f"open {MENDED}"
    assert "input" not in alone


def test_a_trace_close_with_text_utf8_cannot_encode_is_mended() -> None:
    """A lone surrogate in the root request or summary of a trace must not cost its close."""
    root = plain_span(
        "invoke_agent",
        {
            A.GEN_AI_OPERATION_NAME: "invoke_agent",
            A.TRACE_ID: TRACE,
            A.TRACE_ROOT_REQUEST: f"open {LONE}",
            A.TRACE_SUMMARY: LONE,
        },
    )
    batch = SpanTranslator(SETTINGS).translate([(root, A.attributes_of(root))])
    assert len(batch.closes) == 1
    close = batch.closes[0]
    assert close["rootRequest"] == f"open {MENDED}"
    assert close["summary"] == MENDED
    json.dumps(close, ensure_ascii=False).encode()  # UTF-8 carries it now
    alone = span_to_trace_close(
        root, A.attributes_of(root), SETTINGS, format_time=TimestampFormatter()
    )
    assert alone is not None
    assert (alone["rootRequest"], alone["summary"]) == (f"open {MENDED}", MENDED)
