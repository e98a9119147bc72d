"""The translator's hot loop decides and reads what the plain rules and properties say.

`SpanTranslator` inlines `classify_for_export` and reads the SDK's span fields directly
(`_span_reads`); these tests hold both to the rules they stand for.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import _span_reads
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import EVENT, ROOT, classify_for_export
from opentelemetry.exporter.tracengent._translate import (
    SpanTranslator,
    TranslationSettings,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, loads_exact

from .conftest import START_NS

BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())

CLASSIFYING_KEYS: dict[str, list[AttributeValue]] = {
    A.GOVERNANCE_KIND: ["authorize"],
    A.GEN_AI_OPERATION_NAME: ["invoke_agent", "chat", "execute_tool", "embeddings", 3],
    A.EVENT_TYPE: ["action", "decision", "", 5],
    A.HTTP_REQUEST_METHOD: ["GET"],
    A.HTTP_METHOD_OLD: ["POST"],
    A.TRACE_ID: ["trc_x"],
    A.TRACKED: [True, False, "true"],
    A.EVENT_ABSORBED: [True],
    A.GEN_AI_AGENT_ID: ["billing-agent", "other-agent", 7],
}


def finished(
    attrs: dict[str, AttributeValue],
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    name: str = "span",
    status: Status | None = None,
    span_class: type[ReadableSpan] = ReadableSpan,
) -> ReadableSpan:
    """A finished span as the SDK hands it to processors."""
    return span_class(
        name=name,
        context=SpanContext(0xABC, 0xDEF, is_remote=False),
        kind=kind,
        attributes=attrs,
        start_time=START_NS,
        end_time=START_NS + 2_500_000,
        status=status if status is not None else Status(StatusCode.UNSET),
    )


def sent_events(translator: SpanTranslator, spans: Sequence[ReadableSpan]) -> list[JsonObject]:
    """What one translated batch of `spans` sends, as the platform reads it."""
    batch = translator.translate([(span, A.attributes_of(span)) for span in spans])
    assert batch.unserializable == 0
    events: list[JsonObject] = []
    for request in batch.requests:
        decoded = loads_exact(request.json_array())
        assert isinstance(decoded, list)
        events.extend(item for item in decoded if isinstance(item, dict))
    return events


@BOUNDED
@given(
    chosen=st.fixed_dictionaries(
        {},
        optional={key: st.sampled_from(values) for key, values in CLASSIFYING_KEYS.items()},
    ),
    kind=st.sampled_from(list(SpanKind)),
)
def test_the_translator_classifies_as_classify_for_export(
    chosen: dict[str, AttributeValue], kind: SpanKind
) -> None:
    """A span is sent as an event of `classify_for_export`'s type, or closes its trace, exactly
    when that rule says so, whatever agent it names; an event of a type outside the contract is
    counted instead of sent."""
    attrs = dict(chosen)
    span = finished(attrs, kind=kind)
    batch = SpanTranslator(SETTINGS).translate([(span, attrs)])
    found, event_type, _ = classify_for_export(attrs, kind)
    events = [event for request in batch.requests for event in request]
    refused = found == EVENT and event_type not in A.EventTypes.ALL
    assert batch.unserializable == (1 if refused else 0)
    if found == EVENT and not refused:
        assert [event["type"] for event in events] == [event_type]
    else:
        assert events == []
    assert len(batch.closes) == (1 if found == ROOT else 0)


def test_this_sdks_fields_are_read_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed SDK passes the probe, so the translator's direct reads are in use; the
    probe never runs the resource detectors (a configured one may call the network)."""

    def detect(*args: object, **kwargs: object) -> Resource:
        raise AssertionError("the probe ran the resource detectors")

    monkeypatch.setattr(Resource, "create", detect)
    assert _span_reads.fields_match_properties()
    assert _span_reads.DIRECT_SPAN is ReadableSpan
    assert _span_reads.DIRECT_CONTEXT is SpanContext
    assert _span_reads.DIRECT_STATUS is Status


class _RenamedSpan(ReadableSpan):
    """A span class of someone else's whose properties do not return the SDK's fields."""

    @property
    def name(self) -> str:
        return "renamed"

    @property
    def start_time(self) -> int | None:
        return START_NS + 1_000_000_000

    @property
    def end_time(self) -> int | None:
        return START_NS + 1_004_000_000

    @property
    def status(self) -> Status:
        return Status(StatusCode.ERROR)

    @property
    def context(self) -> SpanContext:
        return SpanContext(0x123, 0x456, is_remote=False)


class _PlainSubclass(ReadableSpan):
    """A subclass that changes nothing: read through its properties, to the same event."""


def test_a_span_of_another_class_is_read_through_its_properties() -> None:
    """Name, times, status and ids come from the properties of any class but the SDK's own."""
    attrs: dict[str, AttributeValue] = {A.EVENT_TYPE: "action"}
    sdk_event, renamed_event = sent_events(
        SpanTranslator(SETTINGS),
        [finished(attrs), finished(attrs, span_class=_RenamedSpan)],
    )
    assert (sdk_event["name"], sdk_event["status"], sdk_event["durationMs"]) == (
        "span",
        "success",
        2.5,
    )
    assert sdk_event["eventId"] == f"evt_{0xABC:032x}{0xDEF:016x}"
    assert (renamed_event["name"], renamed_event["status"], renamed_event["durationMs"]) == (
        "renamed",
        "failure",
        4.0,
    )
    assert renamed_event["eventId"] == f"evt_{0x123:032x}{0x456:016x}"
    assert renamed_event["occurredAt"] != sdk_event["occurredAt"]


def test_direct_reads_send_what_the_properties_send() -> None:
    """The same span as the SDK's class and as a plain subclass sends the same event."""
    attrs: dict[str, AttributeValue] = {
        A.EVENT_TYPE: "tool_call",
        A.INPUT: '{"q": 1}',
        A.COST_AMOUNT: 0.25,
        A.ACTOR_USER_ID: "u_1",
    }
    error = Status(StatusCode.ERROR, "boom")
    direct, through_properties = sent_events(
        SpanTranslator(SETTINGS),
        [
            finished(attrs, kind=SpanKind.CLIENT, status=error),
            finished(attrs, kind=SpanKind.CLIENT, status=error, span_class=_PlainSubclass),
        ],
    )
    assert direct == through_properties
    assert direct["status"] == "failure"


def test_each_event_keeps_its_own_actor_when_the_batch_shares_them() -> None:
    """Events of one batch reuse an actor object only when it is the same actor as the last."""
    actors: list[AttributeValue | None] = ["u_1", "u_1", "u_2", None, "u_1", 7, "u_2"]
    spans = [
        finished(
            {A.EVENT_TYPE: "action"}
            if actor is None
            else {A.EVENT_TYPE: "action", A.ACTOR_USER_ID: actor}
        )
        for actor in actors
    ]
    events = sent_events(SpanTranslator(SETTINGS), spans)
    assert [event.get("actor") for event in events] == [
        {"userId": "u_1"},
        {"userId": "u_1"},
        {"userId": "u_2"},
        None,
        {"userId": "u_1"},
        None,
        {"userId": "u_2"},
    ]
