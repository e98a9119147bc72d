"""TracengentSampler keeps decision traces and governance spans whatever the user's sampler says."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from opentelemetry.exporter.tracengent import attributes as A
from tracengent._sampler import TRACESTATE_KEY, TracengentSampler


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """A capture of every exported span."""
    return InMemorySpanExporter()


def _provider(exporter: InMemorySpanExporter, sampler: TracengentSampler) -> TracerProvider:
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_decision_trace_and_its_children_survive_an_always_off_sampler(
    exporter: InMemorySpanExporter,
) -> None:
    """A whole decision trace is exported although the user's sampler drops everything."""
    tracer = _provider(exporter, TracengentSampler(ALWAYS_OFF)).get_tracer("t")
    with (
        tracer.start_as_current_span(
            "agent", attributes={A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT}
        ),
        tracer.start_as_current_span("plain child"),
        tracer.start_as_current_span("grandchild"),
    ):
        pass
    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == ["agent", "grandchild", "plain child"]


def test_other_spans_follow_the_delegate(exporter: InMemorySpanExporter) -> None:
    """Spans outside decision traces are left to the user's sampler."""
    tracer = _provider(exporter, TracengentSampler(ALWAYS_OFF)).get_tracer("t")
    with tracer.start_as_current_span("web request"), tracer.start_as_current_span("db query"):
        pass
    assert exporter.get_finished_spans() == ()


def test_governance_and_event_spans_are_always_sampled(exporter: InMemorySpanExporter) -> None:
    """A governance span and a standalone event span are kept under an always-off sampler."""
    tracer = _provider(exporter, TracengentSampler(ALWAYS_OFF)).get_tracer("t")
    with tracer.start_as_current_span("authorize", attributes={A.GOVERNANCE_KIND: "authorize"}):
        pass
    with tracer.start_as_current_span("refund", attributes={A.EVENT_TYPE: "action"}):
        pass
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["authorize", "refund"]


def test_decision_trace_inside_an_unsampled_request_is_kept(exporter: InMemorySpanExporter) -> None:
    """A decision trace begun under a dropped web-request span is still recorded, in the same trace."""
    tracer = _provider(exporter, TracengentSampler(ALWAYS_OFF)).get_tracer("t")
    with tracer.start_as_current_span("request") as request:
        with tracer.start_as_current_span(
            "agent", attributes={A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT}
        ):
            pass
        request_trace_id = request.get_span_context().trace_id
    (agent,) = exporter.get_finished_spans()
    assert agent.context is not None
    assert agent.context.trace_id == request_trace_id
    assert agent.context.trace_state.get(TRACESTATE_KEY) == "1"


def test_delegate_and_description() -> None:
    """The description names the delegate, and the default delegate is parent-based."""
    assert TracengentSampler(ALWAYS_ON).get_description() == "TracengentSampler{AlwaysOnSampler}"
    assert "ParentBased" in TracengentSampler().get_description()


def test_the_mark_joins_a_parents_trace_state_and_stands_alone_at_a_root() -> None:
    """A root decision span carries only the mark; under a remote parent's state, the mark comes
    first and the vendor's entries stay (W3C: a new entry goes to the left)."""
    sampler = TracengentSampler(ALWAYS_OFF)
    event = {A.EVENT_TYPE: "action"}
    root = sampler.should_sample(None, 1, "refund", attributes=event)
    assert root.trace_state is not None
    assert list(root.trace_state.items()) == [(TRACESTATE_KEY, "1")]
    vendor = TraceState([("vendor", "v1"), ("other", "o2")])
    remote = SpanContext(7, 9, is_remote=True, trace_flags=TraceFlags(0), trace_state=vendor)
    parent = set_span_in_context(NonRecordingSpan(remote))
    child = sampler.should_sample(parent, 7, "refund", attributes=event)
    assert child.decision is Decision.RECORD_AND_SAMPLE
    assert child.trace_state is not None
    assert list(child.trace_state.items()) == [
        (TRACESTATE_KEY, "1"),
        ("vendor", "v1"),
        ("other", "o2"),
    ]
    # A span under the marked state is sampled with that state, unchanged.
    marked = SpanContext(7, 10, is_remote=False, trace_state=child.trace_state)
    plain = sampler.should_sample(set_span_in_context(NonRecordingSpan(marked)), 7, "db")
    assert plain.decision is Decision.RECORD_AND_SAMPLE
    assert plain.trace_state is child.trace_state
