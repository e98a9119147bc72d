"""Empty-string ids on the real local platform, over loopback (wire contract §2, §3).

Ids are prefixed opaque strings and an absent optional is left out: `""` is neither an id nor
the absence of one. An event filed under the empty trace id could never be closed (a close needs
a non-empty `traceId`) and showed in the console as a trace that never ends.
"""

from __future__ import annotations

import httpx
import pytest

from tracengent.testing import RunningPlatform

_ID_FIELDS = ["eventId", "idempotencyKey", "agentId", "traceId", "parentEventId"]


def _action(name: str, **ids: str) -> dict[str, str]:
    return {**ids, "type": "action", "name": name, "status": "success"}


@pytest.mark.parametrize("field", _ID_FIELDS)
def test_an_empty_id_refuses_the_batch_with_400_and_stores_nothing(
    demo: httpx.Client, tracengent_platform: RunningPlatform, field: str
) -> None:
    """An event with an empty id field refuses its batch as a non-string id does: 400 naming the
    field and the event, nothing stored, counted under its reason."""
    batch = [_action("fine", traceId="trc_1", eventId="evt_1"), _action("odd", **{field: ""})]
    answer = demo.post("/v1/ingest/events", json=batch)
    assert answer.status_code == 400
    assert answer.json()["error"] == f"invalid {field}"
    assert f"event 1: {field!r} must be a non-empty string" in answer.json()["detail"]
    assert tracengent_platform.store.events() == []
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert (counters.batches_rejected, counters.events_received) == (1, 0)
    assert counters.rejection_reasons == {f"invalid {field}": 1}


def test_no_trace_is_opened_under_the_empty_trace_id(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """Events under `traceId: ""` no longer make a trace that no close can end: the console shows
    no trace, and the close of that id is refused as before."""
    events = [_action("step", traceId=""), _action("next", traceId="", parentEventId="evt_x")]
    assert demo.post("/v1/ingest/events", json=events).status_code == 400
    close = {"traceId": "", "op": "Close", "status": "completed"}
    refused = demo.post("/v1/ingest/traces", json=close)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid traceId")
    assert tracengent_platform.store.traces() == []
    with httpx.Client(base_url=tracengent_platform.url, timeout=10) as browser:
        state = browser.get("/console/api/state").json()
    assert state["traces"] == []


def test_ids_that_are_present_and_non_empty_are_still_stored(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """The rule refuses only the empty string: every id field set, or left out, is stored."""
    full = _action(
        "full",
        eventId="evt_1",
        idempotencyKey="k1",
        agentId="demo-agent",
        traceId="trc_1",
        parentEventId="evt_0",
    )
    bare = _action("bare")
    answer = demo.post("/v1/ingest/events", json=[full, bare])
    assert (answer.status_code, answer.json()["stored"]) == (200, 2)
    assert [e.body for e in tracengent_platform.store.events()] == [full, bare]


def test_an_empty_authorize_trace_id_is_no_trace(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """`/v1/authorize` with `traceId: ""` is decided as without a trace id (as a null one is):
    the id only files the decision, so it is neither refused (a deny) nor filed under a trace
    ingest refuses, and the held approval links to no trace."""
    request = {
        "permission": "payments:refund",
        "context": {"amount": 800, "currency": "EUR"},
        "traceId": "",
    }
    answer = demo.post("/v1/authorize", json=request)
    assert (answer.status_code, answer.json()["status"]) == (200, "pending_approval")
    (decision,) = tracengent_platform.store.decisions()
    assert decision.trace_id is None
    poll = demo.get(f"/v1/approvals/{answer.json()['approvalId']}").json()
    assert (poll["status"], "traceId" in poll) == ("pending", False)
    with httpx.Client(base_url=tracengent_platform.url, timeout=10) as browser:
        (approval,) = browser.get("/console/api/state").json()["approvals"]
    assert (approval["traceId"], approval["traceAnchor"]) == (None, None)


@pytest.mark.parametrize(
    "request_body",
    [
        {"transport": "function", "functionName": "book_flight", "traceId": ""},
        {"transport": "mcp", "toolName": "search_flights", "traceId": ""},
    ],
    ids=["function", "mcp"],
)
def test_an_empty_tool_authorize_trace_id_is_no_trace(
    demo: httpx.Client, tracengent_platform: RunningPlatform, request_body: dict[str, str]
) -> None:
    """`/v1/tool-authorize` with `traceId: ""` is answered as without one; its decision is filed
    under no trace."""
    answer = demo.post("/v1/tool-authorize", json=request_body)
    without = demo.post(
        "/v1/tool-authorize", json={k: v for k, v in request_body.items() if k != "traceId"}
    )
    assert answer.status_code == without.status_code == 200
    assert (answer.json()["status"], answer.json()["outcome"]) == (
        without.json()["status"],
        without.json()["outcome"],
    )
    assert [d.trace_id for d in tracengent_platform.store.decisions()] == [None, None]


@pytest.mark.parametrize("agent_id", ["", 7, None], ids=["empty", "number", "null"])
def test_a_close_whose_agent_id_is_no_id_is_refused_as_an_events_is(
    demo: httpx.Client, tracengent_platform: RunningPlatform, agent_id: object
) -> None:
    """A close's `agentId`, when present, is held to the events' rule (a non-empty string): 400
    `invalid agentId`, nothing stored, counted."""
    close = {"traceId": "trc_1", "agentId": agent_id, "op": "Close", "status": "completed"}
    answer = demo.post("/v1/ingest/traces", json=close)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid agentId")
    assert answer.json()["detail"] == "'agentId' must be a non-empty string"
    assert tracengent_platform.store.traces() == []
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert (counters.trace_closes_received, counters.rejection_reasons) == (
        0,
        {"invalid agentId": 1},
    )


def test_a_close_without_an_agent_id_is_still_stored(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """`agentId` stays optional on a close: one without it is stored under the sender."""
    close = {"traceId": "trc_1", "op": "Close", "status": "failed"}
    assert demo.post("/v1/ingest/traces", json=close).json()["stored"] == 1
    (trace,) = tracengent_platform.store.traces()
    assert (trace.agent_id, trace.status) == ("demo-agent", "failed")
