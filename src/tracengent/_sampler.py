"""`TracengentSampler`: decision traces and governance decisions are never lost to sampling.

It wraps the sampler the user configured. A span that opens a decision trace (`invoke_agent`), a
governance span or a Tracengent event span is always recorded and sampled, and its trace state is
marked (`tracengent=1`); a span whose parent carries that mark is sampled too, so a whole decision
trace survives even under a ratio sampler. Every other span is the wrapped sampler's call. The mark
travels in W3C `tracestate`, so a callee's decision trace (an agent-to-agent hop) is kept as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, TraceState, get_current_span
from opentelemetry.util.types import Attributes

from opentelemetry.exporter.tracengent import attributes as A

__all__ = ["TRACESTATE_KEY", "TracengentSampler"]

TRACESTATE_KEY: Final = "tracengent"
"""The `tracestate` key that marks a trace as holding a decision trace."""
_TRACESTATE_VALUE: Final = "1"
# The trace state of a decision span whose parent has none (the usual root), built once: a
# `TraceState` is immutable, and building one validates each entry.
_MARKED_ALONE: Final = TraceState([(TRACESTATE_KEY, _TRACESTATE_VALUE)])


def _is_decision_span(attributes: Attributes) -> bool:
    if not attributes:
        return False
    return (
        attributes.get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT
        or A.GOVERNANCE_KIND in attributes
        or A.EVENT_TYPE in attributes
    )


class TracengentSampler(Sampler):
    """Always sample decision traces and governance decisions; delegate everything else.

    Args:
        delegate: the sampler every other span is left to (default: parent-based always-on, the
            SDK's own default).
    """

    def __init__(self, delegate: Sampler | None = None) -> None:
        self._delegate: Sampler = (
            delegate if delegate is not None else ParentBased(TraceIdRatioBased(1.0))
        )

    @property
    def delegate(self) -> Sampler:
        """The wrapped sampler."""
        return self._delegate

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
        """Sample decision-trace and governance spans, and children of marked traces; else delegate."""
        parent = get_current_span(parent_context).get_span_context()
        parent_state = parent.trace_state if parent.is_valid else None
        if parent_state is not None and parent_state.get(TRACESTATE_KEY) is not None:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, parent_state)
        if _is_decision_span(attributes):
            if not parent_state:
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, _MARKED_ALONE)
            # The mark is absent (a marked parent was sampled above): added in front.
            marked = parent_state.add(TRACESTATE_KEY, _TRACESTATE_VALUE)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, marked)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """`TracengentSampler{<delegate>}`."""
        return f"TracengentSampler{{{self._delegate.get_description()}}}"
