"""Scrubbing of payloads and span attributes before any exporter sees them."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent import Actor, AgentEvent, LlmCallResult
from tracengent._processors.context import ContextProcessor
from tracengent._recording import Recorder
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._trace import begin_trace


def test_default_names_are_masked_at_any_depth() -> None:
    """Passwords, API keys, cookies and card numbers are masked however deep they sit."""
    text = Scrubber().payload_text(
        {"user": {"Password": "p", "creds": [{"X-Api-Key": "k"}]}, "card_number": "4111", "n": 1}
    )
    assert text is not None
    assert json.loads(text) == {
        "user": {"Password": MASK_TOKEN, "creds": [{"X-Api-Key": MASK_TOKEN}]},
        "card_number": MASK_TOKEN,
        "n": 1,
    }


def test_plain_token_counts_survive() -> None:
    """`input_tokens` is a usage count, not a credential, so it is kept."""
    scrubber = Scrubber()
    assert scrubber.scrub_attribute(A.GEN_AI_USAGE_INPUT_TOKENS, 12) == 12
    assert scrubber.scrub_attribute("http.request.header.authorization", "Bearer x") == MASK_TOKEN
    assert scrubber.scrub_attribute("oauth.access_token", "t") == MASK_TOKEN


def test_configured_globs_and_paths_apply() -> None:
    """A configured name glob masks keys and a JSON path masks its value only."""
    scrubber = Scrubber(patterns=["*ssn*", "$.order.card", "  "])
    text = scrubber.payload_text({"SSN_last4": "1234", "order": {"card": "4111", "id": 7}})
    assert text is not None
    assert json.loads(text) == {"SSN_last4": MASK_TOKEN, "order": {"card": MASK_TOKEN, "id": 7}}
    assert scrubber.paths == ("$.order.card",)


def test_redact_paths_per_call_apply() -> None:
    """Paths given per call (a trace's obligations) are masked too."""
    text = Scrubber().payload_text({"iban": "DE00", "a": [1, 2]}, redact_paths=["$.iban", "$.a[1]"])
    assert text == '{"iban":"***REDACTED***","a":[1,"***REDACTED***"]}'


def test_capture_off_records_nothing() -> None:
    """With capture off no payload text is produced and payload attributes are dropped."""
    scrubber = Scrubber(capture_payloads=False)
    assert scrubber.payload_text({"a": 1}) is None
    assert scrubber.scrub_attribute(A.INPUT, '{"a":1}') is None
    assert scrubber.scrub_attribute("http.method", "GET") == "GET"


@pytest.mark.parametrize(
    "value",
    [
        {1: "non-string key"},
        {"x": object()},
        {"x": {1, 2}},
    ],
)
def test_unencodable_values_are_dropped(value: object) -> None:
    """A value that cannot be encoded as JSON is dropped, never sent unscrubbed."""
    assert Scrubber().payload_text(value) is None


def test_non_finite_numbers_are_written_null() -> None:
    """NaN, which JSON has no number for, is no reason to drop a payload: it is `null`."""
    assert Scrubber().payload_text({"x": math.nan}) == '{"x":null}'


def test_cycles_are_dropped() -> None:
    """A self-referencing structure is dropped rather than walked forever."""
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    assert Scrubber().payload_text(cyclic) is None


def test_payload_attribute_json_text_is_rescrubbed() -> None:
    """A payload attribute's JSON text is parsed, masked and re-encoded; other text is kept."""
    scrubber = Scrubber(patterns=["$.card"])
    assert (
        scrubber.scrub_attribute(A.OUTPUT, '{"card": "4111", "password": "p"}')
        == '{"card":"***REDACTED***","password":"***REDACTED***"}'
    )
    assert scrubber.scrub_attribute(A.OUTPUT, "plain words") == "plain words"


@pytest.fixture
def pipeline() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider with the scrubbing processor and the user's own in-memory exporter."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(ScrubbingProcessor(Scrubber(patterns=["$.card", "*ssn*"])))
    users_exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(users_exporter))
    yield provider, users_exporter
    provider.shutdown()


def test_users_exporter_sees_scrubbed_start_attributes(
    pipeline: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    """The user's own exporter on the same provider receives only scrubbed values."""
    provider, users_exporter = pipeline
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "refund",
        attributes={
            A.INPUT: '{"card":"4111","amount":5}',
            "customer.ssn": "123-45-6789",
            A.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        },
    ):
        pass
    (span,) = users_exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[A.INPUT] == '{"card":"***REDACTED***","amount":5}'
    assert span.attributes["customer.ssn"] == MASK_TOKEN
    assert span.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


def test_capture_off_masks_payload_attributes_on_every_exporter() -> None:
    """With capture off the processor replaces payload attributes by the mask."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(ScrubbingProcessor(Scrubber(capture_payloads=False)))
    users_exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(users_exporter))
    with provider.get_tracer("test").start_as_current_span(
        "tool", attributes={A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"q":"x"}', "k": "v"}
    ):
        pass
    (span,) = users_exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS] == MASK_TOKEN
    assert span.attributes["k"] == "v"
    provider.shutdown()


def test_processor_never_raises_into_the_agent() -> None:
    """A scrubber that fails is counted by the processor and the span still ends."""

    class Broken(Scrubber):
        def scrub_attribute(self, key, value, *, redact_paths=()):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    processor = ScrubbingProcessor(Broken())
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    with provider.get_tracer("test").start_as_current_span("s", attributes={"a": 1}):
        pass
    assert processor.failures == 1
    provider.shutdown()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"orderId": "o1", "amount": 42.5}, '{"orderId":"o1","amount":42.5}'),
        ({"Api_Key": "k", "deep": [{"PASSWORD": 1}]}, None),
        ({"ok": None}, '{"ok":null}'),
        ({"n": math.nan}, '{"n":null}'),
        ({"n": [math.inf]}, '{"n":[null]}'),
        ({1: "non-string key"}, "drop"),
        ({"big": 2**70}, '{"big":1180591620717411303424}'),
        ({"t": ("a", 1)}, '{"t":["a",1]}'),
    ],
)
def test_fast_and_walked_payloads_agree(payload: object, expected: str | None) -> None:
    """Plain payloads take orjson's fast path; anything needing work takes the walk: same text."""
    scrubber = Scrubber()
    text = scrubber.payload_text(payload)
    if expected == "drop":
        assert text is None
        return
    if expected is not None:
        assert text == expected
    else:
        assert text is not None
        assert json.loads(text) == {"Api_Key": MASK_TOKEN, "deep": [{"PASSWORD": MASK_TOKEN}]}


def test_unicode_names_are_matched_case_insensitively_on_both_paths() -> None:
    """A non-ASCII glob, and a name that matches it only by case: masked on every path."""
    scrubber = Scrubber(patterns=["*pässwort*"])
    assert scrubber.payload_text({"PÄSSWORT": "x"}) == f'{{"PÄSSWORT":"{MASK_TOKEN}"}}'


def _recorded(patterns: list[str]) -> tuple[ReadableSpan, ...]:
    """A decision trace with an actor, one tracked action and two point events (a step and a
    user's event with its own actor), recorded with `patterns`."""
    provider = TracerProvider(shutdown_on_exit=False)
    context = ContextProcessor()
    scrubber = Scrubber(patterns=patterns)
    users_exporter = InMemorySpanExporter()
    for processor in (context, ScrubbingProcessor(scrubber), SimpleSpanProcessor(users_exporter)):
        provider.add_span_processor(processor)
    recorder = Recorder(provider.get_tracer("test"), scrubber, "agent-7", context)
    with begin_trace(recorder, "refund order 7", "user-42") as trace:
        trace.track_action("refund", lambda: "done", input={"orderId": 7})
        trace.step("checked the order")
        trace.record(AgentEvent(name="noted", type="action", actor=Actor(user_id="user-43")))
    provider.shutdown()
    return users_exporter.get_finished_spans()


def test_configured_name_globs_mask_the_recorders_own_attributes() -> None:
    """`*user_id*` keeps the actor's id out of every exporter, the recorder's events included;
    the attributes that place an event (its type, ids, trace) are never masked by a glob."""
    spans = {span.name: dict(span.attributes or {}) for span in _recorded(["*user_id*", "*id*"])}
    action = spans["refund"]
    assert action[A.ACTOR_USER_ID] == MASK_TOKEN
    assert action[A.EVENT_TYPE] == A.EventTypes.ACTION
    assert isinstance(action[A.TRACE_ID], str)
    assert action[A.TRACE_ID] != MASK_TOKEN
    assert action[A.GEN_AI_AGENT_ID] == "agent-7"
    # JSON keys inside payloads are matched too (as they always were).
    assert action[A.INPUT] == f'{{"orderId":"{MASK_TOKEN}"}}'
    # Point events are born ended (they never start), and are masked all the same.
    for name in ("checked the order", "noted"):
        assert spans[name][A.ACTOR_USER_ID] == MASK_TOKEN
        assert spans[name][A.TRACE_ID] == action[A.TRACE_ID]


def test_without_configured_globs_the_recorders_attributes_are_kept() -> None:
    spans = {span.name: dict(span.attributes or {}) for span in _recorded([])}
    assert spans["refund"][A.ACTOR_USER_ID] == "user-42"
    assert spans["checked the order"][A.ACTOR_USER_ID] == "user-42"
    assert spans["noted"][A.ACTOR_USER_ID] == "user-43"


def test_a_glob_never_masks_what_places_a_users_event() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(ScrubbingProcessor(Scrubber(patterns=["*id*", "*type*"])))
    users_exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(users_exporter))
    with provider.get_tracer("test").start_as_current_span(
        "manual",
        attributes={
            A.EVENT_TYPE: "action",
            A.TRACE_ID: "trc_1",
            A.EVENT_ID: "evt_1",
            "customer.id": "c-9",
        },
    ):
        pass
    provider.shutdown()
    (span,) = users_exporter.get_finished_spans()
    assert dict(span.attributes or {}) == {
        A.EVENT_TYPE: "action",
        A.TRACE_ID: "trc_1",
        A.EVENT_ID: "evt_1",
        "customer.id": MASK_TOKEN,
    }


def test_configured_globs_mask_what_a_tracked_call_sets_as_it_ends() -> None:
    """An LLM call's model and output are set when it ends, after the scrubbing processor ran:
    the recorder applies the globs to them itself."""
    provider = TracerProvider(shutdown_on_exit=False)
    context = ContextProcessor()
    scrubber = Scrubber(patterns=["*model*", "*output*"])
    exporter = InMemorySpanExporter()
    for processor in (context, ScrubbingProcessor(scrubber), SimpleSpanProcessor(exporter)):
        provider.add_span_processor(processor)
    recorder = Recorder(provider.get_tracer("test"), scrubber, "agent-7", context)
    with begin_trace(recorder, "plan", "user-42") as trace:
        trace.track_llm_call("plan", lambda: LlmCallResult({"plan": "x"}, 12, model="gpt-x"))
    provider.shutdown()
    (llm,) = [span for span in exporter.get_finished_spans() if span.name == "plan"]
    attributes = dict(llm.attributes or {})
    assert attributes[A.USAGE_MODEL] == MASK_TOKEN
    assert attributes[A.OUTPUT] == MASK_TOKEN
    assert attributes[A.USAGE_TOKENS] == 12
