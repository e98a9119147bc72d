"""Point events (`step`, `record`) are spans born ended, handed to the processors' `on_end`.

They must look to every processor and exporter exactly like the spans the SDK path makes:
same parent, trace, stamps, resource and scope; the provider's sampler decides; a span with
`start_time == end_time`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, StatusCode, TraceState
from opentelemetry.util.types import Attributes

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import AgentEvent, Money
from tests.unit.traces.conftest import AGENT_ID, Harness
from tracengent._processors.context import ContextProcessor
from tracengent._recording import Recorder
from tracengent._sampler import TracengentSampler
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._trace import begin_trace


def _recorder_on(
    provider: TracerProvider, *, with_context: bool = True
) -> tuple[Recorder, InMemorySpanExporter]:
    context = ContextProcessor()
    memory = InMemorySpanExporter()
    scrubber = Scrubber()
    provider.add_span_processor(context)
    provider.add_span_processor(ScrubbingProcessor(scrubber))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    recorder = Recorder(
        provider.get_tracer("point-tests", "9.9"),
        scrubber,
        AGENT_ID,
        context if with_context else None,
    )
    return recorder, memory


def _only(memory: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in memory.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in memory.get_finished_spans()]
    return found[0]


def test_step_is_an_ended_child_of_the_root_with_every_stamp(harness: Harness) -> None:
    """Parent, trace, agent, actor, root request and the event it follows, written once."""
    with harness.begin("refund order 7", actor_user_id="u-1") as trace:
        trace.track_action("look up", lambda: 1)
        trace.step("within policy", {"rule": "refunds<100"})
    root = harness.span(f"invoke_agent {AGENT_ID}")
    step = harness.span("within policy")
    assert root.context is not None
    assert step.context is not None
    assert step.parent is not None
    assert step.parent.span_id == root.context.span_id
    assert step.context.trace_id == root.context.trace_id
    assert step.context.trace_flags.sampled
    # Sampled and (on SDKs that have it) random-trace-id, exactly as the root's.
    assert step.context.trace_flags == root.context.trace_flags
    assert step.start_time is not None
    assert step.start_time == step.end_time
    assert step.kind is SpanKind.INTERNAL
    attrs = step.attributes or {}
    assert attrs[A.TRACE_ID] == (root.attributes or {})[A.TRACE_ID]
    assert attrs[A.EVENT_PARENT_ID] == harness.event_id("look up")
    assert attrs[A.GEN_AI_AGENT_ID] == AGENT_ID
    assert attrs[A.ACTOR_USER_ID] == "u-1"
    assert attrs[A.EVENT_INSTANT] is True
    # The root request goes on the trace's first event only: the action took it.
    assert A.TRACE_ROOT_REQUEST not in attrs
    assert step.instrumentation_scope is not None
    assert step.instrumentation_scope.name == "test"
    assert step.resource is harness.provider.resource


def test_first_event_being_a_point_event_carries_the_root_request(harness: Harness) -> None:
    """The context processor's first-event rule holds for a point event too (and only once)."""
    with harness.begin("plan the refund") as trace:
        trace.step("first")
        trace.step("second")
    assert harness.attr("first", A.TRACE_ROOT_REQUEST) == "plan the refund"
    assert harness.attr("second", A.TRACE_ROOT_REQUEST) is None
    assert harness.attr("second", A.EVENT_PARENT_ID) == harness.event_id("first")


def test_point_event_inside_a_tracked_call_follows_that_call(harness: Harness) -> None:
    """A step taken while an action runs is nested under the action's span and event."""
    with harness.begin() as trace:
        trace.track_action("act", lambda: trace.step("inside"))
    action = harness.span("act")
    inside = harness.span("inside")
    assert action.context is not None
    assert inside.parent is not None
    assert inside.parent.span_id == action.context.span_id
    assert harness.attr("inside", A.EVENT_PARENT_ID) == harness.event_id("act")


def test_recorded_failure_has_error_status_and_explicit_fields(harness: Harness) -> None:
    """A recorded failed event: status ERROR; its own ids, agent and tags kept."""
    with harness.begin() as trace:
        trace.record(
            AgentEvent(
                name="charge",
                type="action",
                status="failure",
                cost=Money(3.5, "EUR"),
                event_id="evt_mine",
                parent_event_id="evt_theirs",
                tags=["a", "b"],
            )
        )
    span = harness.span("charge")
    assert span.status.status_code is StatusCode.ERROR
    attrs = span.attributes or {}
    assert attrs[A.EVENT_ID] == "evt_mine"
    assert attrs[A.EVENT_PARENT_ID] == "evt_theirs"
    assert attrs[A.COST_AMOUNT] == 3.5
    assert attrs[A.EVENT_TAGS] == ("a", "b")


def test_the_providers_sampler_decides() -> None:
    """A sampler that drops gets no span; the SDK path would not have recorded one either."""
    provider = TracerProvider(sampler=ALWAYS_OFF)
    recorder, memory = _recorder_on(provider)
    recorder.record(AgentEvent(name="dropped", type="action"), None, ())
    assert memory.get_finished_spans() == ()
    provider.shutdown()


class _Tagging(Sampler):
    """Samples everything and adds an attribute, as some samplers do."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        decision = ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes)
        merged: Mapping[str, object] = {**(attributes or {}), "sampler.rule": "tagging"}
        return SamplingResult(decision.decision, merged, TraceState([("tg", "1")]))  # type: ignore[arg-type]

    def get_description(self) -> str:
        return "Tagging"


def test_sampler_attributes_and_trace_state_are_kept() -> None:
    """What the sampler adds (attributes, trace state) is on the span, as with `start_span`."""
    provider = TracerProvider(sampler=_Tagging())
    recorder, memory = _recorder_on(provider)
    recorder.record(AgentEvent(name="tagged", type="action"), None, ())
    span = _only(memory, "tagged")
    assert (span.attributes or {})["sampler.rule"] == "tagging"
    assert (span.attributes or {})[A.EVENT_TYPE] == "action"
    assert span.context is not None
    assert span.context.trace_state.get("tg") == "1"
    provider.shutdown()


def test_decision_events_survive_a_dropping_user_sampler() -> None:
    """Under `TracengentSampler`, a point event is kept even when the user's sampler drops."""
    provider = TracerProvider(sampler=TracengentSampler(ParentBased(ALWAYS_OFF)))
    recorder, memory = _recorder_on(provider)
    with begin_trace(recorder, "go", None) as trace:
        trace.step("kept")
    span = _only(memory, "kept")
    assert span.context is not None
    assert span.context.trace_flags.sampled
    provider.shutdown()


def test_outside_any_trace_a_point_event_opens_its_own_otel_trace() -> None:
    """No parent: a new trace id from the provider's id generator, no parent span."""
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    recorder, memory = _recorder_on(provider)
    recorder.record(AgentEvent(name="alone", type="action"), None, ())
    recorder.record(AgentEvent(name="alone too", type="action"), None, ())
    first, second = _only(memory, "alone"), _only(memory, "alone too")
    assert first.parent is None
    assert first.context is not None
    assert second.context is not None
    assert first.context.trace_id != second.context.trace_id
    assert first.resource.attributes["service.name"] == "svc"
    provider.shutdown()


def test_both_paths_record_the_same_attributes() -> None:
    """The finished-span path and the SDK `start_span` path stamp the same attributes."""
    recorded: list[dict[str, object]] = []
    for with_context in (True, False):
        provider = TracerProvider()
        # Without the context processor the recorder falls back to the SDK's `start_span`, and
        # the provider's context processor stamps in `on_start`.
        recorder, memory = _recorder_on(provider, with_context=with_context)
        with begin_trace(recorder, "req", "u-9") as trace:
            trace.step("think", {"confidence": 0.5})
            trace.record(AgentEvent(name="note", type="decision", input={"a": 1}))
        for name in ("think", "note"):
            attrs: dict[str, object] = dict(_only(memory, name).attributes or {})
            for volatile in (A.TRACE_ID, A.EVENT_PARENT_ID):
                assert volatile in attrs or (name == "think" and volatile == A.EVENT_PARENT_ID)
                attrs.pop(volatile, None)
            recorded.append(attrs)
        provider.shutdown()
    assert recorded[:2] == recorded[2:]
