"""Two tracking decorators on one generator function: each event spans the whole iteration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import Harness
from tracengent._decorators import client_decorator


def test_stacked_decorators_on_a_generator_function(harness: Harness) -> None:
    """The outer decorator sees a (tracked) generator function: its event ends when the
    iteration does, with the inner event as its child, and no payload is lost on the way."""
    outer = client_decorator(harness.recorder, A.EventTypes.ACTION, "outer", None)
    inner = client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, "inner", None)

    @outer
    @inner
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    assert list(numbers(3)) == [0, 1, 2]
    assert [span.name for span in harness.spans()] == ["inner", "outer"]
    outer_span, inner_span = harness.span("outer"), harness.span("inner")
    assert inner_span.parent is not None
    assert outer_span.context is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert harness.recorder.payload_guard.failures == 0


async def test_stacked_decorators_on_an_async_generator_function(harness: Harness) -> None:
    """The same for an async generator function: the outer event is not a call returning an
    async generator (ended at once, its output unencodable)."""
    outer = client_decorator(harness.recorder, A.EventTypes.ACTION, "outer", None)
    inner = client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, "inner", None)

    @outer
    @inner
    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    assert [i async for i in numbers(2)] == [0, 1]
    assert [span.name for span in harness.spans()] == ["inner", "outer"]
    inner_span, outer_span = harness.span("inner"), harness.span("outer")
    assert inner_span.parent is not None
    assert outer_span.context is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert harness.recorder.payload_guard.failures == 0
