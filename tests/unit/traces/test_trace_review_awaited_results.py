"""Trackers given a callable of the other kind: an async tracker given a plain callable takes
its result as it is (the callable ran; its result is not lost to a `TypeError`), and a sync
tracker given a coroutine function (0.1.0's API in async code, its result awaited by the caller)
records the event over the awaiting, with the coroutine's outcome."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Awaitable, Callable
from typing import cast

import pytest
from opentelemetry.trace import StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import LlmCallResult
from tests.unit.traces.conftest import Harness
from tracengent._trace import AgentTrace


def _given_as_async(fn: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    """A plain callable, typed as the async trackers take (what an agent passes by mistake)."""
    return cast("Callable[[], Awaitable[object]]", fn)


def test_an_async_tracker_takes_a_plain_callables_result(harness: Harness) -> None:
    """`track_*_async` with a callable returning no awaitable: its result is returned and
    recorded, the event a success (the call ran; awaiting its result raised `TypeError`)."""
    ran: list[str] = []

    def lookup() -> dict[str, int]:
        ran.append("lookup")
        return {"id": 42}

    async def run() -> tuple[object, object, object]:
        async with harness.begin() as trace:
            tool = await trace.track_tool_call_async("lookup", _given_as_async(lookup))
            action = await trace.track_action_async("act", _given_as_async(lambda: "done"))
            llm = await trace.track_llm_call_async(
                "llm",
                cast(
                    "Callable[[], Awaitable[LlmCallResult]]",
                    lambda: LlmCallResult("answer", tokens=7),
                ),
            )
        return tool, action, llm

    assert asyncio.run(run()) == ({"id": 42}, "done", "answer")
    assert ran == ["lookup"]
    assert harness.attr("lookup", A.OUTPUT) == '{"id":42}'
    assert harness.span("lookup").status.status_code is not StatusCode.ERROR
    assert harness.attr("act", A.OUTPUT) == '"done"'
    assert harness.attr("llm", A.USAGE_TOKENS) == 7
    assert harness.span("llm").status.status_code is not StatusCode.ERROR


def test_an_async_tracker_takes_a_plain_result_with_the_sdk_disabled(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing recorded: the plain callable's result (an LLM call's `.value`) still returned."""
    monkeypatch.setattr(harness.recorder, "recording", False)

    async def run() -> tuple[object, object]:
        trace = harness.begin()
        tool = await trace.track_tool_call_async("lookup", _given_as_async(lambda: 5))
        llm = await trace.track_llm_call_async(
            "llm",
            cast(
                "Callable[[], Awaitable[LlmCallResult]]",
                lambda: LlmCallResult("answer", tokens=7),
            ),
        )
        return tool, llm

    assert asyncio.run(run()) == (5, "answer")


def test_a_sync_tracker_given_a_coroutine_function_records_the_awaiting(
    harness: Harness,
) -> None:
    """`await trace.track_tool_call(name, async_fn)`: the event spans the coroutine's run, its
    output is the awaited result, and what the coroutine starts nests under it."""
    tracer = harness.provider.get_tracer("inner")

    async def fetch() -> dict[str, int]:
        await asyncio.sleep(0)
        with tracer.start_as_current_span("http GET"):
            await asyncio.sleep(0)
        return {"rows": 3}

    async def run() -> object:
        async with harness.begin() as trace:
            return await trace.track_tool_call("fetch", fetch)

    assert asyncio.run(run()) == {"rows": 3}
    event = harness.span("fetch")
    inner = harness.span("http GET")
    assert harness.attr("fetch", A.OUTPUT) == '{"rows":3}'
    assert event.status.status_code is not StatusCode.ERROR
    assert inner.parent is not None
    assert event.context is not None
    assert inner.parent.span_id == event.context.span_id
    # Ended once the coroutine finished, not as it was made.
    ended = [span.name for span in harness.spans()]
    assert ended.index("fetch") > ended.index("http GET")
    assert harness.recorder.payload_guard.failures == 0


def test_a_sync_tracker_given_a_failing_coroutine_records_the_failure(harness: Harness) -> None:
    """The coroutine's exception, raised as it is awaited, fails the event and propagates."""

    async def refund() -> None:
        await asyncio.sleep(0)
        raise ValueError("card declined")

    async def run() -> None:
        async with harness.begin() as trace:
            await trace.track_action("refund", refund)

    with pytest.raises(ValueError, match="card declined"):
        asyncio.run(run())
    assert harness.span("refund").status.status_code is StatusCode.ERROR
    assert harness.attr("refund", A.EVENT_STATUS) == A.EventStatuses.FAILURE


def test_a_sync_llm_tracker_given_a_coroutine_function_returns_the_value(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`await trace.track_llm_call(name, async_fn)` returns the `LlmCallResult`'s `.value` and
    records its usage, as for a sync callable; with the SDK disabled, the value too."""

    async def ask() -> LlmCallResult:
        await asyncio.sleep(0)
        return LlmCallResult("refund", tokens=350, model="m")

    async def run() -> object:
        trace = harness.begin()
        answer = await cast("Awaitable[object]", trace.track_llm_call("decide", ask))  # type: ignore[arg-type]
        trace.close()
        return answer

    assert asyncio.run(run()) == "refund"
    assert harness.attr("decide", A.USAGE_TOKENS) == 350
    assert harness.attr("decide", A.USAGE_MODEL) == "m"
    assert harness.recorder.misuse_guard.failures == 0
    monkeypatch.setattr(harness.recorder, "recording", False)
    assert asyncio.run(run()) == "refund"


def test_a_coroutine_from_a_sync_tracker_never_run_still_ends_its_event(harness: Harness) -> None:
    """What a sync tracker returned for a coroutine function, dropped unawaited or cancelled
    before it first ran: its event still ends (failed: the work never ran), never left open."""

    async def fetch() -> int:
        return 1

    async def cancelled_before_it_ran(trace: AgentTrace) -> None:
        task = asyncio.ensure_future(
            cast("Awaitable[object]", trace.track_tool_call("cancelled", fetch))
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with harness.begin() as trace:
        dropped = trace.track_tool_call("dropped", fetch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "never awaited", as without us
            del dropped
            gc.collect()
        asyncio.run(cancelled_before_it_ran(trace))
        gc.collect()
    for name in ("dropped", "cancelled"):
        assert harness.span(name).status.status_code is StatusCode.ERROR, name
        assert harness.attr(name, A.EVENT_STATUS) == A.EventStatuses.FAILURE
    assert harness.context.open_span_count == 0
