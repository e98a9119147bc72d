"""Decision traces across `await`, concurrent tasks and threads with a copied context."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import LlmCallResult
from tests.unit.traces.conftest import AGENT_ID, Harness
from tracengent import AgentTrace, current_trace


async def test_async_with_and_async_trackers(harness: Harness) -> None:
    """`async with` makes the trace current; async trackers await and record their results."""

    async def lookup() -> int:
        await asyncio.sleep(0)
        return 7

    async def ask() -> LlmCallResult:
        return LlmCallResult("answer", tokens=5, model="m")

    async with harness.begin() as trace:
        assert current_trace() is trace
        found = await trace.track_tool_call_async("lookup", lookup, input={"q": 1})
        answer = await trace.track_llm_call_async("ask", ask)
        done = await trace.track_action_async("finish", lookup)
    assert current_trace() is None
    assert (found, answer, done) == (7, "answer", 7)
    assert harness.attr("ask", A.USAGE_TOKENS) == 5
    assert harness.attr("ask", A.EVENT_PARENT_ID) == harness.event_id("lookup")
    assert harness.attr("finish", A.EVENT_PARENT_ID) == harness.event_id("ask")


async def test_concurrent_tasks_do_not_cross_talk(harness: Harness) -> None:
    """Traces run in concurrent tasks keep their own current trace and event chains."""
    gate = asyncio.Event()
    all_waiting = asyncio.Event()
    waiting: list[str] = []

    async def agent(label: str) -> AgentTrace:
        async with harness.begin(label) as trace:
            trace.step(f"{label}-1")
            waiting.append(label)
            if len(waiting) == 3:
                all_waiting.set()
            await gate.wait()
            assert current_trace() is trace
            trace.step(f"{label}-2")
        return trace

    tasks = [asyncio.create_task(agent(label)) for label in ("a", "b", "c")]
    await all_waiting.wait()
    gate.set()
    traces = await asyncio.gather(*tasks)
    for label, trace in zip(("a", "b", "c"), traces, strict=True):
        assert harness.attr(f"{label}-1", A.TRACE_ID) == trace.trace_id
        assert harness.attr(f"{label}-2", A.TRACE_ID) == trace.trace_id
        assert harness.attr(f"{label}-2", A.EVENT_PARENT_ID) == harness.event_id(f"{label}-1")
        assert harness.attr(f"{label}-1", A.TRACE_ROOT_REQUEST) == label


def test_thread_with_copied_context_joins_the_trace(harness: Harness) -> None:
    """A thread started with a copied context sees the trace and records into it."""
    seen: list[AgentTrace | None] = []
    with harness.begin() as trace:
        trace.step("before")
        context = contextvars.copy_context()

        def work() -> None:
            seen.append(current_trace())
            trace.step("in thread")

        thread = threading.Thread(target=context.run, args=(work,))
        thread.start()
        thread.join()
    assert seen == [trace]
    assert harness.attr("in thread", A.TRACE_ID) == trace.trace_id
    assert harness.attr("in thread", A.EVENT_PARENT_ID) == harness.event_id("before")
    root = harness.span(f"invoke_agent {AGENT_ID}")
    assert harness.span("in thread").parent.span_id == root.context.span_id  # type: ignore[union-attr]


def test_thread_without_copied_context_sees_no_trace(harness: Harness) -> None:
    """A plain thread does not inherit the current trace."""
    seen: list[AgentTrace | None] = []
    with harness.begin():
        thread = threading.Thread(target=lambda: seen.append(current_trace()))
        thread.start()
        thread.join()
    assert seen == [None]
