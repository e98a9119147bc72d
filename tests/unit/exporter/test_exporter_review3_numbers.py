"""Integers beyond the range of a JSON number (an IEEE double), as the platform reads one: such
an event is left out alone and counted, as a NaN is, instead of making the platform refuse its
whole request (every batch-mate lost with it)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import DropReason, TracengentSpanExporter
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.jsonvalue import loads_exact
from tracengent.testing import RunningPlatform

from .conftest import SpanMaker

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())
BEYOND_DOUBLES = 10**400
"""An integer `float()` cannot hold: the platform refuses a request carrying one."""

ODD_ATTRIBUTES: list[dict[str, AttributeValue]] = [
    {A.EVENT_DURATION_MS: BEYOND_DOUBLES},
    {A.COST_AMOUNT: BEYOND_DOUBLES},
    {A.USAGE_TOKENS: BEYOND_DOUBLES},
    {A.GEN_AI_USAGE_INPUT_TOKENS: 10**308, A.GEN_AI_USAGE_OUTPUT_TOKENS: 10**308},
    {A.INPUT: str(BEYOND_DOUBLES)},
    {A.OUTPUT: '{"factorial": [' + str(BEYOND_DOUBLES) + "]}"},
]


@pytest.mark.parametrize("odd", ODD_ATTRIBUTES, ids=lambda attrs: ",".join(attrs))
def test_an_integer_beyond_doubles_costs_only_its_own_event(
    make_span: SpanMaker, odd: dict[str, AttributeValue]
) -> None:
    """The odd event is counted unserializable; its batch-mates are encoded as before."""
    spans = [
        make_span("before", {A.EVENT_TYPE: "action"}),
        make_span("odd", {A.EVENT_TYPE: "action", **odd}),
        make_span("after", {A.EVENT_TYPE: "action", A.INPUT: str(2**70)}),
    ]
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])
    names = [
        event["name"]
        for request in batch.requests
        for event in loads_exact(request.json_array())  # type: ignore[union-attr]
        if isinstance(event, dict)
    ]
    assert names == ["before", "after"]
    assert batch.unserializable == 1
    assert batch.internal_errors == []


def test_the_platform_stores_the_batch_mates_of_such_an_event(
    tracengent_platform: RunningPlatform, make_span: SpanMaker
) -> None:
    """Over the real platform: the good event is stored, the odd one counted unserializable
    (before, the platform refused the request: both were lost)."""
    exporter = TracengentSpanExporter(tracengent_platform.options())
    spans = [
        make_span("kept", {A.EVENT_TYPE: "action"}),
        make_span("odd", {A.EVENT_TYPE: "action", A.EVENT_DURATION_MS: BEYOND_DOUBLES}),
    ]
    try:
        assert exporter.export(spans) is SpanExportResult.FAILURE  # one event was dropped
    finally:
        exporter.shutdown()
    assert [event.body["name"] for event in tracengent_platform.store.events()] == ["kept"]
    assert exporter.dropped_count == 1
    assert exporter.stats.dropped(DropReason.UNSERIALIZABLE) == 1
