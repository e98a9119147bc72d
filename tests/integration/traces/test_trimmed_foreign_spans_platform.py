"""A foreign GenAI span trimmed by the SDK's attribute count limit, against the real local
platform: its event is stored, in its decision trace, and nothing is counted dropped."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from tracengent.testing import RunningPlatform

PROMPTS = 200
"""Prompt attributes an OpenLLMetry-style instrumentation sets: past the SDK's limit (128)."""


def test_a_trimmed_chat_span_is_stored_in_its_decision_trace(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """The chat span lost `gen_ai.operation.name` and its trace stamps to the SDK; the platform
    still stores it as the trace's `llm_call`, between the trace's other events."""
    client = tracengent.TracengentClient(
        tracengent.TracengentOptions(
            agent_id="demo-agent",
            base_url=tracengent_platform.url,
            client_id="key_demo",
            client_secret="ags_demo",
        )
    )
    tracer = app_provider.get_tracer("opentelemetry.instrumentation.openai")
    with client.begin_trace("summarize the ticket") as trace:
        trace.step("read ticket")
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            attributes={A.GEN_AI_OPERATION_NAME: "chat", A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"},
        ) as span:
            for i in range(PROMPTS):
                span.set_attribute(f"gen_ai.prompt.{i}.content", f"message {i}")
        trace.step("answer")
    assert client.close(timeout=10)
    assert client.dropped_count == 0
    (stored,) = [
        t for t in tracengent_platform.store.traces() if t.root_request == "summarize the ticket"
    ]
    assert [(e.body["name"], e.body["type"]) for e in stored.events] == [
        ("read ticket", "decision"),
        ("chat gpt-4o-mini", "llm_call"),
        ("answer", "decision"),
    ]
    read, chat, answer = (e.body for e in stored.events)
    assert chat["parentEventId"] == read["eventId"]
    assert answer["parentEventId"] == chat["eventId"]
    assert stored.status == "completed"
