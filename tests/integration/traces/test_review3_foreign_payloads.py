"""Payloads a third-party instrumentation sets after its span started, against the real local
platform: what the platform stores is scrubbed (default names, `scrub_patterns`, JSON paths),
while the recorder's own payloads are stored as recorded."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent.testing import RunningPlatform


def test_a_third_party_tool_calls_arguments_set_after_start_are_stored_masked(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """An `execute_tool` span of another instrumentation, inside a decision trace, that sets
    its arguments and result after it started: the platform stores them masked; the trace's
    recorded action beside it keeps its payload as recorded."""
    client = tracengent.TracengentClient(
        tracengent_platform.options(scrub_patterns=["*iban*", "$.card"])
    )
    tracer = app_provider.get_tracer("some.genai.instrumentation")
    with client.begin_trace("weather for a payment") as trace:
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            kind=SpanKind.INTERNAL,
            attributes={
                A.GEN_AI_OPERATION_NAME: "execute_tool",
                A.GEN_AI_TOOL_NAME: "get_weather",
            },
        ) as span:
            span.set_attribute(
                A.GEN_AI_TOOL_CALL_ARGUMENTS,
                json.dumps(
                    {
                        "city": "Oslo",
                        "password": "hunter2",
                        "card_number": "4111 1111 1111 1111",
                        "iban": "NO93 8601 1117 947",
                        "card": {"cvc": "123"},
                    }
                ),
            )
            span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, '{"api_key": "sk-1", "temp": 3}')
        trace.track_action("pay", lambda: "paid", input={"amount": 5, "note": "a  b"})
    assert client.close(timeout=10)
    assert client.dropped_count == 0
    (stored,) = [
        t for t in tracengent_platform.store.traces() if t.root_request == "weather for a payment"
    ]
    events = {e.body["name"]: e.body for e in stored.events}
    assert events["get_weather"]["input"] == {
        "city": "Oslo",
        "password": MASK_TOKEN,
        "card_number": MASK_TOKEN,
        "iban": MASK_TOKEN,
        "card": MASK_TOKEN,
    }
    assert events["get_weather"]["output"] == {"api_key": MASK_TOKEN, "temp": 3}
    assert events["pay"]["input"] == {"amount": 5, "note": "a  b"}
    assert events["pay"]["output"] == "paid"


def test_a_traces_redact_fields_mask_payloads_set_after_their_span_started(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """An authorization's `redactFields` obligation (`$.card` on `payments:refund`) masks, in
    what the platform stores, the payloads of the trace's spans that were set after they
    started (a third-party tool span's arguments and result, user code's `tracengent.output`),
    as it masks those the trace records itself."""
    client = tracengent.TracengentClient(tracengent_platform.options())
    tracer = app_provider.get_tracer("some.genai.instrumentation")
    with client.begin_trace("refund order 42") as trace:
        obligations = client.ensure_authorized("payments:refund", {"amount": 280})
        assert obligations is not None
        assert obligations.redact_fields == ["$.card"]
        with tracer.start_as_current_span(
            "execute_tool refund",
            attributes={A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "refund"},
        ) as span:
            span.set_attribute(
                A.GEN_AI_TOOL_CALL_ARGUMENTS, '{"card": "4111 1111 1111 1111", "amount": 280}'
            )
            span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, '{"card": "4111", "refunded": true}')
        with tracer.start_as_current_span("receipt", attributes={A.EVENT_TYPE: "action"}) as span:
            span.set_attribute(A.OUTPUT, '{"card": "4111", "sent": true}')
        trace.step("done", {"card": "4111"})
    assert client.close(timeout=10)
    (stored,) = [
        t for t in tracengent_platform.store.traces() if t.root_request == "refund order 42"
    ]
    events = {e.body["name"]: e.body for e in stored.events}
    assert events["refund"]["input"] == {"card": MASK_TOKEN, "amount": 280}
    assert events["refund"]["output"] == {"card": MASK_TOKEN, "refunded": True}
    assert events["receipt"]["output"] == {"card": MASK_TOKEN, "sent": True}
    assert events["done"]["attributes"] == {"card": MASK_TOKEN}
