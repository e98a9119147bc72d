"""Events recorded on a decision trace after it ended still belong to it (wire contract §2)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import AGENT_ID, ClientHarness, Harness


def _in_trace(harness: Harness, name: str, trace_id: str, actor: str | None = None) -> None:
    assert harness.attr(name, A.TRACE_ID) == trace_id
    assert harness.attr(name, A.GEN_AI_AGENT_ID) == AGENT_ID
    assert harness.attr(name, A.ACTOR_USER_ID) == actor
    assert harness.attr(name, A.TRACE_ROOT_REQUEST) is None


def test_events_after_complete_inside_with_keep_trace_actor_and_chain(harness: Harness) -> None:
    """After `complete()` inside the block, records, steps and tracked calls stay chained."""
    with harness.begin(actor_user_id="u-9") as trace:
        trace.step("decided")
        trace.complete("completed", summary="refunded")
        trace.record(AgentEvent("audit-log", "lifecycle"))
        trace.track_action("notify", lambda: "sent")
        trace.step("late thought")
    assert harness.attr("decided", A.TRACE_ROOT_REQUEST) == "do it"
    for name in ("audit-log", "notify", "late thought"):
        _in_trace(harness, name, trace.trace_id, "u-9")
    assert harness.attr("audit-log", A.EVENT_PARENT_ID) == harness.event_id("decided")
    assert harness.attr("notify", A.EVENT_PARENT_ID) == harness.event_id("audit-log")
    assert harness.attr("late thought", A.EVENT_PARENT_ID) == harness.event_id("notify")


def test_trace_used_without_with_keeps_its_late_events(harness: Harness) -> None:
    """Tracked calls, decorated functions and generators after `close()` are in the trace."""
    trace = harness.begin()
    trace.step("first")
    trace.close()

    @trace.tool("decorated")
    def decorated() -> int:
        return 1

    @trace.action("generated")
    def generated() -> Iterator[int]:
        yield 1

    def late() -> int:
        trace.step("inside late")
        return 2

    assert trace.track_tool_call("late", late) == 2
    assert decorated() == 1
    assert list(generated()) == [1]
    for name in ("late", "inside late", "decorated", "generated"):
        _in_trace(harness, name, trace.trace_id)
    assert harness.attr("late", A.EVENT_PARENT_ID) == harness.event_id("first")
    assert harness.attr("inside late", A.EVENT_PARENT_ID) == harness.event_id("late")
    assert harness.attr("decorated", A.EVENT_PARENT_ID) == harness.event_id("late")
    assert harness.context.open_span_count == 0


async def test_task_outliving_async_with_records_into_the_trace(harness: Harness) -> None:
    """A task started inside `async with` and finishing after it records into the trace."""
    release = asyncio.Event()

    async def lookup() -> int:
        return 1

    async with harness.begin() as trace:

        async def background() -> int:
            await release.wait()
            return await trace.track_tool_call_async("background", lookup)

        task = asyncio.create_task(background())
    assert trace.closed
    release.set()
    assert await task == 1
    assert harness.attr("background", A.TRACE_ID) == trace.trace_id
    # The trace's first event, though recorded after the end: it carries the root request.
    assert harness.attr("background", A.TRACE_ROOT_REQUEST) == "do it"


def test_other_instrumentations_spans_under_the_ended_root_stay_in_the_trace(
    harness: Harness,
) -> None:
    """A GenAI span started under the ended root is an event of the trace."""
    tracer = harness.provider.get_tracer("genai")
    with harness.begin() as trace:
        trace.complete("completed")
        with tracer.start_as_current_span("chat m", attributes={A.GEN_AI_OPERATION_NAME: "chat"}):
            pass
    assert harness.attr("chat m", A.TRACE_ID) == trace.trace_id


def test_an_ended_trace_nobody_holds_is_forgotten(harness: Harness) -> None:
    """The processor keeps an ended root only while its `AgentTrace` lives: no leak."""
    trace = harness.begin()
    trace.complete("completed")
    assert harness.context.kept_trace_count == 1
    del trace
    gc.collect()
    assert harness.context.kept_trace_count == 0
    assert harness.context.open_span_count == 0


def test_late_events_reach_the_platform_with_the_trace_id(client_harness: ClientHarness) -> None:
    """On the wire, events recorded after `complete()` carry the trace's id and actor."""
    client = client_harness.client
    with client.begin_trace("refund 7", actor_user_id="u1") as trace:
        trace.step("check order")
        trace.complete("completed")
        client.record(AgentEvent(name="client-record", type="action"))
        trace.track_action("notify", lambda: "sent")
    assert client.close(timeout=10)
    events = {str(e["name"]): e for e in client_harness.platform.events()}
    assert set(events) == {"check order", "client-record", "notify"}
    for name in ("client-record", "notify"):
        assert events[name]["traceId"] == trace.trace_id
        assert events[name]["actor"] == {"userId": "u1"}
        assert "rootRequest" not in events[name]
    assert events["client-record"]["parentEventId"] == events["check order"]["eventId"]
    assert events["notify"]["parentEventId"] == events["client-record"]["eventId"]
    assert client.dropped_count == 0
