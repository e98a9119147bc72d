"""Payloads set after their span started (a third-party `execute_tool` span's arguments, user
code's `span.set_attribute`) are beyond the scrubbing processor: Tracengent's own exporter scrubs
them on their way to the platform, with the strictest rules of the provider's clients; the
recorder's own payloads (scrubbed already) go as they are."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient, _state
from tracengent._scrubbing import Scrubber
from tracengent._zero_code import configure_from_environment

from .conftest import START_NS

_SECRETS = {
    "city": "Oslo",
    "password": "hunter2",
    "card_number": "4111 1111 1111 1111",
    "api_key": "sk-live-1",
    "iban": "NO93 8601 1117 947",
    "card": {"cvc": "123"},
}
"""What a tool call's arguments hold: a harmless city, default-masked names, and what only
`scrub_patterns` mask (`*iban*`, `$.card`)."""

_DEFAULT_MASKED = {
    "city": "Oslo",
    "password": MASK_TOKEN,
    "card_number": MASK_TOKEN,
    "api_key": MASK_TOKEN,
    "iban": "NO93 8601 1117 947",
    "card": {"cvc": "123"},
}
_ALL_MASKED = {**_DEFAULT_MASKED, "iban": MASK_TOKEN, "card": MASK_TOKEN}


@pytest.fixture
def app_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """The application's own SDK provider, global for this test only."""
    provider = TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider
    provider.shutdown()
    _state.reset_for_tests()


@pytest.fixture
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No global SDK provider: a client makes its own."""
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    yield
    _state.reset_for_tests()


def third_party_tool_call(provider: otel_trace.TracerProvider) -> None:
    """What a GenAI instrumentation does: start an `execute_tool` span, then set the call's
    arguments and result once it has them."""
    tracer = provider.get_tracer("some.genai.instrumentation")
    with tracer.start_as_current_span(
        "execute_tool get_weather",
        kind=SpanKind.INTERNAL,
        attributes={A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "get_weather"},
    ) as span:
        span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, json.dumps(_SECRETS))
        span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, json.dumps({"password": "out", "ok": 1}))


def user_event_span(provider: otel_trace.TracerProvider) -> None:
    """User code's own event span, its payloads set once known (`span.set_attribute`)."""
    tracer = provider.get_tracer("my.app")
    with tracer.start_as_current_span("charge", attributes={A.EVENT_TYPE: "action"}) as span:
        span.set_attribute(A.INPUT, json.dumps(_SECRETS, indent=2))
        span.set_attribute(A.OUTPUT, json.dumps({"secret": "s", "ok": True}))
        span.set_attribute(A.ATTRIBUTES, json.dumps({"card": {"cvc": "1"}, "n": 1}))


def event_named(platform: FakePlatform, name: str) -> dict[str, object]:
    """The one event called `name` the platform got."""
    found = [e for e in platform.events() if e["name"] == name]
    assert len(found) == 1, [e["name"] for e in platform.events()]
    return found[0]


def test_a_third_party_tool_calls_arguments_set_after_start_arrive_masked(
    app_provider: TracerProvider,
) -> None:
    """On the application's provider, an `execute_tool` span's arguments and result set after
    it started reach the platform with the default names and the client's patterns and JSON
    paths masked."""
    platform = FakePlatform([])
    client = TracengentClient(
        platform_options(scrub_patterns=["*iban*", "$.card"]),
        transport=httpx.MockTransport(platform),
    )
    third_party_tool_call(app_provider)
    assert client.close(timeout=10)
    event = event_named(platform, "get_weather")
    assert event["type"] == "tool_call"
    assert event["input"] == _ALL_MASKED
    assert event["output"] == {"password": MASK_TOKEN, "ok": 1}


def test_payloads_user_code_sets_after_start_arrive_masked_on_the_clients_own_provider(
    no_global_provider: None,
) -> None:
    """On a client's own provider, `tracengent.input`/`output`/`attributes` set with
    `span.set_attribute` after the span started are masked on the wire."""
    platform = FakePlatform([])
    client = TracengentClient(
        platform_options(scrub_patterns=["*iban*", "$.card"]),
        transport=httpx.MockTransport(platform),
    )
    user_event_span(client.tracer_provider)
    assert client.close(timeout=10)
    event = event_named(platform, "charge")
    assert event["input"] == _ALL_MASKED
    assert event["output"] == {"secret": MASK_TOKEN, "ok": True}
    assert event["attributes"] == {"card": MASK_TOKEN, "n": 1}


def test_the_strictest_clients_rules_hold_for_a_pipeline_another_client_made(
    app_provider: TracerProvider,
) -> None:
    """A third-party span goes through the first client's pipeline (the default route); the
    patterns of a client attached later, for another agent, still mask it there."""
    platform = FakePlatform([])
    lenient = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    strict = TracengentClient(
        platform_options(agent_id="other-agent", scrub_patterns=["*iban*", "$.card"]),
        transport=httpx.MockTransport(FakePlatform([])),
    )
    third_party_tool_call(app_provider)
    assert lenient.close(timeout=10)
    assert strict.close(timeout=10)
    assert event_named(platform, "get_weather")["input"] == _ALL_MASKED


@pytest.mark.parametrize("strict_first", [True, False])
def test_capture_off_on_the_provider_still_sends_no_payload(
    app_provider: TracerProvider, strict_first: bool
) -> None:
    """With one client's `capture_payloads=False`, a third-party span's payloads set after it
    started are not sent by any pipeline, whichever client attached first (and so routes
    them)."""
    platform = FakePlatform([])

    def make_lenient() -> TracengentClient:
        return TracengentClient(platform_options(), transport=httpx.MockTransport(platform))

    def make_strict() -> TracengentClient:
        return TracengentClient(
            platform_options(agent_id="other-agent", capture_payloads=False),
            transport=httpx.MockTransport(platform),
        )

    clients = (make_strict(), make_lenient()) if strict_first else (make_lenient(), make_strict())
    third_party_tool_call(app_provider)
    user_event_span(app_provider)
    for client in clients:
        assert client.close(timeout=10)
    events = [e for e in platform.events() if e["name"] in ("get_weather", "charge")]
    assert len(events) == 2
    for event in events:
        assert not {"input", "output", "attributes"} & event.keys()


def test_recorder_payloads_go_unchanged_and_never_through_the_filter(
    no_global_provider: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder's payloads, scrubbed as they were set, go exactly as recorded: the
    exporter's filter is not called for them (only for the root request, which is no payload:
    once for the first event, once for the trace close)."""
    seen: list[tuple[str, str]] = []
    original = Scrubber.exported_payload

    def spy(self: Scrubber, key: str, text: str, trace_id: str | None = None) -> str | None:
        seen.append((key, text))
        return original(self, key, text, trace_id)

    monkeypatch.setattr(Scrubber, "exported_payload", spy)
    platform = FakePlatform([])
    client = TracengentClient(
        platform_options(scrub_patterns=["$.card"]), transport=httpx.MockTransport(platform)
    )
    with client.begin_trace("pay") as trace:
        trace.track_action(
            "pay", lambda: {"password": "x", "ok": 1}, input={"card": "4111", "amount": 5}
        )
        trace.step("think", {"card_number": "4111", "n": 2})
    assert client.close(timeout=10)
    assert seen == [(A.TRACE_ROOT_REQUEST, "pay")] * 2
    pay = event_named(platform, "pay")
    assert pay["input"] == {"card": MASK_TOKEN, "amount": 5}
    assert pay["output"] == {"password": MASK_TOKEN, "ok": 1}
    assert event_named(platform, "think")["attributes"] == {"card_number": MASK_TOKEN, "n": 2}


def test_zero_code_export_scrubs_payloads_set_after_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Zero code's export (`TRACENGENT_SCRUB_PATTERNS`) masks a third-party tool call's
    arguments set after its span started."""
    monkeypatch.setenv(env.TRACENGENT_AGENT_ID, "zero-agent")
    monkeypatch.setenv(env.TRACENGENT_URL, "http://platform.test")
    monkeypatch.setenv(env.TRACENGENT_INGEST_KEY, "agk_test")
    monkeypatch.setenv(env.TRACENGENT_SCRUB_PATTERNS, "*iban*,$.card")
    setup = configure_from_environment()
    platform = FakePlatform([])
    exporter = TracengentSpanExporter(
        **setup.exporter_arguments(), transport=httpx.MockTransport(platform)
    )
    provider = TracerProvider()
    for processor in [*setup.span_processors, setup.export_processor(exporter)]:
        provider.add_span_processor(processor)
    try:
        third_party_tool_call(provider)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    assert event_named(platform, "get_weather")["input"] == _ALL_MASKED


# The translator's filter, alone.


def _span(attrs: dict[str, AttributeValue]) -> ReadableSpan:
    return ReadableSpan(
        name="execute_tool lookup",
        context=SpanContext(0xABC, 0xDEF, is_remote=False),
        kind=SpanKind.CLIENT,
        attributes=attrs,
        start_time=START_NS,
        end_time=START_NS + 1_000_000,
        status=Status(StatusCode.UNSET),
    )


def test_the_filter_gets_each_payloads_attribute_and_none_sends_no_payload() -> None:
    """The filter is told which attribute a text came from and the decision trace of its span;
    what it returns is sent, None leaves that payload out (the event still goes), on the batch
    path and `event` alike."""
    calls: list[tuple[str, str | None]] = []

    def payload_filter(key: str, text: str, trace_id: str | None) -> str | None:
        calls.append((key, trace_id))
        return None if key == A.GEN_AI_TOOL_CALL_RESULT else '{"masked":true}'

    settings = TranslationSettings(
        agent_id="a", environment="e", default_tags=(), payload_filter=payload_filter
    )
    span = _span(
        {
            A.GEN_AI_OPERATION_NAME: "execute_tool",
            A.TRACE_ID: "trc_1",
            A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"password": "p"}',
            A.GEN_AI_TOOL_CALL_RESULT: '{"password": "p"}',
            A.ATTRIBUTES: "not json",
        }
    )
    translator = SpanTranslator(settings)
    batch = translator.translate([(span, A.attributes_of(span))])
    (request,) = batch.requests
    (sent,) = json.loads(request.json_array())
    event = translator.event(span, A.attributes_of(span))
    assert event is not None
    for wire in (sent, event):
        assert wire["input"] == {"masked": True}
        assert wire["attributes"] == {"masked": True}
        assert "output" not in wire
    keys = [A.GEN_AI_TOOL_CALL_ARGUMENTS, A.GEN_AI_TOOL_CALL_RESULT, A.ATTRIBUTES]
    assert calls == [(key, "trc_1") for key in keys] * 2


def test_a_filter_set_on_the_exporter_applies_and_withheld_payloads_stay_withheld() -> None:
    """`set_payload_filter` applies from the next batch; after `withhold_payloads` nothing is
    filtered or sent."""
    platform = FakePlatform([])
    exporter = TracengentSpanExporter(platform_options(), transport=httpx.MockTransport(platform))
    calls: list[str] = []

    def payload_filter(key: str, text: str, trace_id: str | None) -> str | None:
        calls.append(key)
        return Scrubber().exported_payload(key, text, trace_id)

    exporter.set_payload_filter(payload_filter)
    span = _span({A.EVENT_TYPE: "action", A.INPUT: '{"password": "p", "a": 1}'})
    exporter.export([span])
    exporter.withhold_payloads()
    exporter.export([span])
    exporter.shutdown()
    first, second = platform.events()
    assert first["input"] == {"password": MASK_TOKEN, "a": 1}
    assert "input" not in second
    assert calls == [A.INPUT]


def test_exported_payload_masks_names_paths_and_drops_with_capture_off() -> None:
    """`Scrubber.exported_payload`: a sensitive attribute name masks the whole text, JSON is
    scrubbed, other text is kept, capture off drops it, and scrubbing twice changes nothing."""
    scrubber = Scrubber(patterns=["$.card", "*arguments*"])
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, "{}") == MASK_TOKEN
    once = scrubber.exported_payload(A.INPUT, '{"card": 1, "api_key": "k", "x": [1]}')
    assert once == f'{{"card":"{MASK_TOKEN}","api_key":"{MASK_TOKEN}","x":[1]}}'
    assert scrubber.exported_payload(A.INPUT, once) == once
    assert scrubber.exported_payload(A.OUTPUT, "plain words") == "plain words"
    scrubber.tighten(capture_payloads=False)
    assert scrubber.exported_payload(A.INPUT, "{}") is None


def test_exported_payload_masks_the_paths_noted_for_its_trace_only() -> None:
    """`Scrubber.exported_payload` masks the JSON paths a decision trace's obligations added
    (`note_trace_paths`, all of them so far) in that trace's payloads, not in other traces'."""
    scrubber = Scrubber()
    scrubber.note_trace_paths("trc_a", ("$.card",))
    scrubber.note_trace_paths("trc_a", ("$.card", "$.iban"))
    text = '{"card":"4111","iban":"NO93","a":1}'
    assert scrubber.exported_payload(A.INPUT, text, "trc_a") == (
        f'{{"card":"{MASK_TOKEN}","iban":"{MASK_TOKEN}","a":1}}'
    )
    assert scrubber.exported_payload(A.INPUT, text, "trc_b") == text
    assert scrubber.exported_payload(A.INPUT, text) == text


def test_a_payload_set_as_a_sequence_after_start_is_filtered_too(
    no_global_provider: None,
) -> None:
    """A payload attribute user code sets as a sequence of texts once its span started goes
    through the same filter as text: JSON keys in its items masked, URL credentials redacted;
    with capture off, not sent."""
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    tracer = client.tracer_provider.get_tracer("my.app")
    with tracer.start_as_current_span("fetch", attributes={A.EVENT_TYPE: "action"}) as span:
        span.set_attribute(
            A.OUTPUT,
            ['{"password": "hunter2", "ok": 1}', "https://api.example/v1?api_key=sk-live-1", "ok"],
        )
    assert client.close(timeout=10)
    output = event_named(platform, "fetch")["output"]
    assert isinstance(output, list)
    assert len(output) == 3
    assert json.loads(output[0]) == {"password": MASK_TOKEN, "ok": 1}
    assert "sk-live-1" not in output[1]
    assert output[1].startswith("https://api.example/v1?api_key=")
    assert output[2] == "ok"

    off = FakePlatform([])
    quiet = TracengentClient(
        platform_options(capture_payloads=False), transport=httpx.MockTransport(off)
    )
    with quiet.tracer_provider.get_tracer("my.app").start_as_current_span(
        "fetch", attributes={A.EVENT_TYPE: "action"}
    ) as span:
        span.set_attribute(A.OUTPUT, ["hunter2"])
    assert quiet.close(timeout=10)
    assert "output" not in event_named(off, "fetch")
