"""A GenAI span nested in a Tracengent event of its kind is that event's call, not a second one.

`trace.track_llm_call` around an instrumented LLM SDK (openai-v2's `chat` span inside it), or
`trace.track_tool_call` / our MCP span around a third-party `execute_tool` span, is one call:
one event, its usage counted once (the user's report). Through the whole pipeline: our
processors, the exporter, the wire events a (fake) platform receives.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import LlmCallResult
from tests.unit.traces.conftest import ClientHarness

CHAT: dict[str, AttributeValue] = {
    A.GEN_AI_OPERATION_NAME: "chat",
    A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    A.GEN_AI_USAGE_INPUT_TOKENS: 30,
    A.GEN_AI_USAGE_OUTPUT_TOKENS: 12,
}
TOOL: dict[str, AttributeValue] = {
    A.GEN_AI_OPERATION_NAME: "execute_tool",
    A.GEN_AI_TOOL_NAME: "lookup",
}
HTTP: dict[str, AttributeValue] = {
    A.HTTP_REQUEST_METHOD: "POST",
    A.URL_FULL: "https://llm.example/v1/chat/completions",
}


def _events(harness: ClientHarness) -> list[dict[str, object]]:
    assert harness.client.close(timeout=10)
    return harness.platform.events()


def test_instrumented_chat_inside_track_llm_call_is_one_event(
    client_harness: ClientHarness,
) -> None:
    """The instrumentation's chat span (and its HTTP span) inside `track_llm_call` are the
    same call: one `llm_call` event with the user's usage, counted once."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")

    def call() -> LlmCallResult:
        with (
            tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT),
            tracer.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes=HTTP),
        ):
            pass
        return LlmCallResult("answer", tokens=42, model="gpt-4o-mini")

    with client.begin_trace("summarize") as trace:
        assert trace.track_llm_call("summarize", call) == "answer"
        trace.step("after")
    events = _events(client_harness)
    assert [(e["name"], e["type"]) for e in events] == [
        ("summarize", "llm_call"),
        ("after", "decision"),
    ]
    llm, after = events
    assert llm["usage"] == {"tokens": 42, "model": "gpt-4o-mini"}
    assert after["parentEventId"] == llm["eventId"]
    chat = client_harness.span("chat gpt-4o-mini").attributes or {}
    assert chat[A.EVENT_ABSORBED] is True


def test_chat_nested_deeper_with_no_event_between_is_still_the_same_call(
    client_harness: ClientHarness,
) -> None:
    """A plain (non-event) span between the two does not make the chat a second call."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("framework")

    def call() -> LlmCallResult:
        with (
            tracer.start_as_current_span("framework step"),
            tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT),
        ):
            pass
        return LlmCallResult("answer", tokens=42)

    with client.begin_trace("summarize") as trace:
        trace.track_llm_call("summarize", call)
    events = _events(client_harness)
    assert [e["name"] for e in events] == ["summarize"]
    assert events[0]["usage"] == {"tokens": 42}


def test_two_sibling_chats_in_an_action_stay_two_events(client_harness: ClientHarness) -> None:
    """GenAI spans under an event of another kind are events of their own, as before."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")

    def act() -> None:
        for name in ("chat one", "chat two"):
            with tracer.start_as_current_span(name, attributes=CHAT):
                pass

    with client.begin_trace("plan") as trace:
        trace.track_action("plan", act)
    events = _events(client_harness)
    assert [(e["name"], e["type"]) for e in events] == [
        ("chat one", "llm_call"),
        ("chat two", "llm_call"),
        ("plan", "action"),
    ]
    assert [e["usage"] for e in events[:2]] == [{"tokens": 42, "model": "gpt-4o-mini"}] * 2


def test_plain_zero_code_chat_is_still_an_event(client_harness: ClientHarness) -> None:
    """A GenAI span under no Tracengent event becomes its event, with its own usage."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    with (
        client.begin_trace("answer"),
        tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT),
    ):
        pass
    (event,) = _events(client_harness)
    assert event["type"] == "llm_call"
    assert event["usage"] == {"tokens": 42, "model": "gpt-4o-mini"}


def test_chat_inside_a_tool_call_is_still_an_event(client_harness: ClientHarness) -> None:
    """Only an event of the same kind stands for a GenAI span: an LLM call a tool makes is
    an event of its own."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")

    def tool() -> str:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT):
            pass
        return "ok"

    with client.begin_trace("answer") as trace:
        trace.track_tool_call("lookup", tool)
    events = _events(client_harness)
    assert [(e["name"], e["type"]) for e in events] == [
        ("chat gpt-4o-mini", "llm_call"),
        ("lookup", "tool_call"),
    ]
    assert events[0]["parentEventId"] == events[1]["eventId"]


def test_execute_tool_inside_track_tool_call_is_one_event(client_harness: ClientHarness) -> None:
    """A third-party `execute_tool` span inside `track_tool_call` is the same tool call."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("openllmetry")

    def tool() -> str:
        with tracer.start_as_current_span("execute_tool lookup", attributes=TOOL):
            pass
        return "ok"

    with client.begin_trace("answer") as trace:
        trace.track_tool_call("lookup", tool)
    events = _events(client_harness)
    assert [(e["name"], e["type"]) for e in events] == [("lookup", "tool_call")]


def test_execute_tool_inside_our_mcp_span_is_one_event(client_harness: ClientHarness) -> None:
    """OTel contrib's MCP span inside ours (our wrapper installed over contrib's) is the same
    call: our MCP span is a Tracengent `tool_call` event."""
    from opentelemetry.instrumentation.tracengent_mcp._flow import TOOL_CALL_ATTRIBUTES

    client = client_harness.client
    ours = client.tracer_provider.get_tracer("opentelemetry.instrumentation.tracengent_mcp")
    contrib = client.tracer_provider.get_tracer("opentelemetry.instrumentation.mcp")
    with (
        client.begin_trace("answer"),
        ours.start_as_current_span(
            "execute_tool lookup", attributes={**TOOL_CALL_ATTRIBUTES, **TOOL}
        ),
        contrib.start_as_current_span("tools/call lookup", attributes=TOOL),
    ):
        pass
    events = _events(client_harness)
    assert [(e["name"], e["type"]) for e in events] == [("lookup", "tool_call")]


def test_standalone_tool_absorbs_its_execute_tool_outside_a_trace(
    client_harness: ClientHarness,
) -> None:
    """Outside a decision trace too (a client's own `tool` decorator)."""
    client = client_harness.client
    tracer = client.tracer_provider.get_tracer("openllmetry")

    @client.tool()
    def lookup() -> str:
        with tracer.start_as_current_span("execute_tool lookup", attributes=TOOL):
            pass
        return "ok"

    assert lookup() == "ok"
    events = _events(client_harness)
    assert [(e["name"], e["type"]) for e in events] == [("lookup", "tool_call")]
    assert "traceId" not in events[0]
