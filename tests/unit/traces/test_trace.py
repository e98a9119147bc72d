"""AgentTrace on OTel spans: attributes, event chaining, failure marking, nesting."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.trace import NoOpTracer, Span, SpanKind, StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from opentelemetry.exporter.tracengent.wire import (
    AgentEvent,
    AuthDecision,
    LlmCallResult,
    Money,
    Usage,
)
from tests.unit.traces.conftest import AGENT_ID, Harness
from tracengent import current_trace
from tracengent._recording import Recorder
from tracengent._scrubbing import Scrubber
from tracengent._trace import begin_trace


class AgentError(Exception):
    """The agent's own exception."""


def test_root_span_carries_trace_attributes(harness: Harness) -> None:
    """The root is an invoke_agent span with agent, request, actor and the Tracengent trace id."""
    with harness.begin("refund order 7", actor_user_id="user-1") as trace:
        pass
    root = harness.span(f"invoke_agent {AGENT_ID}")
    attrs = root.attributes or {}
    assert attrs[A.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert attrs[A.GEN_AI_AGENT_ID] == AGENT_ID
    assert attrs[A.TRACE_ROOT_REQUEST] == "refund order 7"
    assert attrs[A.ACTOR_USER_ID] == "user-1"
    assert attrs[A.TRACE_ID] == trace.trace_id
    assert root.context is not None
    assert trace.trace_id == f"trc_{root.context.trace_id:032x}{root.context.span_id:016x}"
    assert trace.root_request == "refund order 7"


def test_events_chain_and_only_first_carries_root_request(harness: Harness) -> None:
    """Top-level events follow each other; the first alone gets the root request."""
    with harness.begin("plan a trip", actor_user_id="u-9") as trace:
        trace.step("look up flights", {"budget": 300})
        trace.track_tool_call("search", lambda: {"flights": 2}, input={"to": "LIS"})
        trace.track_action("book", lambda: "ok", cost=Money.eur(120.5))
    step, search, book = "look up flights", "search", "book"
    assert harness.attr(step, A.TRACE_ROOT_REQUEST) == "plan a trip"
    assert harness.attr(search, A.TRACE_ROOT_REQUEST) is None
    assert harness.attr(book, A.TRACE_ROOT_REQUEST) is None
    assert harness.attr(step, A.EVENT_PARENT_ID) is None
    assert harness.attr(search, A.EVENT_PARENT_ID) == harness.event_id(step)
    assert harness.attr(book, A.EVENT_PARENT_ID) == harness.event_id(search)
    for name in (step, search, book):
        assert harness.attr(name, A.TRACE_ID) == trace.trace_id
        assert harness.attr(name, A.GEN_AI_AGENT_ID) == AGENT_ID
        assert harness.attr(name, A.ACTOR_USER_ID) == "u-9"
    assert harness.attr(step, A.EVENT_TYPE) == "decision"
    assert harness.attr(step, A.EVENT_INSTANT) is True
    assert json.loads(str(harness.attr(step, A.ATTRIBUTES))) == {"budget": 300}
    assert json.loads(str(harness.attr(search, A.INPUT))) == {"to": "LIS"}
    assert json.loads(str(harness.attr(search, A.OUTPUT))) == {"flights": 2}
    assert harness.attr(book, A.COST_AMOUNT) == 120.5
    assert harness.attr(book, A.COST_CURRENCY) == "EUR"


def test_nested_tracked_calls_parent_to_enclosing_event(harness: Harness) -> None:
    """An event recorded inside a tracked callable has that callable's event as parent."""
    with harness.begin() as trace:

        def outer() -> str:
            trace.step("inner thought")
            return trace.track_tool_call("inner tool", lambda: "x")

        trace.track_action("outer", outer)
        trace.step("after")
    outer_id = harness.event_id("outer")
    assert harness.attr("inner thought", A.EVENT_PARENT_ID) == outer_id
    assert harness.attr("inner tool", A.EVENT_PARENT_ID) == outer_id
    # The next top-level event follows the previous top-level one, not the nested ones.
    assert harness.attr("after", A.EVENT_PARENT_ID) == outer_id
    assert harness.span("inner tool").parent is not None
    assert harness.span("inner tool").parent.span_id == harness.span("outer").context.span_id  # type: ignore[union-attr]


def test_llm_call_records_usage_and_returns_value(harness: Harness) -> None:
    """track_llm_call records tokens, model and cost, and returns the result's value."""
    with harness.begin() as trace:
        value = trace.track_llm_call(
            "answer",
            lambda: LlmCallResult("hi", tokens=42, model="m-1", cost=Money.usd(0.5)),
            input={"prompt": "hello"},
        )
    assert value == "hi"
    assert harness.attr("answer", A.EVENT_TYPE) == "llm_call"
    assert harness.attr("answer", A.USAGE_TOKENS) == 42
    assert harness.attr("answer", A.USAGE_MODEL) == "m-1"
    assert harness.attr("answer", A.COST_AMOUNT) == 0.5
    assert json.loads(str(harness.attr("answer", A.OUTPUT))) == "hi"


class _LlmBudget:
    """Allows `llm:call` while the estimate fits the budget, and remembers what was asked."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.asked: list[tuple[int, str | None]] = []

    def authorize_llm_call(self, estimated_tokens: int, model: str | None = None) -> AuthDecision:
        self.asked.append((estimated_tokens, model))
        if estimated_tokens <= self.budget:
            return AuthDecision(allowed=True, status="allowed", reason="within budget")
        return AuthDecision.deny("token budget exhausted")

    async def authorize_llm_call_async(
        self, estimated_tokens: int, model: str | None = None
    ) -> AuthDecision:
        return self.authorize_llm_call(estimated_tokens, model)


def test_estimated_tokens_authorize_llm_call_before_the_call(harness: Harness) -> None:
    """With estimated_tokens, llm:call is authorized (with the model) before the call runs."""
    budget = _LlmBudget(100)
    harness.recorder.llm_authorizer = budget
    with harness.begin() as trace:
        value = trace.track_llm_call(
            "answer", lambda: LlmCallResult("hi", tokens=42), estimated_tokens=50, model="m-1"
        )
    assert value == "hi"
    assert budget.asked == [(50, "m-1")]


@pytest.mark.parametrize("tokens", [None, float("nan"), float("inf"), "12", True])
def test_llm_usage_that_is_not_a_number_leaves_the_event_without_it(
    harness: Harness, tokens: object
) -> None:
    """Tokens that are not a finite number: the event is recorded and ended all the same,
    without a usage count (counted as an omitted value); the span is never left open."""
    with harness.begin() as trace:
        value = trace.track_llm_call(
            "answer",
            lambda: LlmCallResult("hi", tokens=tokens, model="m-1"),  # type: ignore[arg-type]
        )
        trace.step("after")
    assert value == "hi"
    assert harness.attr("answer", A.EVENT_TYPE) == "llm_call"
    assert harness.attr("answer", A.USAGE_TOKENS) is None
    assert harness.attr("answer", A.USAGE_MODEL) == "m-1"
    assert harness.context.open_span_count == 0
    assert harness.recorder.payload_guard.failures == 1
    assert harness.recorder.guard.failures == 0


def test_denied_llm_call_raises_and_never_runs(harness: Harness) -> None:
    """A denied llm:call raises NotAuthorizedException, the call is not made, no event is recorded."""
    harness.recorder.llm_authorizer = _LlmBudget(10)
    calls: list[int] = []

    def call() -> LlmCallResult:
        calls.append(1)
        return LlmCallResult("hi", tokens=1)

    with harness.begin() as trace, pytest.raises(NotAuthorizedException) as denied:
        trace.track_llm_call("answer", call, estimated_tokens=50)
    assert denied.value.permission == "llm:call"
    assert "budget" in denied.value.reason
    assert calls == []
    assert [span.name for span in harness.spans()].count("answer") == 0


async def test_async_llm_call_is_authorized_too(harness: Harness) -> None:
    """The async tracker authorizes llm:call first and raises on a deny."""
    harness.recorder.llm_authorizer = _LlmBudget(10)

    async def call() -> LlmCallResult:
        return LlmCallResult("hi", tokens=1)

    async with harness.begin() as trace:
        with pytest.raises(NotAuthorizedException):
            await trace.track_llm_call_async("answer", call, estimated_tokens=50)


def test_exception_in_tracked_call_marks_event_and_propagates(harness: Harness) -> None:
    """A tracked callable's exception marks its span ERROR and reaches the agent unchanged."""
    error = AgentError("boom")

    def fail() -> None:
        raise error

    with harness.begin() as trace:
        with pytest.raises(AgentError) as caught:
            trace.track_tool_call("fails", fail)
        assert caught.value is error
    span = harness.span("fails")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[A.EVENT_STATUS] == "failure"
    assert [e.name for e in span.events] == ["exception"]
    assert current_trace() is None


def test_exception_leaving_with_marks_trace_failed(harness: Harness) -> None:
    """An exception leaving the `with` block fails the trace and propagates unchanged."""
    error = AgentError("agent broke")
    with pytest.raises(AgentError) as caught, harness.begin() as trace:
        raise error
    assert caught.value is error
    root = harness.span(f"invoke_agent {AGENT_ID}")
    assert root.status.status_code is StatusCode.ERROR
    assert (root.attributes or {})[A.TRACE_STATUS] == "failed"
    assert trace.closed


def test_complete_sets_status_and_summary_once(harness: Harness) -> None:
    """complete() ends the trace with status and summary; close() afterwards changes nothing."""
    trace = harness.begin()
    trace.complete("completed", summary="done")
    trace.close()
    trace.complete("failed")
    root = harness.span(f"invoke_agent {AGENT_ID}")
    assert (root.attributes or {})[A.TRACE_STATUS] == "completed"
    assert (root.attributes or {})[A.TRACE_SUMMARY] == "done"
    assert len(harness.spans()) == 1


def test_unknown_status_is_counted_not_raised(harness: Harness) -> None:
    """A bad status to complete() is counted as misuse (no event is lost); the trace still ends."""
    trace = harness.begin()
    trace.complete("sort of")
    assert (harness.recorder.misuse_guard.failures, harness.recorder.guard.failures) == (1, 0)
    assert trace.closed
    assert A.TRACE_STATUS not in (harness.span(f"invoke_agent {AGENT_ID}").attributes or {})


def test_trace_without_with_parents_to_root(harness: Harness) -> None:
    """Without `with`, events are still children of the root and not current afterwards."""
    trace = harness.begin()
    assert current_trace() is None
    trace.step("thinking")
    trace.track_tool_call("tool", lambda: current_trace())
    trace.close()
    root = harness.span(f"invoke_agent {AGENT_ID}")
    for name in ("thinking", "tool"):
        assert harness.span(name).parent is not None
        assert harness.span(name).parent.span_id == root.context.span_id  # type: ignore[union-attr]
    assert harness.attr("tool", A.EVENT_PARENT_ID) == harness.event_id("thinking")


def test_tracked_callable_sees_its_trace_as_current(harness: Harness) -> None:
    """While a tracked callable runs, current_trace() is its trace, even without `with`."""
    trace = harness.begin()
    seen = trace.track_tool_call("tool", current_trace)
    trace.close()
    assert seen is trace


def test_record_user_event_keeps_explicit_fields(harness: Harness) -> None:
    """A recorded AgentEvent keeps its id, tags, usage and timing as attributes."""
    with harness.begin() as trace:
        trace.record(
            AgentEvent(
                name="custom",
                type="action",
                status="failure",
                event_id="evt_explicit",
                idempotency_key="idem-1",
                usage=Usage(10, "m"),
                tags=["a", "b"],
                occurred_at="2026-01-01T00:00:00.000000+00:00",
                duration_ms=12.5,
            )
        )
        trace.step("next")
    attrs = harness.span("custom").attributes or {}
    assert attrs[A.EVENT_ID] == "evt_explicit"
    assert attrs[A.EVENT_IDEMPOTENCY_KEY] == "idem-1"
    assert attrs[A.EVENT_STATUS] == "failure"
    assert attrs[A.USAGE_TOKENS] == 10
    assert attrs[A.EVENT_TAGS] == ("a", "b")
    assert attrs[A.EVENT_DURATION_MS] == 12.5
    assert A.EVENT_INSTANT not in attrs
    assert harness.span("custom").status.status_code is StatusCode.ERROR
    assert harness.attr("next", A.EVENT_PARENT_ID) == "evt_explicit"


def test_record_misuse_is_counted_not_raised(harness: Harness) -> None:
    """record(None) is logged and counted, never raised."""
    with harness.begin() as trace:
        trace.record(None)  # type: ignore[arg-type]
    assert harness.recorder.guard.failures == 1
    assert len(harness.spans()) == 1


def test_nested_invoke_agent_opens_its_own_trace(harness: Harness) -> None:
    """A trace begun inside another is a separate decision trace in the same OTel trace."""
    with harness.begin("outer") as outer:
        outer.step("outer step")
        with harness.begin("inner") as inner:
            inner.step("inner step")
    assert inner.trace_id != outer.trace_id
    assert inner.trace_id[4:36] == outer.trace_id[4:36]
    assert harness.attr("inner step", A.TRACE_ID) == inner.trace_id
    assert harness.attr("inner step", A.TRACE_ROOT_REQUEST) == "inner"
    assert harness.attr("inner step", A.EVENT_PARENT_ID) is None


def test_trace_inside_active_span_shares_otel_trace(harness: Harness) -> None:
    """A trace begun inside a web request's span is its child, in one OTel trace."""
    tracer = harness.provider.get_tracer("web")
    with (
        tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER) as request_span,
        harness.begin() as trace,
    ):
        trace.step("s")
    root = harness.span(f"invoke_agent {AGENT_ID}")
    assert root.parent is not None
    assert root.parent.span_id == request_span.get_span_context().span_id
    assert trace.trace_id.startswith(f"trc_{request_span.get_span_context().trace_id:032x}")
    assert A.TRACE_ID not in (harness.span("GET /orders").attributes or {})


def test_redact_fields_apply_to_later_payloads(harness: Harness) -> None:
    """Redact fields added to the trace mask matching paths in later payloads."""
    with harness.begin() as trace:
        trace.add_redact_fields(["$.card"])
        trace.add_redact_fields(["$.card"])
        trace.track_tool_call("pay", lambda: "ok", input={"card": "4111", "amount": 3})
    assert trace.redact_fields == ("$.card",)
    payload = json.loads(str(harness.attr("pay", A.INPUT)))
    assert payload["amount"] == 3
    assert payload["card"] != "4111"


def test_context_processor_forgets_ended_spans(harness: Harness) -> None:
    """The table of open spans is empty once every span ended."""
    with harness.begin() as trace:
        trace.track_action("a", lambda: trace.track_tool_call("b", lambda: 1))
    assert harness.context.open_span_count == 0


def test_misuse_is_logged_once_rate_limited(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Repeated misuse is counted every time but logged once on a tracengent logger."""
    with caplog.at_level(logging.WARNING, logger="tracengent"), harness.begin() as trace:
        for _ in range(3):
            trace.record("not an event")  # type: ignore[arg-type]
    assert harness.recorder.guard.failures == 3
    assert [r.name for r in caplog.records] == ["tracengent.trace"]


def test_broken_tracer_leaves_the_agent_unharmed() -> None:
    """When spans cannot be started, tracked callables still run and return their results."""

    class BrokenTracer(NoOpTracer):
        def start_span(self, *args: object, **kwargs: object) -> Span:
            raise RuntimeError("tracer broke")

    recorder = Recorder(BrokenTracer(), Scrubber(), AGENT_ID)
    recorder.recording = True  # a real tracer that breaks, not a disabled SDK
    with begin_trace(recorder, "r") as trace:
        assert trace.track_tool_call("t", lambda: 5) == 5
        trace.step("s")
    assert recorder.guard.failures == 3


@pytest.mark.parametrize("tokens", [None, float("nan"), "many"])
def test_recorded_event_with_unreadable_usage_is_sent_without_it(
    harness: Harness, tokens: object
) -> None:
    """`record` of an event whose `Usage.tokens` is no number (None from a provider that sent
    no usage, NaN): the event is recorded without a usage count (counted as an omitted value),
    as `track_llm_call` records it, not lost."""
    with harness.begin() as trace:
        trace.record(AgentEvent("answer", "llm_call", usage=Usage(tokens, "m-1")))  # type: ignore[arg-type]
    assert harness.attr("answer", A.EVENT_TYPE) == "llm_call"
    assert harness.attr("answer", A.USAGE_TOKENS) is None
    assert harness.attr("answer", A.USAGE_MODEL) == "m-1"
    assert harness.recorder.payload_guard.failures == 1
    assert harness.recorder.guard.failures == 0


def test_recorded_event_with_unreadable_duration_is_sent_as_an_instant(harness: Harness) -> None:
    """`record` of an event whose `duration_ms` is no number: recorded as a point event
    (no `durationMs`, counted as an omitted value), not lost."""
    with harness.begin() as trace:
        trace.record(AgentEvent("answer", "action", duration_ms="slow"))  # type: ignore[arg-type]
    assert harness.attr("answer", A.EVENT_INSTANT) is True
    assert harness.attr("answer", A.EVENT_DURATION_MS) is None
    assert harness.recorder.payload_guard.failures == 1
    assert harness.recorder.guard.failures == 0
