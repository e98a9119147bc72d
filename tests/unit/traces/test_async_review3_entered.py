"""One trace entered with `with`/`async with` in several tasks or threads at once: each block
restores its own context, whatever order they leave in."""

from __future__ import annotations

import asyncio
import threading

from opentelemetry import trace as otel_trace

from tests.unit.traces.conftest import Harness
from tracengent import AgentTrace, current_trace


async def test_tasks_leaving_one_trace_out_of_order_each_restore_their_context(
    harness: Harness,
) -> None:
    """The first task to leave must not take the other task's tokens: after its block neither
    task has the trace current (it used to leak into both)."""
    trace = harness.begin()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def worker(first: bool) -> tuple[AgentTrace | None, bool]:
        async with trace:
            if first:
                await inside.wait()
            else:
                inside.set()
                await release.wait()
        return current_trace(), otel_trace.get_current_span() is trace.otel_span

    leaving_first = asyncio.create_task(worker(True))
    await asyncio.sleep(0)
    staying = asyncio.create_task(worker(False))
    first_result = await leaving_first
    release.set()
    second_result = await staying
    assert first_result == (None, False)
    assert second_result == (None, False)
    assert harness.recorder.misuse_guard.failures == 0


def test_threads_leaving_one_trace_out_of_order_each_restore_their_context(
    harness: Harness,
) -> None:
    """The thread that entered first leaves first, while the other is still inside."""
    trace = harness.begin()
    second_inside = threading.Event()
    first_left = threading.Event()
    results: dict[str, tuple[AgentTrace | None, bool]] = {}

    def first() -> None:
        with trace:
            second.start()
            second_inside.wait(5)
        results["first"] = (current_trace(), otel_trace.get_current_span() is trace.otel_span)
        first_left.set()

    def later() -> None:
        with trace:
            second_inside.set()
            first_left.wait(5)
        results["second"] = (current_trace(), otel_trace.get_current_span() is trace.otel_span)

    second = threading.Thread(target=later)
    leader = threading.Thread(target=first)
    leader.start()
    leader.join(5)
    second.join(5)
    assert results == {"first": (None, False), "second": (None, False)}
    assert harness.recorder.misuse_guard.failures == 0


def test_nested_blocks_of_one_trace_restore_the_outer_block(harness: Harness) -> None:
    trace = harness.begin()
    with trace:
        with trace:
            assert current_trace() is trace
        assert current_trace() is trace
        assert otel_trace.get_current_span() is trace.otel_span
    assert current_trace() is None
    assert otel_trace.get_current_span() is not trace.otel_span
