"""A span processor of the application's that raises, for tests that telemetry never fails a call."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

__all__ = ["BrokenProcessor"]


class BrokenProcessor(SpanProcessor):
    """Raises `RuntimeError` in `on_start`, `on_end` or both, as told."""

    def __init__(self, *, on_start: bool, on_end: bool) -> None:
        self.fail_start = on_start
        self.fail_end = on_end

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Raise when told to."""
        if self.fail_start:
            raise RuntimeError("processor on_start broke")

    def on_end(self, span: ReadableSpan) -> None:
        """Raise when told to."""
        if self.fail_end:
            raise RuntimeError("processor on_end broke")
