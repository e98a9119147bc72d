"""However many approvals agents ask for, one console poll reads and renders a bounded number."""

from __future__ import annotations

from starlette.testclient import TestClient

from tracengent.platform import PlatformStore
from tracengent.platform._console_view import MAX_PENDING_APPROVALS


def test_a_flood_of_pending_approvals_shows_the_oldest_and_counts_the_rest(
    console: TestClient, store: PlatformStore
) -> None:
    """130 pending approvals: the oldest 100 get buttons, a note counts the other 30."""
    total = MAX_PENDING_APPROVALS + 30
    asked = [
        store.create_approval(
            agent_id="demo-agent",
            permission="payments:refund",
            context={"n": n},
            ttl_seconds=600,
            amount=800,
            currency="EUR",
        )
        for n in range(total)
    ]
    state = console.get("/console/api/state").json()
    assert [a["approvalId"] for a in state["approvals"]] == [
        a.approval_id for a in asked[:MAX_PENDING_APPROVALS]
    ]
    assert state["approvalsTotal"] == total
    fragments = console.get("/console/api/fragments").json()
    assert fragments["pendingApprovals"] == total
    assert fragments["approvals"].count("data-approval-id=") == MAX_PENDING_APPROVALS
    assert "30 more pending approvals not shown" in fragments["approvals"]
    assert asked[-1].approval_id not in fragments["approvals"]
    page = console.get("/").text
    assert page.count("data-approval-id=") == MAX_PENDING_APPROVALS


def test_deciding_a_shown_approval_brings_the_next_one_in(
    console: TestClient, store: PlatformStore
) -> None:
    """Once one of the oldest is decided, the next pending approval is shown in its place."""
    asked = [
        store.create_approval(
            agent_id="demo-agent",
            permission="payments:refund",
            context={},
            ttl_seconds=600,
            amount=800,
            currency="EUR",
        )
        for _ in range(MAX_PENDING_APPROVALS + 1)
    ]
    store.decide_approval(asked[0].approval_id, True)
    state = console.get("/console/api/state").json()
    assert [a["approvalId"] for a in state["approvals"]] == [a.approval_id for a in asked[1:]]
    assert state["approvalsTotal"] == MAX_PENDING_APPROVALS
