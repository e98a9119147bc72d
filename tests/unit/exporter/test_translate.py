"""Span → wire event / trace close translation, on real SDK spans."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import (
    TimestampFormatter,
    TranslationSettings,
    span_to_event,
    span_to_trace_close,
)
from opentelemetry.exporter.tracengent.attributes import attributes_of
from opentelemetry.exporter.tracengent.ids import event_id_for, trace_id_for
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, dumps_compact
from opentelemetry.exporter.tracengent.wire import (
    Actor,
    AgentEvent,
    Money,
    TraceClose,
    Usage,
    format_timestamp,
)

from .conftest import START_NS, SpanMaker

SETTINGS = TranslationSettings(
    agent_id="billing-agent", environment="staging", default_tags=("team-a", "staging")
)
OCCURRED = "2026-11-24T10:15:02.123456+00:00"
ENDED = "2026-11-24T10:15:02.124956+00:00"
TRACE = "trc_" + "a" * 48
PARENT = "evt_" + "b" * 48


def event_of(span: ReadableSpan) -> JsonObject | None:
    """Translate one span the way the exporter does."""
    return span_to_event(span, attributes_of(span), SETTINGS, format_time=TimestampFormatter())


def close_of(span: ReadableSpan) -> JsonObject | None:
    """Translate one root span to its trace close."""
    return span_to_trace_close(
        span, attributes_of(span), SETTINGS, format_time=TimestampFormatter()
    )


def derived_event_id(span: ReadableSpan) -> str:
    """The event id derived from the span's OTel ids."""
    assert span.context is not None
    return event_id_for(span.context.trace_id, span.context.span_id)


def test_standalone_action_matches_the_contract_example(make_span: SpanMaker) -> None:
    """A manual action span becomes exactly the wire event, with cost and merged tags."""
    span = make_span(
        "refund",
        {A.EVENT_TYPE: "action", A.COST_AMOUNT: 42.5, A.EVENT_TAGS: ("vip", "team-a")},
    )
    assert event_of(span) == {
        "eventId": derived_event_id(span),
        "agentId": "billing-agent",
        "type": "action",
        "name": "refund",
        "status": "success",
        "cost": {"amount": 42.5, "currency": "USD"},
        "occurredAt": OCCURRED,
        "durationMs": 1.5,
        "tags": ["staging", "team-a", "vip"],
    }


def test_every_field_in_agent_event_order(make_span: SpanMaker) -> None:
    """A span carrying every field serializes to the same bytes as `AgentEvent.to_wire()`."""
    span = make_span(
        "ignored",
        {
            A.EVENT_TYPE: "llm_call",
            A.EVENT_NAME: "draft-reply",
            A.EVENT_ID: "evt_explicit",
            A.EVENT_IDEMPOTENCY_KEY: "idem-1",
            A.GEN_AI_AGENT_ID: "other-agent",
            A.TRACE_ID: TRACE,
            A.EVENT_PARENT_ID: PARENT,
            A.EVENT_STATUS: "pending",
            A.COST_AMOUNT: 3,
            A.COST_CURRENCY: "EUR",
            A.GEN_AI_USAGE_INPUT_TOKENS: 100,
            A.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
            A.GEN_AI_RESPONSE_MODEL: "gpt-x",
            A.ACTOR_USER_ID: "user-7",
            A.INPUT: '{"q":"hi"}',
            A.OUTPUT: '["a",1]',
            A.ATTRIBUTES: '{"k":true}',
            A.EVENT_TAGS: ("own",),
            A.TRACE_ROOT_REQUEST: "refund order 42",
        },
    )
    expected = AgentEvent(
        name="draft-reply",
        type="llm_call",
        status="pending",
        event_id="evt_explicit",
        idempotency_key="idem-1",
        agent_id="other-agent",
        trace_id=TRACE,
        parent_event_id=PARENT,
        cost=Money(3, "EUR"),
        usage=Usage(120, "gpt-x"),
        actor=Actor("user-7"),
        input={"q": "hi"},
        output=["a", 1],
        attributes={"k": True},
        occurred_at=OCCURRED,
        duration_ms=1.5,
        tags=["staging", "team-a", "own"],
        root_request="refund order 42",
    ).to_wire()
    event = event_of(span)
    assert event == expected
    assert event is not None
    assert list(event) == list(expected)
    assert dumps_compact(event) == dumps_compact(expected)


def test_llm_span_sums_tokens_and_prefers_the_response_model(make_span: SpanMaker) -> None:
    """A GenAI chat span is an llm_call whose usage is input + output tokens."""
    span = make_span(
        "chat gpt-x",
        {
            A.GEN_AI_OPERATION_NAME: "chat",
            A.GEN_AI_REQUEST_MODEL: "gpt-requested",
            A.GEN_AI_RESPONSE_MODEL: "gpt-answered",
            A.GEN_AI_USAGE_INPUT_TOKENS: 30,
            A.GEN_AI_USAGE_OUTPUT_TOKENS: 12,
        },
        kind=SpanKind.CLIENT,
    )
    event = event_of(span)
    assert event is not None
    assert (event["type"], event["name"]) == ("llm_call", "chat gpt-x")
    assert event["usage"] == {"tokens": 42, "model": "gpt-answered"}


@pytest.mark.parametrize(
    ("attributes", "usage"),
    [
        (
            {A.GEN_AI_REQUEST_MODEL: "m-req", A.GEN_AI_USAGE_OUTPUT_TOKENS: 5},
            {"tokens": 5, "model": "m-req"},
        ),
        ({A.USAGE_TOKENS: 77, A.USAGE_MODEL: "m-own"}, {"tokens": 77, "model": "m-own"}),
        ({A.GEN_AI_REQUEST_MODEL: "m-only"}, None),
        # A bool or a text is no token count; a float is one.
        ({A.USAGE_TOKENS: True, A.USAGE_MODEL: "m"}, None),
        ({A.USAGE_TOKENS: "12"}, None),
        ({A.USAGE_TOKENS: 12.5}, {"tokens": 12.5}),
        # The first model that is non-empty text wins, in order: response, request, ours.
        (
            {
                A.USAGE_TOKENS: 3,
                A.GEN_AI_RESPONSE_MODEL: "",
                A.GEN_AI_REQUEST_MODEL: 7,
                A.USAGE_MODEL: "m-own",
            },
            {"tokens": 3, "model": "m-own"},
        ),
    ],
)
def test_usage_fallbacks(
    make_span: SpanMaker, attributes: dict[str, AttributeValue], usage: JsonObject | None
) -> None:
    """Usage falls back to the request model and to tracengent.usage.*; no tokens, no usage."""
    event = event_of(make_span("gen", {A.GEN_AI_OPERATION_NAME: "text_completion", **attributes}))
    assert event is not None
    assert event.get("usage") == usage


def test_tool_span_names_and_payloads_from_genai_attributes(make_span: SpanMaker) -> None:
    """An execute_tool span is a tool_call named after the tool, payloads JSON-decoded."""
    span = make_span(
        "execute_tool search",
        {
            A.GEN_AI_OPERATION_NAME: "execute_tool",
            A.GEN_AI_TOOL_NAME: "search_flights",
            A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"from":"CDG"}',
            A.GEN_AI_TOOL_CALL_RESULT: "not json",
        },
    )
    event = event_of(span)
    assert event is not None
    assert (event["type"], event["name"]) == ("tool_call", "search_flights")
    assert event["input"] == {"from": "CDG"}
    assert event["output"] == "not json"


def test_tracengent_payloads_win_over_genai_tool_payloads(make_span: SpanMaker) -> None:
    """tracengent.input/output take precedence over the GenAI tool call attributes."""
    span = make_span(
        "t",
        {
            A.GEN_AI_OPERATION_NAME: "execute_tool",
            A.INPUT: '{"mine":1}',
            A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"theirs":1}',
        },
    )
    event = event_of(span)
    assert event is not None
    assert event["input"] == {"mine": 1}
    assert event["name"] == "t"


@pytest.mark.parametrize(
    ("attributes", "error", "status"),
    [
        ({}, False, "success"),
        ({}, True, "failure"),
        ({A.EVENT_STATUS: "success"}, True, "success"),
        ({A.EVENT_STATUS: "pending"}, False, "pending"),
    ],
)
def test_status_rules(
    make_span: SpanMaker, attributes: dict[str, AttributeValue], error: bool, status: str
) -> None:
    """tracengent.event.status wins; otherwise span status ERROR means failure."""
    event = event_of(make_span("a", {A.EVENT_TYPE: "action", **attributes}, error=error))
    assert event is not None
    assert event["status"] == status


def test_http_span_in_a_trace_is_a_named_tool_call(make_span: SpanMaker) -> None:
    """An HTTP client span inside a decision trace is `METHOD host/path` with method/url/status."""
    span = make_span(
        "POST",
        {
            A.HTTP_REQUEST_METHOD: "POST",
            A.URL_FULL: "https://user:pw@api.stripe.com/v1/refunds?x=1",
            A.HTTP_RESPONSE_STATUS_CODE: 201,
            A.TRACE_ID: TRACE,
            A.EVENT_PARENT_ID: PARENT,
        },
        kind=SpanKind.CLIENT,
    )
    assert event_of(span) == {
        "eventId": derived_event_id(span),
        "agentId": "billing-agent",
        "traceId": TRACE,
        "parentEventId": PARENT,
        "type": "tool_call",
        "name": "POST api.stripe.com/v1/refunds",
        "status": "success",
        "attributes": {
            "method": "POST",
            "url": "https://api.stripe.com/v1/refunds?x=1",
            "statusCode": 201,
        },
        "occurredAt": OCCURRED,
        "durationMs": 1.5,
        "tags": ["staging", "team-a"],
    }


def test_http_error_status_and_old_attribute_names(make_span: SpanMaker) -> None:
    """A tracked HTTP span answered >= 400 fails; pre-1.23 attribute names are read too."""
    span = make_span(
        "GET",
        {
            A.HTTP_METHOD_OLD: "GET",
            A.HTTP_URL_OLD: "http://example.com",
            A.HTTP_STATUS_CODE_OLD: 404,
            A.TRACKED: True,
        },
        kind=SpanKind.CLIENT,
    )
    event = event_of(span)
    assert event is not None
    assert (event["name"], event["status"]) == ("GET example.com/", "failure")
    assert "traceId" not in event
    assert event["attributes"] == {"method": "GET", "url": "http://example.com", "statusCode": 404}


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("http://127.0.0.1:8080/ok", "http://127.0.0.1:8080/ok"),
        ("https://u:pw@api.example.com/v1/x?a=1", "https://api.example.com/v1/x?a=1"),
        ("https://api.example.com/users/a@b.example", "https://api.example.com/users/a@b.example"),
    ],
)
@pytest.mark.parametrize(
    ("code", "status"), [(200, "success"), (503, "failure"), ("404", "failure")]
)
def test_named_http_span_keeps_its_name_and_drops_credentials(
    make_span: SpanMaker, url: str, sent: str, code: int | str, status: str
) -> None:
    """A tracked request names its event itself (`GET host/path`, without the port): that name
    is kept, the URL still loses any credentials, and a status (int or digits) decides failure."""
    span = make_span(
        "GET 127.0.0.1/ok",
        {
            A.EVENT_TYPE: "tool_call",
            A.EVENT_NAME: "GET 127.0.0.1/ok",
            A.TRACKED: True,
            A.HTTP_REQUEST_METHOD: "GET",
            A.URL_FULL: url,
            A.HTTP_RESPONSE_STATUS_CODE: code,
        },
        kind=SpanKind.CLIENT,
    )
    event = event_of(span)
    assert event is not None
    assert (event["name"], event["status"]) == ("GET 127.0.0.1/ok", status)
    assert event["attributes"] == {"method": "GET", "url": sent, "statusCode": int(code)}


@pytest.mark.parametrize(
    ("attributes", "kind"),
    [
        ({A.HTTP_REQUEST_METHOD: "GET", A.URL_FULL: "https://llm.example/v1"}, SpanKind.CLIENT),
        ({A.HTTP_REQUEST_METHOD: "GET", A.TRACE_ID: TRACE}, SpanKind.SERVER),
        ({"db.system": "postgresql", A.TRACE_ID: TRACE}, SpanKind.CLIENT),
        ({A.GOVERNANCE_KIND: "authorize", A.EVENT_TYPE: "decision"}, SpanKind.INTERNAL),
        ({A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRACE_ID: TRACE}, SpanKind.INTERNAL),
        ({A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "t"}, SpanKind.SERVER),
        ({}, SpanKind.INTERNAL),
    ],
)
def test_spans_that_are_not_events(
    make_span: SpanMaker, attributes: dict[str, AttributeValue], kind: SpanKind
) -> None:
    """Untracked HTTP spans outside a trace, server/db/governance spans, a tool server's own span and roots are not events."""
    assert event_of(make_span("s", attributes, kind=kind)) is None


def test_instant_event_has_no_duration_and_explicit_values_win(make_span: SpanMaker) -> None:
    """An instant event has no durationMs; explicit occurredAt/durationMs replace span times."""
    instant = event_of(make_span("step", {A.EVENT_TYPE: "decision", A.EVENT_INSTANT: True}))
    assert instant is not None
    assert "durationMs" not in instant
    explicit = event_of(
        make_span(
            "x",
            {
                A.EVENT_TYPE: "action",
                A.EVENT_OCCURRED_AT: "2020-01-01T00:00:00.000000+00:00",
                A.EVENT_DURATION_MS: 12.25,
            },
        )
    )
    assert explicit is not None
    assert (explicit["occurredAt"], explicit["durationMs"]) == (
        "2020-01-01T00:00:00.000000+00:00",
        12.25,
    )


def test_tags_keep_environment_first_and_deduplicate(make_span: SpanMaker) -> None:
    """Environment, then default tags, then the event's own, each once."""
    event = event_of(
        make_span("a", {A.EVENT_TYPE: "action", A.EVENT_TAGS: ("own", "staging", "own", "b")})
    )
    assert event is not None
    assert event["tags"] == ["staging", "team-a", "own", "b"]


def test_parent_without_trace_is_dropped_for_standalone_events(make_span: SpanMaker) -> None:
    """A standalone event carries neither traceId nor parentEventId."""
    event = event_of(make_span("a", {A.EVENT_TYPE: "action", A.EVENT_PARENT_ID: PARENT}))
    assert event is not None
    assert "traceId" not in event
    assert "parentEventId" not in event


def test_root_span_closes_the_trace_completed(make_span: SpanMaker) -> None:
    """A root's trace close equals `TraceClose.to_wire()`, id derived from the OTel ids."""
    span = make_span(
        "invoke_agent billing",
        {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRACE_ROOT_REQUEST: "refund order 42"},
    )
    assert span.context is not None
    expected = TraceClose(
        trace_id=trace_id_for(span.context.trace_id, span.context.span_id),
        agent_id="billing-agent",
        status="completed",
        occurred_at=ENDED,
        root_request="refund order 42",
    ).to_wire()
    close = close_of(span)
    assert close == expected
    assert close is not None
    assert list(close) == list(expected)
    assert event_of(span) is None


def test_root_ended_by_an_exception_closes_failed(make_span: SpanMaker) -> None:
    """A root span that recorded an exception (status ERROR) closes `failed`."""
    with (
        pytest.raises(RuntimeError),
        make_span.tracer.start_as_current_span(
            "root", attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRACE_ID: TRACE}
        ),
    ):
        raise RuntimeError("agent crashed")
    (span,) = make_span.memory.get_finished_spans()
    close = close_of(span)
    assert close is not None
    assert (close["traceId"], close["status"]) == (TRACE, "failed")


def test_explicit_trace_status_and_summary_win(make_span: SpanMaker) -> None:
    """tracengent.trace.status overrides the span status, and the summary is sent."""
    span = make_span(
        "root",
        {
            A.GEN_AI_OPERATION_NAME: "invoke_agent",
            A.GEN_AI_AGENT_ID: "agent-2",
            A.TRACE_STATUS: "failed",
            A.TRACE_SUMMARY: "gave up",
        },
    )
    close = close_of(span)
    assert close is not None
    assert (close["agentId"], close["status"], close["summary"]) == ("agent-2", "failed", "gave up")
    assert list(close)[-1] == "summary"


@pytest.mark.parametrize("nanos", [0, 999_999_999, 123_456_789, 1_000])
def test_timestamp_formatter_matches_format_timestamp(nanos: int) -> None:
    """The cached formatter writes what `wire.format_timestamp` writes, microseconds truncated."""
    formatter = TimestampFormatter()
    second = START_NS // 1_000_000_000
    expected = format_timestamp(
        datetime.fromtimestamp(second, timezone.utc).replace(microsecond=nanos // 1000)
    )
    assert formatter(second * 1_000_000_000 + nanos) == expected
    assert formatter((second + 1) * 1_000_000_000 + nanos).startswith(expected[:17] + "03")


def test_payload_attribute_that_is_not_a_json_object_passes_through(make_span: SpanMaker) -> None:
    """A JSON string decodes; a sequence attribute becomes a list."""
    event = event_of(
        make_span("a", {A.EVENT_TYPE: "action", A.INPUT: json.dumps("text"), A.OUTPUT: ("x", "y")})
    )
    assert event is not None
    assert (event["input"], event["output"]) == ("text", ["x", "y"])
