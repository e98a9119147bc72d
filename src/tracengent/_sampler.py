"""`TracengentSampler`: decision traces and governance decisions are never lost to sampling.

It wraps the sampler the user configured. A span that opens a decision trace (`invoke_agent`), a
governance span or a Tracengent event span is always recorded and sampled, and its trace state is
marked (`tracengent=1`); a span whose parent carries that mark is sampled too, so a whole decision
trace survives even under a ratio sampler. Every other span is the wrapped sampler's call. The mark
travels in W3C `tracestate`, so a callee's decision trace (an agent-to-agent hop) is kept as well.

A `TracengentClient` on a provider whose sampler is another (the application's own) never
changes that provider: the client's tracer samples the spans it records with a
`TracengentSampler` around the provider's sampler (`with_tracengent_sampling`), so its decision
traces, events and governance spans are recorded whatever the application samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    DEFAULT_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanKind, Tracer, TraceState, get_current_span
from opentelemetry.util.types import Attributes

from opentelemetry.exporter.tracengent import attributes as A

__all__ = [
    "OWN_PROVIDER_DEFAULT",
    "TRACESTATE_KEY",
    "TracengentSampler",
    "records_every_decision_span",
    "sampler_may_drop_decision_spans",
    "with_tracengent_sampling",
]

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


OWN_PROVIDER_DEFAULT: Final = TracengentSampler(DEFAULT_ON)
"""The sampler of a `TracengentClient`'s own provider under the SDK's default
(`parentbased_always_on`): the default's decisions, but a decision span below a parent someone
else sampled out (an upstream's `traceparent` ending `-00`) is kept. The recorder decides it
inline (`DirectSpans`, by this instance's identity) wherever that is the default's decision."""


def records_every_decision_span(sampler: Sampler) -> bool:
    """True when `sampler` never drops a decision-trace span: a `TracengentSampler`, or one
    that samples every span (always-on). Never raises."""
    if isinstance(sampler, TracengentSampler):
        return True
    return _described_as(sampler, ALWAYS_ON)


def sampler_may_drop_decision_spans(sampler: Sampler) -> bool:
    """True when `sampler` samples spans out of its own accord (a ratio, always-off, a custom
    one), which drops decision-trace spans an application's tracers start. Never raises.

    False for the SDK's default (parent-based always-on): it samples every new trace and drops
    only below a parent that was sampled out upstream.
    """
    return not (records_every_decision_span(sampler) or _described_as(sampler, DEFAULT_ON))


def _described_as(sampler: Sampler, known: Sampler) -> bool:
    if sampler is known:
        return True
    try:
        return bool(sampler.get_description() == known.get_description())
    except Exception:  # noqa: BLE001 - a custom sampler's description: unknown means "another"
        return False


def with_tracengent_sampling(tracer: Tracer, scope: InstrumentationScope | None = None) -> Tracer:
    """`tracer` for one client: its spans sampled by a `TracengentSampler` around its own
    sampler (unless that sampler records every decision-trace span already), and made with the
    instrumentation scope `tracer` has now.

    The SDK hands every `get_tracer` call for one scope the same cached tracer, so the clients
    on a provider share it: `scope` (a client's `routing.owned_scope`), when given, is the
    scope of this client's spans only, so each client's spans stay its own. `tracer` itself
    when it is not an SDK tracer (nothing is recorded).
    The provider, its sampler and its other tracers are left as they are.
    """
    if not isinstance(tracer, SdkTracer):
        return tracer
    return _TracengentSampledTracer(tracer, scope)


class _TracengentSampledTracer(SdkTracer):
    """An SDK tracer of one client: a `TracengentSampler` around its own sampler decides on
    its spans (its sampler as it is when it records every decision span), made with the
    instrumentation scope it had when wrapped (see `with_tracengent_sampling`).

    Everything else is the wrapped tracer's, read from it each time rather than copied: what
    its provider changes on it later (the resource after a fork, the tracer configuration)
    holds here too. For that reason `SdkTracer.__init__` is not called.
    """

    def __init__(self, tracer: SdkTracer, scope: InstrumentationScope | None = None) -> None:
        self._sampled_tracer = tracer
        sampler = tracer.sampler
        self.sampler = (
            sampler if records_every_decision_span(sampler) else TracengentSampler(sampler)
        )
        self._instrumentation_scope = scope if scope is not None else tracer._instrumentation_scope

    # What a span's start reads every time, as properties: cheaper than `__getattr__`, which
    # runs only after a failed look-up. Set, they set the wrapped tracer's.
    @property
    def resource(self) -> Resource:
        """The wrapped tracer's resource, as its provider last set it."""
        return self._sampled_tracer.resource

    @resource.setter
    def resource(self, resource: Resource) -> None:
        self._sampled_tracer.resource = resource

    @property
    def _tracer_config(self) -> Any:
        # Read by the SDK's `_is_enabled` (SDKs that have one), as the provider last set it.
        return self._sampled_tracer._tracer_config

    @_tracer_config.setter
    def _tracer_config(self, config: Any) -> None:
        self._sampled_tracer._tracer_config = config

    def __getattr__(self, name: str) -> Any:
        # Only what this object does not hold itself: everything but the sampler. (Read from
        # `__dict__`: on an instance not initialised, a copy's, it must not call itself.)
        try:
            tracer = self.__dict__["_sampled_tracer"]
        except KeyError:
            raise AttributeError(name) from None
        return getattr(tracer, name)
