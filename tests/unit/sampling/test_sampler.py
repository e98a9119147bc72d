"""TracengentSampler keeps decision traces and governance spans whatever the user's sampler says."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

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
