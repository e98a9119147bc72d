"""The API while another process holds the database's write lock past the busy timeout."""

from __future__ import annotations

import sqlite3

import httpx

from tracengent.testing import RunningPlatform

_EVENT = {"eventId": "evt_locked", "type": "action", "name": "refund", "status": "success"}


def test_ingest_on_a_locked_database_is_a_retryable_503_then_stored(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A batch that meets a locked database gets 503 with `Retry-After` and a JSON detail (not a
    500 and a traceback); sent again once the lock is gone, it is stored once."""
    store = tracengent_platform.store
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = demo.post("/v1/ingest/events", json=[_EVENT], timeout=30.0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked.status_code == 503, locked.text
    assert locked.headers["retry-after"] == "1"
    assert locked.json()["error"] == "unavailable"
    assert "locked" in locked.json()["detail"]
    assert store.events() == []
    retried = demo.post("/v1/ingest/events", json=[_EVENT])
    assert retried.status_code in (200, 202), retried.text
    assert [event.body["eventId"] for event in store.events()] == ["evt_locked"]
