"""The console's status filter over standalone events: the trace statuses it offers select them."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tracengent.platform import PlatformStore


@pytest.fixture
def standalone(store: PlatformStore) -> PlatformStore:
    """Three events outside any trace, one of each wire status."""
    store.ingest_events(
        "demo-agent",
        [
            {"eventId": "evt_s1", "type": "action", "name": "invoice", "status": "success"},
            {"eventId": "evt_s2", "type": "error", "name": "crash", "status": "failure"},
            {"eventId": "evt_s3", "type": "action", "name": "refund", "status": "pending"},
        ],
    )
    return store


def _shown(console: TestClient, query: str) -> list[str | None]:
    state = console.get(f"/console/api/state?{query}").json()
    return [e["name"] for e in state["standaloneEvents"]]


@pytest.mark.parametrize(
    ("status", "names"),
    [("failed", ["crash"]), ("completed", ["invoice"]), ("open", ["refund"])],
)
def test_each_status_the_filter_offers_selects_the_standalone_events_of_that_outcome(
    console: TestClient, standalone: PlatformStore, status: str, names: list[str]
) -> None:
    """The filter offers trace statuses (open/completed/failed): a standalone event, whose status
    is success/failure/pending, is kept by the one of the same outcome (it showed none at all)."""
    page = console.get("/").text
    assert f'<option value="{status}">' in page
    assert _shown(console, f"status={status}") == names
    assert all(n in console.get(f"/console/api/fragments?status={status}").json()["standalone"]
               for n in names)  # fmt: skip


def test_an_event_status_in_the_address_still_selects_standalone_events(
    console: TestClient, standalone: PlatformStore
) -> None:
    """`status=failure` (typed in the address) keeps filtering standalone events as before."""
    assert _shown(console, "status=failure") == ["crash"]
    assert _shown(console, "status=success") == ["invoice"]
    assert _shown(console, "status=nonsense") == []
