"""10 000 events through the public API into the real local platform: every one accounted for."""

from __future__ import annotations

from collections import Counter

import tracengent
from tracengent.testing import RunningPlatform

STANDALONE = 5_000
TRACED = 5_000
TOTAL = STANDALONE + TRACED
# Generous: `close` returns as soon as the buffer drained; this only bounds a broken run.
CLOSE_TIMEOUT_S = 60.0


def test_ten_thousand_events_are_stored_once_each(tracengent_platform: RunningPlatform) -> None:
    """Stored + dropped == 10 000 with nothing dropped, no duplicate stored, the trace closed."""
    # Room for the whole burst (and the trace's root), so a starved export thread on a busy CI
    # machine cannot turn "nothing dropped" into a queue_full drop.
    client = tracengent.TracengentClient(
        tracengent_platform.options("demo-agent", queue_capacity=2 * TOTAL)
    )
    for index in range(STANDALONE):
        client.record(
            tracengent.AgentEvent(
                name=f"standalone-{index}",
                type=tracengent.EventTypes.ACTION,
                idempotency_key=f"standalone-{index}",
            )
        )
    with client.begin_trace("ten thousand events") as trace:
        for index in range(TRACED):
            trace.step(f"step-{index}")
    assert client.close(timeout=CLOSE_TIMEOUT_S)

    stored = [e for e in tracengent_platform.store.events() if e.agent_id == "demo-agent"]
    assert len(stored) + client.dropped_count == TOTAL
    assert client.dropped_count == 0
    event_ids = Counter(e.body["eventId"] for e in stored)
    assert [event_id for event_id, seen in event_ids.items() if seen > 1] == []
    names = {e.body["name"] for e in stored}
    assert names == {f"standalone-{i}" for i in range(STANDALONE)} | {
        f"step-{i}" for i in range(TRACED)
    }
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert (counters.events_received, counters.duplicates_ignored) == (TOTAL, 0)
    assert counters.batches_rejected == 0
    (stored_trace,) = tracengent_platform.store.traces()
    assert (stored_trace.trace_id, stored_trace.status) == (trace.trace_id, "completed")
    assert len(stored_trace.events) == TRACED
