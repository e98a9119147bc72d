"""What one console poll reads and renders is bounded: long traces and many traces are cut, with
notes that count the rest, and what is shown stays what the whole database says."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.integration.console.conftest import TRACE_ID, event
from tracengent.platform import PlatformStore
from tracengent.platform._console_view import (
    MAX_STANDALONE_EVENTS,
    MAX_TRACE_DECISIONS,
    MAX_TRACE_EVENTS,
    MAX_TRACES,
)


def _decide(store: PlatformStore, trace_id: str, approval_id: str | None = None) -> None:
    store.record_decision(
        agent_id="demo-agent",
        kind="authorize",
        permission="payments:refund",
        status="approval_required" if approval_id else "allowed",
        reason="over the threshold" if approval_id else "ok",
        request={},
        trace_id=trace_id,
        approval_id=approval_id,
    )


def test_a_long_trace_shows_its_first_events_and_counts_the_rest(
    console: TestClient, store: PlatformStore
) -> None:
    """250 events: the first 100 received are rendered, a note counts the other 150."""
    total = MAX_TRACE_EVENTS + 150
    store.ingest_events(
        "demo-agent",
        [event(f"evt_{n}", f"step {n}") for n in range(total - 1)]
        # The root request comes only with an event past the ones shown.
        + [event("evt_last", "last step", rootRequest="refund order 42")],
    )
    for _ in range(MAX_TRACE_DECISIONS + 20):
        _decide(store, TRACE_ID)
    (trace,) = console.get("/console/api/state").json()["traces"]
    assert len(trace["events"]) == MAX_TRACE_EVENTS
    assert trace["events"][0]["name"] == "step 0"
    assert trace["eventCount"] == total
    assert trace["rootRequest"] == "refund order 42"
    assert len(trace["decisions"]) == MAX_TRACE_DECISIONS
    assert trace["decisionCount"] == MAX_TRACE_DECISIONS + 20
    html = console.get("/console/api/fragments").json()["traces"]
    assert html.count('<tr class="event">') == MAX_TRACE_EVENTS
    assert f"{total} events, {MAX_TRACE_DECISIONS + 20} decisions" in html
    assert "150 more events not shown" in html
    assert "20 more decisions not shown" in html
    assert "refund order 42" in html


def test_only_the_newest_traces_are_read_and_the_rest_counted(
    console: TestClient, store: PlatformStore
) -> None:
    """Of 130 traces the newest 100 show, in order; the filters count every trace that passes."""
    for n in range(MAX_TRACES + 30):
        kind = "llm_call" if n % 2 else "action"
        store.ingest_events(
            "demo-agent", [event(f"evt_{n}", f"step {n}", traceId=f"trc_{n}", type=kind)]
        )
        if n % 3 == 0:
            store.ingest_trace_close("demo-agent", {"traceId": f"trc_{n}", "status": "failed"})
    # An old trace whose close arrives last is the newest.
    store.ingest_trace_close("demo-agent", {"traceId": "trc_1", "status": "completed"})
    state = console.get("/console/api/state").json()
    shown = [t["traceId"] for t in state["traces"]]
    assert shown[:3] == ["trc_1", f"trc_{MAX_TRACES + 29}", f"trc_{MAX_TRACES + 28}"]
    assert len(shown) == MAX_TRACES
    assert state["tracesTotal"] == MAX_TRACES + 30
    assert state["traces"][0]["status"] == "completed"
    html = console.get("/console/api/fragments").json()["traces"]
    assert f"Showing the newest {MAX_TRACES} of {MAX_TRACES + 30} traces." in html

    def total(query: str) -> int:
        return int(console.get(f"/console/api/state?{query}").json()["tracesTotal"])

    assert total("status=failed") == len([n for n in range(MAX_TRACES + 30) if n % 3 == 0])
    assert total("type=llm_call") == (MAX_TRACES + 30) // 2
    assert total("type=llm_call&status=completed") == 1
    assert total("agent=car-agent") == 0


def test_a_decision_shows_its_decided_approval(console: TestClient, store: PlatformStore) -> None:
    """The approval a decision asked for shows its status once decided (no longer pending)."""
    store.ingest_events("demo-agent", [event("evt_1", "refund")])
    approval = store.create_approval(
        agent_id="demo-agent",
        permission="payments:refund",
        context={},
        ttl_seconds=600,
        trace_id=TRACE_ID,
    )
    _decide(store, TRACE_ID, approval.approval_id)
    waiting = store.create_approval(
        agent_id="demo-agent", permission="payments:refund", context={}, ttl_seconds=600
    )
    store.decide_approval(approval.approval_id, True)
    state = console.get("/console/api/state").json()
    (decision,) = state["traces"][0]["decisions"]
    assert decision["approvalStatus"] == "approved"
    assert [a["approvalId"] for a in state["approvals"]] == [waiting.approval_id]


def test_standalone_events_newest_first_filtered(console: TestClient, store: PlatformStore) -> None:
    """The newest standalone events of every agent, merged; filters by sender, status and type."""
    for n in range(MAX_STANDALONE_EVENTS):
        store.ingest_events(
            "demo-agent",
            [event(f"evt_d{n}", f"demo {n}", traceId=None, status="success")],
        )
        store.ingest_events(
            "car-agent",
            [event(f"evt_c{n}", f"car {n}", traceId=None, status="failure", type="tool_call")],
        )
    store.ingest_events("demo-agent", [event("evt_t", "in a trace")])

    def names(query: str) -> list[str]:
        found = console.get(f"/console/api/state?{query}").json()["standaloneEvents"]
        return [str(e["name"]) for e in found]

    everything = names("")
    assert len(everything) == MAX_STANDALONE_EVENTS
    assert everything[:3] == [
        f"car {MAX_STANDALONE_EVENTS - 1}",
        f"demo {MAX_STANDALONE_EVENTS - 1}",
        f"car {MAX_STANDALONE_EVENTS - 2}",
    ]
    assert names("agent=demo-agent")[0] == f"demo {MAX_STANDALONE_EVENTS - 1}"
    assert all(n.startswith("demo ") for n in names("agent=demo-agent"))
    assert all(n.startswith("car ") for n in names("status=failure"))
    assert all(n.startswith("car ") for n in names("type=tool_call"))
    assert names("agent=demo-agent&type=tool_call") == []
