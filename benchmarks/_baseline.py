"""Bare OpenTelemetry: the baselines every Tracengent figure is compared with."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer
from opentelemetry.util.types import AttributeValue

__all__ = [
    "BARE_ATTRIBUTES",
    "BlockingExporter",
    "DiscardingExporter",
    "bare_pipeline",
    "bare_span",
]

BARE_ATTRIBUTES: Final[dict[str, AttributeValue]] = {
    "tracengent.event.type": "action",
    "tracengent.event.status": "success",
    "tracengent.cost.amount": 42.5,
    "tracengent.cost.currency": "USD",
    "tracengent.actor.user_id": "u_7",
    "tracengent.input": '{"orderId":"ord_1042","amount":42.5,"reason":"damaged"}',
    "tracengent.output": '{"refundId":"rf_77","status":"issued"}',
    "gen_ai.agent.id": "demo-agent",
    "app.attempt": 1,
    "app.cached": False,
}
"""Ten attributes: what one of our events carries, set by hand on a bare span."""


class DiscardingExporter(SpanExporter):
    """Accepts every batch and keeps nothing: the cheapest possible export."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Count and forget."""
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


class BlockingExporter(DiscardingExporter):
    """Holds every export until `release()`, so spans stay buffered in the processor."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Wait (bounded) for release, then discard."""
        self.released.wait(60.0)
        return super().export(spans)

    def release(self) -> None:
        """Let exports through."""
        self.released.set()


def bare_pipeline(
    exporter: SpanExporter, *, max_queue_size: int = 2048, max_export_batch_size: int = 512
) -> tuple[TracerProvider, Tracer]:
    """A private provider with OTel's `BatchSpanProcessor` over `exporter` (never global)."""
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
        )
    )
    return provider, provider.get_tracer("benchmarks.baseline")


def bare_span(tracer: Tracer) -> None:
    """One bare span with ten attributes, current while it runs (the agent-thread baseline)."""
    with tracer.start_as_current_span("issue-refund", attributes=BARE_ATTRIBUTES):
        pass
