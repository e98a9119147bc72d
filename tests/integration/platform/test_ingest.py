"""Event and trace-close ingest on the real local platform (wire contract §2, §3)."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from tracengent.testing import RunningPlatform

_BATCH = [
    {
        "eventId": "evt_a",
        "agentId": "demo-agent",
        "traceId": "trc_1",
        "type": "action",
        "name": "refund",
        "status": "success",
        "cost": {"amount": 42.5, "currency": "USD"},
        "occurredAt": "2026-11-24T10:15:02.123456+00:00",
        "durationMs": 12.5,
        "tags": ["production"],
        "rootRequest": "Refund order 42",
    },
    {
        "eventId": "evt_b",
        "traceId": "trc_1",
        "parentEventId": "evt_a",
        "type": "tool_call",
        "name": "POST api.example.com/v1/refunds",
        "status": "failure",
    },
]


def test_plain_batch_is_stored_exactly_as_received(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """Each event is stored as the wire object it was, under the authenticated agent."""
    answer = demo.post("/v1/ingest/events", json=_BATCH)
    assert answer.status_code == 200
    stored = tracengent_platform.store.events()
    assert [e.body for e in stored] == _BATCH
    assert {e.agent_id for e in stored} == {"demo-agent"}
    assert all(e.received_at for e in stored)


def test_gzip_batch_is_stored(demo: httpx.Client, tracengent_platform: RunningPlatform) -> None:
    """A gzip body with Content-Encoding: gzip is decompressed and stored."""
    body = gzip.compress(json.dumps(_BATCH).encode())
    answer = demo.post(
        "/v1/ingest/events",
        content=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert [e.body for e in tracengent_platform.store.events()] == _BATCH


def test_resent_batch_is_stored_once_and_counted(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A batch re-sent after a lost answer stores each eventId once; duplicates are counted."""
    assert demo.post("/v1/ingest/events", json=_BATCH).json()["stored"] == 2
    again = demo.post("/v1/ingest/events", json=_BATCH).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)
    assert len(tracengent_platform.store.events()) == 2
    assert tracengent_platform.store.counters()["demo-agent"].duplicates_ignored == 2


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        (b"{not json", "not json", "not JSON"),
        (b'{"type": "action"}', "not an array", "JSON array"),
        (b'[{"type":"action","name":"n","status":"success"}, 3]', "invalid event", "event 1"),
        (b'[{"name":"n","status":"success"}]', "invalid type", "event 0: 'type'"),
        (b'[{"type":"action","status":"success"}]', "invalid name", "event 0: 'name'"),
        (
            b'[{"type":"action","name":"n","status":"success"},{"type":"action","name":"n","status":"ok"}]',
            "invalid status",
            "event 1: 'status' must be one of failure/pending/success",
        ),
        (
            b'[{"type":"action","name":"n","status":"success","traceId":7}]',
            "invalid traceId",
            "event 0",
        ),
    ],
)
def test_malformed_batch_is_400_and_stores_nothing(
    demo: httpx.Client, tracengent_platform: RunningPlatform, body: bytes, error: str, detail: str
) -> None:
    """A malformed batch gets 400 naming the problem, stores nothing and is counted with its reason."""
    answer = demo.post(
        "/v1/ingest/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert detail in answer.json()["detail"]
    assert tracengent_platform.store.events() == []
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert counters.batches_rejected == 1
    assert counters.rejection_reasons == {error: 1}


def test_bad_gzip_is_400(demo: httpx.Client, tracengent_platform: RunningPlatform) -> None:
    """A body that claims gzip but is not is refused with 400 `bad gzip`."""
    answer = demo.post(
        "/v1/ingest/events", content=b"plainly not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad gzip"
    assert tracengent_platform.store.events() == []


def test_trace_close_is_stored_and_sets_the_trace_status(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A trace close is stored as received and becomes the trace's status and summary."""
    demo.post("/v1/ingest/events", json=_BATCH)
    close = {
        "traceId": "trc_1",
        "agentId": "demo-agent",
        "rootRequest": "Refund order 42",
        "op": "Close",
        "status": "completed",
        "occurredAt": "2026-11-24T10:15:03.000000+00:00",
        "summary": "refunded",
    }
    assert demo.post("/v1/ingest/traces", json=close).status_code == 200
    assert demo.post("/v1/ingest/traces", json=close).json()["duplicates"] == 1
    (trace,) = tracengent_platform.store.traces()
    assert (trace.status, trace.summary, trace.close) == ("completed", "refunded", close)
    assert [e.body["eventId"] for e in trace.events] == ["evt_a", "evt_b"]


@pytest.mark.parametrize(
    ("close", "error"),
    [
        ([], "invalid close"),
        ({"op": "Close", "status": "completed"}, "invalid traceId"),
        ({"traceId": "trc_1", "op": "Open", "status": "completed"}, "invalid op"),
        ({"traceId": "trc_1", "op": "Close", "status": "done"}, "invalid status"),
    ],
)
def test_malformed_trace_close_is_400(
    demo: httpx.Client, tracengent_platform: RunningPlatform, close: object, error: str
) -> None:
    """A trace close breaking §3 is refused with 400 and not stored."""
    answer = demo.post("/v1/ingest/traces", json=close)
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert tracengent_platform.store.traces() == []
