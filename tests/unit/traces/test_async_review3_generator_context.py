"""A tracked generator keeps its own context across its `yield`s, as an untracked one does: a
span it holds open around a `yield` is still the parent of what it starts after resuming."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan

from tests.unit.traces.conftest import Harness


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    span_id: int = span.context.span_id
    return span_id


def _assert_nested(harness: Harness, event: str) -> None:
    assert _parent_id(harness.span("held")) == _span_id(harness.span(event))
    assert _parent_id(harness.span("after resuming")) == _span_id(harness.span("held"))
    # The consumer never saw the generator's span as current.
    assert _parent_id(harness.span("consumer")) == _span_id(
        harness.span("invoke_agent agent-under-test")
    )


def test_a_generators_span_held_across_yield_parents_what_it_starts_after(
    harness: Harness,
) -> None:
    tracer = harness.provider.get_tracer("app")
    with harness.begin() as trace:

        @trace.tool("stream")
        def stream() -> Iterator[int]:
            with tracer.start_as_current_span("held"):
                yield 1
                with tracer.start_as_current_span("after resuming"):
                    pass
                yield 2

        for item in stream():
            if item == 1:
                with tracer.start_as_current_span("consumer"):
                    pass
        assert otel_trace.get_current_span() is trace.otel_span
    _assert_nested(harness, "stream")


async def test_an_async_generators_span_held_across_yield_parents_what_it_starts_after(
    harness: Harness,
) -> None:
    tracer = harness.provider.get_tracer("app")
    async with harness.begin() as trace:

        @trace.tool("stream")
        async def stream() -> AsyncIterator[int]:
            with tracer.start_as_current_span("held"):
                yield 1
                with tracer.start_as_current_span("after resuming"):
                    pass
                yield 2

        async for item in stream():
            if item == 1:
                with tracer.start_as_current_span("consumer"):
                    pass
        assert otel_trace.get_current_span() is trace.otel_span
    _assert_nested(harness, "stream")


def test_a_generator_closed_early_ends_its_held_span_under_the_event(harness: Harness) -> None:
    """Closing early runs the generator's exits in its own context: its held span ends as the
    event's child, and nothing of it stays current for the consumer."""
    tracer = harness.provider.get_tracer("app")
    with harness.begin() as trace:

        @trace.tool("stream")
        def stream() -> Generator[int, None, None]:
            with tracer.start_as_current_span("held"):
                try:
                    yield 1
                    yield 2
                finally:
                    with tracer.start_as_current_span("after resuming"):
                        pass

        items = stream()
        assert next(items) == 1
        with tracer.start_as_current_span("consumer"):
            pass
        items.close()
        assert otel_trace.get_current_span() is trace.otel_span
    _assert_nested(harness, "stream")
