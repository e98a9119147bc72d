"""The JSON paths noted for a decision trace's obligations are kept for a bounded number of
traces; a trace whose paths were forgotten has its later payloads withheld, never sent
unredacted (`Scrubber.trace_paths` returns None for it)."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent import TracengentClient, _scrubbing
from tracengent._scrubbing import Scrubber, ScrubbingProcessor

from .conftest import platform_options

ARGUMENTS = '{"card":"4111 1111 1111 1111","amount":280}'
MASKED = f'{{"card":"{MASK_TOKEN}","amount":280}}'
LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_scrubbing, "_TRACE_PATHS_LIMIT", LIMIT)


def _forget_trace_a(scrubber: Scrubber) -> None:
    """Note `$.card` for trace `trc_a`, then as many other traces as evict it."""
    scrubber.note_trace_paths("trc_a", ("$.card",))
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS, "trc_a") == MASKED
    for number in range(LIMIT):
        scrubber.add_trace_paths(f"trc_other_{number}", ["$.iban"])


def test_a_forgotten_traces_payload_is_withheld_and_counted() -> None:
    """Trace A's paths evicted by later traces' obligations: a payload of A set after its span
    started (the exporter's filter) is withheld (None) and counted, not sent with the card."""
    scrubber = Scrubber()
    _forget_trace_a(scrubber)
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS, "trc_a") is None
    assert scrubber.withheld_payloads == 1
    # Text that is not JSON is withheld as well: which keys it must not show is unknown.
    assert scrubber.exported_payload(A.OUTPUT, "card: 4111", "trc_a") is None
    assert scrubber.withheld_payloads == 2
    # The traces still noted keep their own paths; the root request is free text, kept.
    assert scrubber.exported_payload(A.INPUT, '{"iban":"DE1"}', "trc_other_2") == (
        f'{{"iban":"{MASK_TOKEN}"}}'
    )
    assert scrubber.exported_payload(A.TRACE_ROOT_REQUEST, "refund", "trc_a") == "refund"
    assert scrubber.withheld_payloads == 2


def test_a_trace_never_noted_keeps_its_payload() -> None:
    """Forgetting withholds only the forgotten traces' payloads: one of a trace never noted, or
    of none, is sent as it is."""
    scrubber = Scrubber()
    _forget_trace_a(scrubber)
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS, "trc_b") == ARGUMENTS
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS) == ARGUMENTS
    assert scrubber.trace_paths("trc_b") == ()
    assert scrubber.withheld_payloads == 0


def test_a_forgotten_trace_noted_again_has_its_paths_again() -> None:
    """An `AgentTrace` notes all its paths so far each time: noted again after it was
    forgotten, its payloads are masked with them again instead of withheld."""
    scrubber = Scrubber()
    _forget_trace_a(scrubber)
    scrubber.note_trace_paths("trc_a", ("$.card",))
    assert scrubber.trace_paths("trc_a") == ("$.card",)
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS, "trc_a") == MASKED
    assert scrubber.withheld_payloads == 0


def test_add_trace_paths_does_not_revive_a_forgotten_trace() -> None:
    """`add_trace_paths` adds one obligation's paths: for a forgotten trace the earlier ones are
    unknown, so it stays forgotten and its payloads withheld (masking only `$.iban` would send
    the card)."""
    scrubber = Scrubber()
    scrubber.add_trace_paths("trc_a", ["$.card"])
    for number in range(LIMIT):
        scrubber.add_trace_paths(f"trc_other_{number}", ["$.iban"])
    scrubber.add_trace_paths("trc_a", ["$.iban"])
    assert scrubber.trace_paths("trc_a") is None
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS, "trc_a") is None


def test_note_trace_paths_keeps_the_paths_added_before() -> None:
    """Noting an `AgentTrace`'s paths adds them to those `add_trace_paths` noted under the same
    id (an obligation decided where that trace was not current), instead of replacing them."""
    scrubber = Scrubber()
    scrubber.add_trace_paths("trc_a", ["$.iban"])
    scrubber.note_trace_paths("trc_a", ("$.card",))
    assert scrubber.trace_paths("trc_a") == ("$.iban", "$.card")


def test_a_span_of_a_forgotten_trace_starts_with_its_payloads_masked() -> None:
    """`ScrubbingProcessor.on_start`: a span stamped with a forgotten trace's id starts with
    its payload attributes masked whole (attributes cannot be removed), other attributes kept."""
    scrubber = Scrubber()
    _forget_trace_a(scrubber)
    provider = TracerProvider()
    provider.add_span_processor(ScrubbingProcessor(scrubber))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("agent-framework")
    for trace_id in ("trc_a", "trc_b"):
        with tracer.start_as_current_span(
            f"execute_tool {trace_id}",
            attributes={
                A.TRACE_ID: trace_id,
                A.GEN_AI_OPERATION_NAME: "execute_tool",
                A.GEN_AI_TOOL_CALL_ARGUMENTS: ARGUMENTS,
            },
        ):
            pass
    forgotten, never_noted = memory.get_finished_spans()
    assert dict(forgotten.attributes or {}) == {
        A.TRACE_ID: "trc_a",
        A.GEN_AI_OPERATION_NAME: "execute_tool",
        A.GEN_AI_TOOL_CALL_ARGUMENTS: MASK_TOKEN,
    }
    assert (never_noted.attributes or {})[A.GEN_AI_TOOL_CALL_ARGUMENTS] == ARGUMENTS
    assert scrubber.withheld_payloads == 1


def test_a_payload_set_in_a_forgotten_trace_is_dropped() -> None:
    """`payload_text` inside a span stamped with a forgotten trace (one an `invoke_agent` span
    opened: no `AgentTrace` holds its paths) drops the payload; in a trace never noted it is
    recorded."""
    scrubber = Scrubber()
    _forget_trace_a(scrubber)
    tracer = TracerProvider().get_tracer("agent-framework")
    value = {"card": "4111 1111 1111 1111", "amount": 280}
    with tracer.start_as_current_span("step", attributes={A.TRACE_ID: "trc_a"}):
        assert scrubber.payload_text(value) is None
    with tracer.start_as_current_span("step", attributes={A.TRACE_ID: "trc_b"}):
        assert scrubber.payload_text(value) == ARGUMENTS
    assert scrubber.withheld_payloads == 1


def test_the_exporter_sends_a_forgotten_traces_event_without_its_payload() -> None:
    """Through the exporter's translation, with the scrubber as its payload filter: the tool
    call of a forgotten trace is sent, without the arguments set after it started."""
    scrubber = Scrubber()
    _forget_trace_a(scrubber)
    settings = TranslationSettings(
        agent_id="a", environment="e", default_tags=(), payload_filter=scrubber.exported_payload
    )
    spans = [
        ReadableSpan(
            name="execute_tool refund",
            context=SpanContext(0xABC, 0x100 + number, is_remote=False),
            kind=SpanKind.INTERNAL,
            attributes={
                A.TRACE_ID: trace_id,
                A.GEN_AI_OPERATION_NAME: "execute_tool",
                A.GEN_AI_TOOL_NAME: "refund",
                A.GEN_AI_TOOL_CALL_ARGUMENTS: ARGUMENTS,
            },
            start_time=1_795_515_302_000_000_000,
            end_time=1_795_515_302_001_000_000,
            status=Status(StatusCode.UNSET),
        )
        for number, trace_id in enumerate(("trc_a", "trc_b"))
    ]
    batch = SpanTranslator(settings).translate([(s, A.attributes_of(s)) for s in spans])
    (request,) = batch.requests
    forgotten, never_noted = json.loads(request.json_array())
    assert forgotten["traceId"] == "trc_a"
    assert "input" not in forgotten
    assert "4111" not in json.dumps(forgotten)
    assert never_noted["input"] == json.loads(ARGUMENTS)
    assert scrubber.withheld_payloads == 1


def test_no_obligations_leave_the_map_empty_and_nothing_remembered() -> None:
    """The common case stays as cheap: without obligations nothing is noted, and the filter of
    forgotten traces is made only when the first trace is forgotten."""
    scrubber = Scrubber()
    assert scrubber.exported_payload(A.INPUT, ARGUMENTS, "trc_a") == ARGUMENTS
    assert scrubber.trace_paths("trc_a") == ()
    assert not scrubber._trace_paths
    assert scrubber._forgotten is None
    for number in range(LIMIT):
        scrubber.add_trace_paths(f"trc_{number}", ["$.card"])
    assert scrubber._forgotten is None
    scrubber.add_trace_paths("trc_last", ["$.card"])
    assert scrubber._forgotten is not None


def test_the_forgotten_filter_never_misses_and_rarely_mistakes() -> None:
    """Every forgotten id is found (no payload of one is ever sent unredacted); ids never
    forgotten are found rarely (their payloads withheld by mistake): none of 20,000 after
    20,000 evictions is expected (about 1e-8 each)."""
    forgotten = _scrubbing._ForgottenTraces()
    ids = [f"trc_01JQ{number:020d}ABCDEFGHJKMNPQRS" for number in range(20_000)]
    for trace_id in ids:
        forgotten.add(trace_id)
    assert all(trace_id in forgotten for trace_id in ids)
    mistaken = sum(f"trc_other_{number:020d}" in forgotten for number in range(20_000))
    assert mistaken <= 2


def test_a_reader_never_sees_a_forgotten_traces_payload_unredacted() -> None:
    """The export thread reads without the lock while an agent thread evicts: each payload of
    trace A comes back masked (still noted) or withheld (forgotten), never as it was set."""
    scrubber = Scrubber()
    scrubber.note_trace_paths("trc_a", ("$.card",))
    seen: set[str | None] = set()
    done = threading.Event()

    def evict() -> None:
        for number in range(2_000):
            scrubber.add_trace_paths(f"trc_other_{number}", ["$.iban"])
            if number % 97 == 0:
                scrubber.note_trace_paths("trc_a", ("$.card",))
        done.set()

    writer = threading.Thread(target=evict)
    writer.start()
    while not done.is_set():
        seen.add(scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS, "trc_a"))
    writer.join()
    seen.add(scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, ARGUMENTS, "trc_a"))
    assert seen <= {MASKED, None}
    assert None in seen


def test_a_clients_delivery_stats_count_the_payloads_withheld(no_global_provider: None) -> None:
    """`delivery_stats` reports them beside the other counts: an event sent without its payload
    is visible where the user looks for what did not go out."""
    client = TracengentClient(
        platform_options(), transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    try:
        assert client.delivery_stats["payloads_withheld"] == 0
        scrubber = client.recorder.scrubber
        _forget_trace_a(scrubber)
        assert scrubber.exported_payload(A.INPUT, ARGUMENTS, "trc_a") is None
        assert client.delivery_stats["payloads_withheld"] == 1
    finally:
        client.close()
