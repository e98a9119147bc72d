"""A trace entered by several `with` blocks at once (the agent's, a worker thread's, a task's, or
nested) ends when the last of them leaves: the first worker to leave does not close it under
the agent, whose status and summary must still reach the close."""

from __future__ import annotations

import asyncio
import threading

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import AGENT_ID, Harness

ROOT = f"invoke_agent {AGENT_ID}"


class Refused(Exception):
    """The agent's own failure."""


def test_a_worker_thread_leaving_first_does_not_end_the_agents_trace(harness: Harness) -> None:
    """The trace is still open after the worker's block; the agent's failure and summary are
    the close's."""

    def worker() -> None:
        with trace:
            trace.step("in the worker")

    def agent() -> None:
        with trace:
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
            still_open.append(not trace.closed)
            trace.step("after the worker")
            raise Refused("no")

    trace = harness.begin()
    still_open: list[bool] = []
    with pytest.raises(Refused):
        agent()
    assert still_open == [True]
    assert trace.closed
    root = harness.span(ROOT)
    assert (root.attributes or {})[A.TRACE_STATUS] == "failed"


async def test_a_task_leaving_first_does_not_end_the_trace(harness: Harness) -> None:
    """`complete()` after a task's block ends the trace with its status and summary."""

    async def task() -> None:
        async with trace:
            trace.step("in the task")

    async with harness.begin() as trace:
        await asyncio.create_task(task())
        assert not trace.closed
        trace.complete("completed", summary="all done")
    root = harness.span(ROOT)
    assert (root.attributes or {})[A.TRACE_SUMMARY] == "all done"


def test_nested_blocks_end_the_trace_when_the_outer_leaves(harness: Harness) -> None:
    """An inner block of the same trace leaves it open for the outer one."""
    with harness.begin() as trace:
        with trace:
            pass
        assert not trace.closed
    assert trace.closed


def test_an_exception_leaving_a_workers_block_still_fails_the_trace(harness: Harness) -> None:
    """A failure in one block marks the trace failed when the last block leaves."""

    def worker() -> None:
        with pytest.raises(Refused), trace:
            raise Refused("in the worker")

    with harness.begin() as trace:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert not trace.closed
    root = harness.span(ROOT)
    assert (root.attributes or {})[A.TRACE_STATUS] == "failed"
    assert [event.name for event in root.events] == ["exception"]
