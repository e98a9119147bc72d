"""A decision trace whose `with` block is inside a generator (a streamed answer) that its consumer
closes early ends without failure, as a tracked generator's event does: stopping a stream is
not a failure. An exception, or a cancellation, still fails it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.trace import StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import Harness

ROOT = "invoke_agent agent-under-test"


def _assert_not_failed(harness: Harness) -> None:
    root = harness.span(ROOT)
    attributes = root.attributes or {}
    assert root.status.status_code is not StatusCode.ERROR
    assert attributes.get(A.TRACE_STATUS) != A.TraceStatuses.FAILED
    assert attributes.get(A.EVENT_STATUS) != A.EventStatuses.FAILURE


def test_a_trace_in_a_generator_closed_early_is_not_failed(harness: Harness) -> None:
    def answer() -> Iterator[str]:
        with harness.begin() as trace:
            for index in range(5):
                trace.step(f"chunk {index}")
                yield f"chunk {index}"

    for chunk in answer():
        if chunk == "chunk 1":
            break
    _assert_not_failed(harness)


async def test_a_trace_in_an_async_generator_closed_early_is_not_failed(
    harness: Harness,
) -> None:
    async def answer() -> AsyncIterator[str]:
        async with harness.begin():
            for index in range(5):
                await asyncio.sleep(0)
                yield f"chunk {index}"

    chunks = answer()
    async for chunk in chunks:
        if chunk == "chunk 1":
            break
    await chunks.aclose()  # type: ignore[attr-defined]
    _assert_not_failed(harness)


async def test_a_cancelled_trace_is_still_failed(harness: Harness) -> None:
    async def agent() -> None:
        async with harness.begin():
            await asyncio.sleep(10)

    task = asyncio.create_task(agent())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    root = harness.span(ROOT)
    assert root.status.status_code is StatusCode.ERROR
    assert (root.attributes or {}).get(A.TRACE_STATUS) == A.TraceStatuses.FAILED
