"""`wait_for_approval` against the real local platform keeps the pending decision's obligations."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.wire import AuthObligations
from tracengent import TracengentClient
from tracengent.testing import RunningPlatform

REFUND = "payments:refund"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_approved_wait_keeps_obligations_and_redacts_the_trace(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    """A refund held for approval (700 EUR, over the 500 threshold) and approved by a person:
    `wait_for_approval` allows with the rule's obligations, and the trace's later action is
    stored with `$.card` redacted as the platform required."""
    client = TracengentClient(tracengent_platform.options(approval_poll_interval_s=0.01))
    with client.begin_trace("refund") as trace:
        held = client.authorize(REFUND, {"amount": 700, "currency": "EUR"})
        assert held.pending
        assert held.approval_id is not None
        tracengent_platform.store.decide_approval(held.approval_id, True)
        if mode == "sync":
            approved = client.wait_for_approval(REFUND, held.approval_id)
        else:
            approved = await client.wait_for_approval_async(REFUND, held.approval_id)
        trace.track_action("issue_refund", lambda: "ok", input={"amount": 700, "card": "4242"})
        trace.complete("completed")
    if mode == "sync":
        assert client.close(timeout=10)
    else:
        # The async wait pooled a connection on this loop: close it on the loop.
        assert await client.aclose(timeout=10)

    assert (approved.allowed, approved.status) == (True, "allowed")
    assert approved.obligations == held.obligations
    assert isinstance(approved.obligations, AuthObligations)
    assert approved.obligations.redact_fields == ["$.card"]
    assert approved.obligations.max_amount == 1000
    (stored,) = [e for e in tracengent_platform.store.events() if e.body["name"] == "issue_refund"]
    assert stored.body["input"] == {"amount": 700, "card": "***REDACTED***"}
