"""The console shows the newest standalone events only: when older ones are left out, a note says
so (as it does for traces, events and approvals), rather than a list that looks complete."""

from __future__ import annotations

from starlette.testclient import TestClient

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform import PlatformStore
from tracengent.platform._console_view import MAX_STANDALONE_EVENTS


def _standalone(count: int, *, status: str = "success") -> list[JsonObject]:
    return [
        {"eventId": f"evt_{status}_{i}", "type": "action", "name": f"step {i}", "status": status}
        for i in range(count)
    ]


def test_older_standalone_events_left_out_are_noted(
    console: TestClient, store: PlatformStore
) -> None:
    store.ingest_events("demo-agent", _standalone(MAX_STANDALONE_EVENTS + 1))
    state = console.get("/console/api/state").json()
    assert len(state["standaloneEvents"]) == MAX_STANDALONE_EVENTS
    assert state["standaloneEvents"][0]["name"] == f"step {MAX_STANDALONE_EVENTS}"
    assert state["standaloneMore"] is True
    html = console.get("/console/api/fragments").json()["standalone"]
    assert "Older standalone events are not shown" in html
    assert f"the newest {MAX_STANDALONE_EVENTS}" in html


def test_no_note_when_every_standalone_event_is_shown(
    console: TestClient, store: PlatformStore
) -> None:
    store.ingest_events("demo-agent", _standalone(MAX_STANDALONE_EVENTS))
    state = console.get("/console/api/state").json()
    assert len(state["standaloneEvents"]) == MAX_STANDALONE_EVENTS
    assert state["standaloneMore"] is False
    assert "not shown" not in console.get("/console/api/fragments").json()["standalone"]


def test_the_note_counts_only_events_that_pass_the_filters(
    console: TestClient, store: PlatformStore
) -> None:
    store.ingest_events("demo-agent", _standalone(3, status="failure"))
    store.ingest_events("demo-agent", _standalone(MAX_STANDALONE_EVENTS + 5))
    state = console.get("/console/api/state", params={"status": "failed"}).json()
    assert len(state["standaloneEvents"]) == 3
    assert state["standaloneMore"] is False
