"""ContextProcessor on spans from other instrumentations: GenAI, HTTP, governance spans."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import Span
from opentelemetry.trace import SpanKind

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import AGENT_ID, Harness
from tracengent._processors.context import ContextProcessor, root_request_from_messages

HTTP = {A.HTTP_REQUEST_METHOD: "POST", A.URL_FULL: "https://llm.example/v1/chat"}


def test_http_span_under_llm_span_is_absorbed(harness: Harness) -> None:
    """An HTTP client span inside a GenAI chat span gets no Tracengent attributes."""
    tracer = harness.provider.get_tracer("genai")
    chat = {A.GEN_AI_OPERATION_NAME: "chat"}
    with (
        harness.begin() as trace,
        tracer.start_as_current_span("chat m", attributes=chat),
        tracer.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes=HTTP),
    ):
        pass
    http_attrs = harness.span("POST").attributes or {}
    assert A.TRACE_ID not in http_attrs
    assert A.EVENT_PARENT_ID not in http_attrs
    assert harness.attr("chat m", A.TRACE_ID) == trace.trace_id
    assert harness.attr("chat m", A.TRACE_ROOT_REQUEST) == "do it"


def test_http_span_under_plain_span_is_a_tool_call_event(harness: Harness) -> None:
    """An HTTP client span in a trace but under no LLM/tool event becomes a chained event."""
    tracer = harness.provider.get_tracer("http")
    with harness.begin() as trace:
        trace.step("first")
        with (
            tracer.start_as_current_span("internal work"),
            tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=HTTP),
        ):
            pass
    assert harness.attr("internal work", A.TRACE_ID) == trace.trace_id
    assert harness.attr("internal work", A.EVENT_PARENT_ID) is None
    assert harness.attr("GET", A.TRACE_ID) == trace.trace_id
    assert harness.attr("GET", A.EVENT_PARENT_ID) == harness.event_id("first")
    assert harness.attr("GET", A.GEN_AI_AGENT_ID) == AGENT_ID


def test_http_span_under_decision_event_is_not_absorbed(harness: Harness) -> None:
    """Only LLM and tool events absorb HTTP spans; an action's HTTP call is its own event."""
    tracer = harness.provider.get_tracer("http")

    def act() -> None:
        with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=HTTP):
            pass

    with harness.begin() as trace:
        trace.track_action("act", act)
    assert harness.attr("GET", A.EVENT_PARENT_ID) == harness.event_id("act")


def test_http_span_outside_a_trace_gets_nothing(harness: Harness) -> None:
    """Outside a decision trace an untracked HTTP span is left alone."""
    tracer = harness.provider.get_tracer("http")
    with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=HTTP):
        pass
    assert A.TRACE_ID not in (harness.span("GET").attributes or {})
    assert harness.context.open_span_count == 0


def test_tracked_tool_call_outside_a_trace_absorbs_its_http_span(harness: Harness) -> None:
    """A standalone tracked tool call gets no stamps, is remembered while it runs (its HTTP
    span is absorbed, not a second event) and forgotten when it ends."""
    tracer = harness.provider.get_tracer("http")
    open_during: list[int] = []

    def call() -> None:
        open_during.append(harness.context.open_span_count)
        with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=HTTP):
            pass

    active = harness.recorder.open("lookup", {A.EVENT_TYPE: "tool_call"}, None)
    assert active is not None
    call()
    harness.recorder.close_ok(active, None, None)
    assert open_during == [1]
    assert harness.context.open_span_count == 0
    attrs = harness.span("lookup").attributes or {}
    assert A.TRACE_ID not in attrs
    assert A.EVENT_PARENT_ID not in attrs
    get = harness.span("GET").attributes or {}
    assert A.TRACE_ID not in get
    assert A.EVENT_PARENT_ID not in get
    assert A.EVENT_TYPE not in get


def test_execute_tool_span_is_an_event_with_explicit_id(harness: Harness) -> None:
    """An execute_tool span is an event; an explicit event id is the one children follow."""
    tracer = harness.provider.get_tracer("genai")
    attrs = {A.GEN_AI_OPERATION_NAME: "execute_tool", A.EVENT_ID: "evt_given"}
    with (
        harness.begin() as trace,
        tracer.start_as_current_span("execute_tool lookup", attributes=attrs),
    ):
        trace.step("inside")
    assert harness.attr("inside", A.EVENT_PARENT_ID) == "evt_given"


def test_governance_span_gets_trace_id_but_is_not_an_event(harness: Harness) -> None:
    """A governance span is stamped with the trace id but takes no place in the event chain."""
    tracer = harness.provider.get_tracer("gov")
    with harness.begin() as trace:
        trace.step("one")
        with tracer.start_as_current_span("authorize", attributes={A.GOVERNANCE_KIND: "authorize"}):
            pass
        trace.step("two")
    gov = harness.span("authorize").attributes or {}
    assert gov[A.TRACE_ID] == trace.trace_id
    assert A.EVENT_PARENT_ID not in gov
    assert harness.attr("two", A.EVENT_PARENT_ID) == harness.event_id("one")


def test_on_start_failure_is_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A span the processor cannot read is counted, logged once, and nothing is raised."""

    class Broken(Span):
        def __init__(self) -> None:
            pass

        @property
        def attributes(self) -> object:  # type: ignore[override]
            raise RuntimeError("unreadable")

    processor = ContextProcessor()
    with caplog.at_level(logging.WARNING, logger="tracengent.context"):
        processor.on_start(Broken())
        processor.on_start(Broken())
    assert processor.failures == 2
    assert len(caplog.records) == 1


def test_explicit_root_request_on_first_event_is_kept(harness: Harness) -> None:
    """A user's event that names its own root request keeps it."""
    from opentelemetry.exporter.tracengent.wire import AgentEvent

    with harness.begin("from the root") as trace:
        trace.record(AgentEvent(name="first", type="action", root_request="my own"))
        trace.step("second")
    assert harness.attr("first", A.TRACE_ROOT_REQUEST) == "my own"
    assert harness.attr("second", A.TRACE_ROOT_REQUEST) is None


def test_root_request_comes_from_genai_input_messages_when_not_given(harness: Harness) -> None:
    """An agent framework's invoke_agent root names its request through gen_ai.input.messages."""
    messages = json.dumps(
        [
            {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
            {"role": "user", "parts": [{"type": "text", "content": "refund order 42"}]},
        ]
    )
    tracer = harness.recorder.tracer
    with (
        tracer.start_as_current_span(
            "invoke_agent bot",
            attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent", A.GEN_AI_INPUT_MESSAGES: messages},
        ),
        tracer.start_as_current_span("step", attributes={A.EVENT_TYPE: "decision"}),
    ):
        pass
    assert harness.attr("step", A.TRACE_ROOT_REQUEST) == "refund order 42"
    assert harness.attr("invoke_agent bot", A.TRACE_ROOT_REQUEST) == "refund order 42"


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ('[{"role": "user", "content": "old shape"}]', "old shape"),
        ('[{"role": "assistant", "content": "no user"}]', None),
        ("not json", None),
        ('{"role": "user"}', None),
        (None, None),
    ],
)
def test_root_request_from_messages_reads_both_shapes_and_nothing_else(
    messages: str | None, expected: str | None
) -> None:
    """Only a user message's text becomes the root request."""
    assert root_request_from_messages(messages) == expected


def test_events_outside_a_trace_format_no_id_on_the_agents_thread(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an event of a decision trace can be followed, so only its id is formatted when it
    starts; a standalone tracked call and a plain tool span outside a trace format none."""
    import tracengent._processors.context as context_module
    from opentelemetry.exporter.tracengent.ids import event_id_for as original

    formatted: list[tuple[int, int]] = []

    def counting(trace_id: int, span_id: int) -> str:
        formatted.append((trace_id, span_id))
        return original(trace_id, span_id)

    monkeypatch.setattr(context_module, "event_id_for", counting)
    tracer = harness.provider.get_tracer("genai")
    active = harness.recorder.open("lookup", {A.EVENT_TYPE: "tool_call"}, None)
    assert active is not None
    harness.recorder.close_ok(active, None, None)
    with tracer.start_as_current_span("tool", attributes={A.GEN_AI_OPERATION_NAME: "execute_tool"}):
        pass
    assert formatted == []
    with harness.begin() as trace:
        trace.step("first")
        trace.track_action("act", lambda: None)
    assert formatted  # in a trace the ids are formatted: the next event follows them
    assert harness.attr("act", A.EVENT_PARENT_ID) == harness.event_id("first")
