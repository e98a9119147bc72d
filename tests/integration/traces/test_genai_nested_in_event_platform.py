"""`track_llm_call` around an instrumented LLM SDK, against the real local platform: the
instrumentation's `chat` span nested in our `llm_call` event is the same call, stored once and
counted once against the agent's token budget."""

from __future__ import annotations

from opentelemetry.util.types import AttributeValue

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from tracengent import LlmCallResult, _state
from tracengent.testing import RunningPlatform

CHAT: dict[str, AttributeValue] = {
    A.GEN_AI_OPERATION_NAME: "chat",
    A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    A.GEN_AI_USAGE_INPUT_TOKENS: 30,
    A.GEN_AI_USAGE_OUTPUT_TOKENS: 12,
}


def test_wrapped_instrumented_llm_call_is_stored_and_counted_once(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """One `llm_call` event stored (ours, with the user's usage); the budget's used tokens are
    that call's 42, not 84; a plain instrumented chat beside it is still its own event."""
    client = tracengent.TracengentClient(tracengent_platform.options())
    try:
        tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")

        def call() -> LlmCallResult:
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT):
                pass
            return LlmCallResult("answer", tokens=42, model="gpt-4o-mini")

        with client.begin_trace("summarize the refund") as trace:
            trace.track_llm_call("summarize", call, estimated_tokens=100)
            with tracer.start_as_current_span("chat unwrapped", attributes=CHAT):
                pass
        assert client.close(timeout=10)
    finally:
        _state.reset_for_tests()
    stored = [e.body for e in tracengent_platform.store.events()]
    assert [(e["name"], e["type"]) for e in stored] == [
        ("summarize", "llm_call"),
        ("chat unwrapped", "llm_call"),
    ]
    assert stored[0]["usage"] == {"tokens": 42, "model": "gpt-4o-mini"}
    usage = tracengent_platform.store.token_usage("demo-agent")
    assert (usage.used, usage.reserved) == (84, 0)
