"""W3C trace context into outgoing HTTP headers, by the global propagator, at less cost.

Tracked and governed requests inject the context of the span they just opened. With the
propagator OpenTelemetry sets up by default (`OTEL_PROPAGATORS` unset or `tracecontext,baggage`:
a `CompositePropagator` of `TraceContextTextMapPropagator` then `W3CBaggagePropagator`) and no
baggage in the context, what `propagate.inject` writes is known in advance: `traceparent` (and
`tracestate` when the span has one) exactly as `TraceContextTextMapPropagator` formats them. That
case is written directly, without the composite's loop, the setter and the second look-up of the
span. Any other propagator (B3, Jaeger, a subclass, an application's own), baggage in the
context, or an invalid span context goes through `propagate.inject` unchanged, so the headers are
always what the configured propagator would write.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Final

from opentelemetry import baggage, propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["inject_span_context", "writes_w3c_only"]

_W3C_TYPES: Final = frozenset({TraceContextTextMapPropagator, W3CBaggagePropagator})


def writes_w3c_only(textmap: TextMapPropagator) -> bool:
    """Whether `textmap` is W3C trace context, with or without W3C baggage, and nothing else:
    the exact SDK classes (not subclasses), alone or in the SDK's `CompositePropagator`."""
    propagators: object = (
        getattr(textmap, "_propagators", None)
        if type(textmap) is CompositePropagator
        else (textmap,)
    )
    if not isinstance(propagators, list | tuple):
        return False
    kinds = [type(propagator) for propagator in propagators]
    return TraceContextTextMapPropagator in kinds and all(kind in _W3C_TYPES for kind in kinds)


class _Verdict:
    """`writes_w3c_only` of the last global propagator seen: asked again only when the
    application installs another (`propagate.set_global_textmap`)."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        # (propagator, its verdict), read and replaced as one tuple: threads asking about two
        # propagators at once (one swapped in meanwhile) never pair one with the other's verdict.
        self.seen: tuple[TextMapPropagator | None, bool] = (None, False)

    def of(self, textmap: TextMapPropagator) -> bool:
        known, w3c_only = self.seen
        if textmap is not known:
            w3c_only = writes_w3c_only(textmap)
            self.seen = (textmap, w3c_only)
        return w3c_only


_VERDICT: Final = _Verdict()


def inject_span_context(
    headers: MutableMapping[str, str], span_context: SpanContext, context: Context
) -> None:
    """Write the trace context of `context` (whose current span has `span_context`) into
    `headers` as the global propagator would. Raises what that propagator raises."""
    textmap = propagate.get_global_textmap()
    if _VERDICT.of(textmap) and span_context.is_valid and not baggage.get_all(context):
        # `TraceContextTextMapPropagator.inject`'s own format; baggage would add nothing.
        headers["traceparent"] = (
            f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
            f"-{span_context.trace_flags:02x}"
        )
        if span_context.trace_state:
            headers["tracestate"] = span_context.trace_state.to_header()
        return
    textmap.inject(headers, context=context)
