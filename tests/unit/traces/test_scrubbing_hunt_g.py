"""Hunt G: scrubbing and payloads, what earlier reviews missed."""

from __future__ import annotations

import json
import logging
import sys
import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent._processors.context import ContextProcessor
from tracengent._scrubbing import Scrubber, ScrubbingProcessor


def _provider(scrubber: Scrubber) -> tuple[TracerProvider, InMemorySpanExporter]:
    """A provider as the client builds it (context, then scrubbing), with the user's own
    exporter (an in-memory one standing for OTLP or the console) after them."""
    provider = TracerProvider()
    provider.add_span_processor(ContextProcessor(scrub_text=scrubber.free_text))
    provider.add_span_processor(ScrubbingProcessor(scrubber))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_an_invoke_agent_traces_obligations_mask_payloads_spans_start_with() -> None:
    """An allow's `redactFields` in a trace an `invoke_agent` span opened (no `AgentTrace`:
    they are noted on the scrubber under the trace's id) mask the payloads a later span of that
    trace *starts* with, for the user's own exporters too, not only in what Tracengent's
    exporter sends."""
    scrubber = Scrubber()
    provider, exporter = _provider(scrubber)
    tracer = provider.get_tracer("agent-framework")
    with tracer.start_as_current_span(
        "invoke_agent refunds", attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent"}
    ) as root:
        trace_id = (getattr(root, "attributes", None) or {}).get(A.TRACE_ID)
        assert isinstance(trace_id, str)
        scrubber.add_trace_paths(trace_id, ["$.card"])  # what an allow's obligations do
        with tracer.start_as_current_span(
            "execute_tool refund",
            attributes={
                A.GEN_AI_OPERATION_NAME: "execute_tool",
                A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"card":"4111 1111 1111 1111","amount":280}',
            },
        ):
            pass
    (tool,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool refund"]
    assert (tool.attributes or {})[A.GEN_AI_TOOL_CALL_ARGUMENTS] == (
        f'{{"card":"{MASK_TOKEN}","amount":280}}'
    )


def test_another_traces_payloads_are_not_masked_by_its_obligations() -> None:
    """The noted paths are that trace's: a span of another trace starts with its payload."""
    scrubber = Scrubber()
    provider, exporter = _provider(scrubber)
    tracer = provider.get_tracer("agent-framework")
    agent = {A.GEN_AI_OPERATION_NAME: "invoke_agent"}
    with tracer.start_as_current_span("invoke_agent refunds", attributes=agent) as root:
        trace_id = (getattr(root, "attributes", None) or {}).get(A.TRACE_ID)
        assert isinstance(trace_id, str)
        scrubber.add_trace_paths(trace_id, ["$.card"])
    with (
        tracer.start_as_current_span("invoke_agent lookup", attributes=agent),
        tracer.start_as_current_span(
            "execute_tool lookup",
            attributes={
                A.GEN_AI_OPERATION_NAME: "execute_tool",
                A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"card":"4111"}',
            },
        ),
    ):
        pass
    (tool,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool lookup"]
    assert (tool.attributes or {})[A.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"card":"4111"}'


@pytest.mark.parametrize("lead", [" ", "\n", "\r\n", "\t", "\n  "])
def test_json_text_in_a_payload_string_after_whitespace_has_its_keys_masked(lead: str) -> None:
    """JSON text may start with whitespace (a raw request body, pretty-printed arguments): a
    payload string holding it has its keys masked as one without it does, where the payload is
    set and in a payload attribute a span starts with or the exporter sends."""
    scrubber = Scrubber()
    inner = f'{lead}{{"password": "hunter2", "n": 1}}'
    set_text = scrubber.payload_text({"body": inner})
    assert set_text is not None
    assert "hunter2" not in set_text
    assert json.loads(json.loads(set_text)["body"]) == {"password": MASK_TOKEN, "n": 1}
    attribute = json.dumps({"body": inner})
    for scrubbed in (
        scrubber.scrub_attribute(A.INPUT, attribute),
        scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, attribute),
    ):
        assert isinstance(scrubbed, str)
        assert "hunter2" not in scrubbed
        assert json.loads(json.loads(scrubbed)["body"]) == {"password": MASK_TOKEN, "n": 1}


def test_text_after_whitespace_that_is_not_json_is_kept() -> None:
    """A string that only starts with whitespace is text as before: kept as written."""
    scrubber = Scrubber()
    assert scrubber.payload_text({"note": "  [draft] refund 42"}) == (
        '{"note":"  [draft] refund 42"}'
    )


def test_json_text_encoded_twice_in_a_payload_string_has_its_keys_masked() -> None:
    """A payload string holding a JSON string of JSON text (arguments `json.dumps`ed twice): the
    keys of the inner text are masked, and the string keeps its shape (a JSON string of JSON)."""
    scrubber = Scrubber()
    twice = json.dumps(json.dumps({"api_key": "sk-live-123", "n": 1}))
    for scrubbed in (
        scrubber.payload_text({"arguments": twice}),
        scrubber.scrub_attribute(A.INPUT, json.dumps({"arguments": twice})),
    ):
        assert isinstance(scrubbed, str)
        assert "sk-live-123" not in scrubbed
        inner = json.loads(json.loads(json.loads(scrubbed)["arguments"]))
        assert inner == {"api_key": MASK_TOKEN, "n": 1}


def test_a_payload_string_in_quotes_that_holds_no_json_is_kept() -> None:
    """Quoted words, or a JSON string of plain text, are kept as written."""
    scrubber = Scrubber()
    for text in ('"refund" was asked twice', json.dumps("refund 42"), '"{not json"'):
        assert scrubber.payload_text({"note": text}) == json.dumps(
            {"note": text}, separators=(",", ":")
        )


@pytest.mark.parametrize("rule", ["$.orders.*.iban", "$.orders[*].iban"])
def test_a_scrub_path_with_a_wildcard_step_masks_every_element_there(
    rule: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`$.orders.*.iban` (or `[*]`) names the `iban` of every order: it was read as a path
    through a key literally named `*` and masked nothing, then as a name masked at any depth;
    now that the grammar has wildcard steps (`redaction.WILDCARD`) it is that path, exactly,
    with no warning: an `iban` elsewhere is not this rule's."""
    with caplog.at_level(logging.WARNING, logger="tracengent.scrubbing"):
        scrubber = Scrubber(patterns=[rule])
    assert scrubber.paths == (rule,)
    text = scrubber.payload_text(
        {"orders": [{"iban": "DE89 3704"}, {"iban": "FR76 3000", "n": 2}], "iban": "own", "n": 1}
    )
    assert text == (
        f'{{"orders":[{{"iban":"{MASK_TOKEN}"}},{{"iban":"{MASK_TOKEN}","n":2}}],'
        '"iban":"own","n":1}'
    )
    assert not caplog.records


def test_a_traces_noted_paths_apply_while_another_allow_adds_to_them() -> None:
    """Noting more paths for a trace (a second allow's `redactFields`) must never leave a moment
    in which the trace has none: the exporter's thread masking one of its payloads then would
    send the card. Noting took the entry out and put it back, and a reader in between got none."""
    scrubber = Scrubber()
    scrubber.add_trace_paths("trace-1", ["$.card"])
    payload = '{"card":"4111 1111 1111 1111"}'
    leaked: list[str] = []
    done = threading.Event()

    def export() -> None:
        while not done.is_set() and not leaked:
            text = scrubber.exported_payload(A.INPUT, payload, "trace-1")
            if text is None or "4111" in text:
                leaked.append(repr(text))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the window is a few steps
    exporter = threading.Thread(target=export)
    exporter.start()
    try:
        for index in range(20_000):
            if leaked:
                break
            scrubber.add_trace_paths("trace-1", ["$.card", f"$.extra{index % 3}"])
            scrubber.note_trace_paths("trace-1", ("$.card", "$.iban"))
    finally:
        done.set()
        exporter.join(timeout=30)
        sys.setswitchinterval(interval)
    assert not exporter.is_alive()
    assert leaked == []


def test_payload_text_set_in_an_invoke_agent_trace_applies_its_noted_paths() -> None:
    """`payload_text` (what the recorder scrubs its payloads with as it sets them) applies the
    paths noted for the decision trace of the current span when no `AgentTrace` gives any."""
    scrubber = Scrubber()
    provider, _ = _provider(scrubber)
    tracer = provider.get_tracer("agent-framework")
    agent = {A.GEN_AI_OPERATION_NAME: "invoke_agent"}
    with tracer.start_as_current_span("invoke_agent refunds", attributes=agent) as root:
        trace_id = (getattr(root, "attributes", None) or {}).get(A.TRACE_ID)
        assert isinstance(trace_id, str)
        assert scrubber.payload_text({"card": "4111"}) == '{"card":"4111"}'
        scrubber.add_trace_paths(trace_id, ["$.card"])
        assert scrubber.payload_text({"card": "4111"}) == f'{{"card":"{MASK_TOKEN}"}}'
        with tracer.start_as_current_span("plan"):
            assert scrubber.payload_text({"card": "4111"}) == f'{{"card":"{MASK_TOKEN}"}}'
    with tracer.start_as_current_span("invoke_agent lookup", attributes=agent):
        assert scrubber.payload_text({"card": "4111"}) == '{"card":"4111"}'
    assert scrubber.payload_text({"card": "4111"}) == '{"card":"4111"}'


@pytest.mark.parametrize(
    "scrubber",
    [Scrubber(patterns=["$.card"]), Scrubber()],
    ids=["scrub_patterns", "redact_fields"],
)
def test_json_paths_apply_to_a_payload_given_as_json_text(scrubber: Scrubber) -> None:
    """A payload handed over as the JSON text of an object (a model's tool-call `arguments`,
    passed on as they came) is that object: `$.card`, configured or an allow's `redactFields`,
    masks its card as it does in the object itself, where the payload is set and in a payload
    attribute (JSON text holding that text) a span starts with or the exporter sends."""
    paths = () if scrubber.paths else ("$.card",)
    arguments = '{"card": "4111 1111 1111 1111", "amount": 280}'
    set_text = scrubber.payload_text(arguments, redact_paths=paths)
    assert isinstance(set_text, str)
    assert json.loads(json.loads(set_text)) == {"card": MASK_TOKEN, "amount": 280}
    attribute = json.dumps(arguments)
    started = scrubber.scrub_attribute(A.INPUT, attribute, redact_paths=paths)
    assert isinstance(started, str)
    assert json.loads(json.loads(started)) == {"card": MASK_TOKEN, "amount": 280}
    if not paths:
        exported = scrubber.exported_payload(A.INPUT, attribute)
        assert isinstance(exported, str)
        assert json.loads(json.loads(exported)) == {"card": MASK_TOKEN, "amount": 280}


def test_json_text_a_path_does_not_resolve_in_is_kept_as_written() -> None:
    """Nothing to mask: the payload's text stays byte for byte."""
    scrubber = Scrubber(patterns=["$.card"])
    assert scrubber.payload_text('{"amount": 280}') == json.dumps('{"amount": 280}')
