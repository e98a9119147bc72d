"""An approval id held for one permission does not settle a wait for another, on the real local
platform: a client that never saw the id pending (another process's) reads the permission from
`GET /v1/approvals/{id}` and denies."""

from __future__ import annotations

import pytest

from tracengent import TracengentClient
from tracengent.testing import RunningPlatform

REFUND = "payments:refund"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_refunds_approval_does_not_settle_a_booking(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    holder = TracengentClient(tracengent_platform.options())
    held = holder.authorize(REFUND, {"amount": 700, "currency": "EUR"})
    holder.close(timeout=10)
    assert held.pending, held.reason
    assert held.approval_id is not None
    tracengent_platform.store.decide_approval(held.approval_id, True)

    other = TracengentClient(tracengent_platform.options(approval_poll_interval_s=0.01))
    try:
        if mode == "sync":
            booking = other.wait_for_approval("hotels:book", held.approval_id)
            refund = other.wait_for_approval(REFUND, held.approval_id)
        else:
            booking = await other.wait_for_approval_async("hotels:book", held.approval_id)
            refund = await other.wait_for_approval_async(REFUND, held.approval_id)
    finally:
        if mode == "sync":
            other.close(timeout=10)
        else:
            await other.aclose(timeout=10)
    assert (booking.allowed, booking.status) == (False, "denied")
    assert f"is for {REFUND!r}, not 'hotels:book'" in booking.reason
    assert (refund.allowed, refund.status) == (True, "allowed")
