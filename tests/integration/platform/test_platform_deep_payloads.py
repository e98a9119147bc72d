"""A payload nested deeper than the platform's JSON reader goes (orjson, which the SDK embeds
payload text with, reads 1024 levels; the standard decoder stops near 1000 with the stack in use):
its event is stored with that payload as the JSON string of its text, and its batch-mates with
it, instead of the whole request refused `too deep` (every batch-mate counted `rejected`)."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from opentelemetry.exporter.tracengent import TracengentSpanExporter
from opentelemetry.exporter.tracengent.attributes import EVENT_TYPE, INPUT
from tracengent.testing import RunningPlatform

_EVENT = '{"type":"action","name":"%s","status":"success"'


def _brackets(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_sdk_batch_with_a_deep_payload_is_stored_whole(
    tracengent_platform: RunningPlatform,
) -> None:
    """The real exporter embeds a 1024-level payload text (orjson reads it) in a batch of three:
    all three are delivered and stored, the deep payload as its text."""
    exporter = TracengentSpanExporter(tracengent_platform.options())
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("deep")
    for name, payload in (("mate 1", None), ("deep", _brackets(1024)), ("mate 2", None)):
        with tracer.start_as_current_span(name, attributes={EVENT_TYPE: "action"}) as span:
            if payload is not None:
                span.set_attribute(INPUT, payload)
    provider.shutdown()
    assert exporter.stats.delivered == 3
    assert exporter.stats.dropped_by_reason()["rejected"] == 0
    stored = {str(e.body["name"]): e.body for e in tracengent_platform.store.events()}
    assert sorted(stored) == ["deep", "mate 1", "mate 2"]
    assert stored["deep"]["input"] == _brackets(1024)
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert (counters.events_stored, counters.batches_rejected) == (3, 0)


def _post(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("field", ["input", "output", "attributes"])
def test_deep_values_become_text_and_shallow_ones_stay(
    demo: httpx.Client, tracengent_platform: RunningPlatform, field: str
) -> None:
    """Only the too-deep value becomes text; the same event's other payloads and the other events'
    stay as sent, and the trace close and ids are untouched."""
    # Brackets and escaped quotes inside its strings do not count as nesting.
    deep = '{"a":' * 1000 + '["]}\\"[{",2]' + "}" * 1000
    body = (
        "["
        + (_EVENT % "deep")
        + f',"eventId":"evt_d","traceId":"trc_1","{field}":{deep},"tags":["x"]}},'
        + (_EVENT % "mate")
        + ',"eventId":"evt_m","traceId":"trc_1","input":{"b":[1,{"c":"]]}}"}]}}]'
    )
    answer = _post(demo, "/v1/ingest/events", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 2, "stored": 2, "duplicates": 0}
    deep_event, mate = (e.body for e in tracengent_platform.store.events())
    assert deep_event[field] == deep
    assert (deep_event["eventId"], deep_event["tags"]) == ("evt_d", ["x"])
    assert mate["input"] == {"b": [1, {"c": "]]}}"}]}
    # Resent, it is a duplicate like any other.
    assert _post(demo, "/v1/ingest/events", body).json()["duplicates"] == 2


def test_a_payload_deeper_than_orjson_reads_is_still_refused(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """Beyond 1024 levels (no SDK embeds it: it sends such text as a string) the request is
    refused as before, and a deep body on a governance endpoint is still a 400 (a deny)."""
    body = "[" + (_EVENT % "deep") + f',"input":{_brackets(1025)}}}]'
    answer = _post(demo, "/v1/ingest/events", body)
    assert (answer.status_code, answer.json()["error"]) == (400, "too deep")
    tool = (
        '{"transport":"function","functionName":"book_flight","body":{"x":' + _brackets(1000) + "}}"
    )
    answer = _post(demo, "/v1/tool-authorize", tool)
    assert (answer.status_code, answer.json()["error"]) == (400, "too deep")
    assert tracengent_platform.store.events() == []


@pytest.mark.parametrize(
    "deep",
    [
        "[" * 1000 + "1,,2" + "]" * 1000,  # not JSON inside
        "[" * 1000 + "]" * 999,  # cut short
        "[" * 1000 + '"\\u00"' + "]" * 1000,  # a bad escape
    ],
)
def test_a_deep_value_that_is_not_json_is_refused(demo: httpx.Client, deep: str) -> None:
    """Text is stored only for a value that is JSON: a malformed deep value is no payload."""
    body = "[" + (_EVENT % "deep") + f',"input":{deep}}}]'
    answer = _post(demo, "/v1/ingest/events", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in {"too deep", "not json"}


def test_deep_nesting_outside_an_event_field_is_refused(demo: httpx.Client) -> None:
    """A request that is itself nested deep (not an array of event objects) is refused."""
    answer = _post(demo, "/v1/ingest/events", "[" + _brackets(1000) + "]")
    assert (answer.status_code, answer.json()["error"]) == (400, "too deep")
