"""One odd event never costs its batch-mates, against the real local platform (which refuses a
whole request for one event outside the wire contract, and stores what UTF-8 carries)."""

from __future__ import annotations

from tracengent import AgentEvent, TracengentClient
from tracengent.testing import RunningPlatform

LONE = "caf\udce9.txt"  # what `surrogateescape` makes of a Latin-1 file name
MENDED = "caf\ufffd.txt"


def test_an_event_without_a_name_costs_only_itself(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """Three good events and one named None in one batch: the three are stored, the bad one is
    counted `unserializable`, nothing is rejected."""
    client = TracengentClient(tracengent_platform.options(flush_interval_ms=60_000))
    for index in range(3):
        client.record(AgentEvent(name=f"good-{index}", type="action"))
    client.record(AgentEvent(name=None, type="action"))  # type: ignore[arg-type]
    assert not client.close(timeout=10)  # something was dropped: the close says so
    stored = [event.body["name"] for event in tracengent_platform.store.events()]
    assert stored == ["good-0", "good-1", "good-2"]
    stats = client.delivery_stats
    assert (stats["unserializable"], stats["rejected"]) == (1, 0)


def test_a_manual_span_of_an_unknown_type_costs_only_itself(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """A manual OTel span typed `tool` (not a contract type) inside a trace: its trace-mates and
    the trace close are stored, it alone is counted."""
    client = TracengentClient(tracengent_platform.options(flush_interval_ms=60_000))
    with client.begin_trace("refund order 42") as trace:
        trace.step("plan")
        trace.track_action("refund", lambda: "ok")
        with client.tracer.start_as_current_span(
            "lookup", attributes={"tracengent.event.type": "tool"}
        ):
            pass
    client.close(timeout=10)
    stored = [event.body["name"] for event in tracengent_platform.store.events()]
    assert stored == ["plan", "refund"]
    assert [record.status for record in tracengent_platform.store.traces()] == ["completed"]
    stats = client.delivery_stats
    assert (stats["unserializable"], stats["rejected"]) == (1, 0)


def test_a_lone_surrogate_costs_no_event_and_no_trace_close(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """A file name UTF-8 cannot encode, in a root request, a step and a tool's input: the texts
    are stored mended, the input is left out (counted), and the trace is closed."""
    client = TracengentClient(tracengent_platform.options(flush_interval_ms=60_000))
    with client.begin_trace(f"open {LONE}") as trace:
        trace.step(f"read {LONE}")
        trace.track_tool_call("read_file", lambda: "content", input={"path": LONE})
    assert client.close(timeout=10)
    bodies = [event.body for event in tracengent_platform.store.events()]
    assert [body["name"] for body in bodies] == [f"read {MENDED}", "read_file"]
    assert bodies[0]["rootRequest"] == f"open {MENDED}"
    assert "input" not in bodies[1]
    (record,) = tracengent_platform.store.traces()
    assert (record.root_request, record.status) == (f"open {MENDED}", "completed")
    assert client.delivery_stats["payloads_omitted"] == 1


def test_empty_ids_set_by_hand_are_left_out_and_cost_no_batch_mate(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """A manual span whose trace id, parent id and idempotency key are empty text (the platform
    refuses a whole request holding an empty id): its event goes without them, as a standalone
    event, and its batch-mates go too."""
    client = TracengentClient(tracengent_platform.options(flush_interval_ms=60_000))
    client.record(AgentEvent(name="before", type="action"))
    with client.tracer.start_as_current_span(
        "by hand",
        attributes={
            "tracengent.event.type": "action",
            "tracengent.trace.id": "",
            "tracengent.event.parent_id": "",
            "tracengent.event.idempotency_key": "",
        },
    ):
        pass
    client.record(AgentEvent(name="after", type="action"))
    assert client.close(timeout=10)
    bodies = {str(event.body["name"]): event.body for event in tracengent_platform.store.events()}
    assert sorted(bodies) == ["after", "before", "by hand"]
    assert not {"traceId", "parentEventId", "idempotencyKey"} & set(bodies["by hand"])
    stats = client.delivery_stats
    assert (stats["delivered"], stats["rejected"]) == (3, 0)
