"""A delegated session's pending decision is waited for under the delegated token, obligations kept.

Against the real local platform: `hotel-agent` holds `payments:refund` delegated by `demo-agent`;
800 EUR is over the approval threshold, so the decision is pending; a person approves it.
"""

from __future__ import annotations

import threading

from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from tracengent._governance.delegation import DelegatedSession
from tracengent.platform import create_grant
from tracengent.testing import RunningPlatform

from .conftest import delegated_session

REFUND: dict[str, JsonValue] = {"amount": 800, "currency": "EUR"}


def _pending_session(platform: RunningPlatform, tracer: Tracer) -> DelegatedSession:
    _grant, issued = create_grant(
        platform.store,
        platform.policy,
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=["payments:refund"],
        ttl_seconds=600,
        max_amount=1000,
    )
    options = platform.options(
        "hotel-agent", approval_poll_interval_s=0.02, approval_timeout_s=10.0
    )
    return delegated_session(options, issued.access_token, tracer)


def _approve_when_asked(platform: RunningPlatform) -> threading.Thread:
    def approve() -> None:
        while not platform.store.approvals(status="pending"):
            threading.Event().wait(0.01)
        (approval,) = platform.store.approvals(status="pending")
        platform.store.decide_approval(approval.approval_id, True)

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


async def test_a_delegated_approval_is_waited_for_with_its_obligations(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """authorize → pending; the session's own wait (sync and async) allows with the obligations."""
    session = _pending_session(tracengent_platform, tracer)
    for wait in ("sync", "async"):
        held = session.authorize("payments:refund", REFUND)
        assert held.pending, held.reason
        assert held.obligations is not None
        assert held.approval_id is not None
        approver = _approve_when_asked(tracengent_platform)
        if wait == "sync":
            decision = session.wait_for_approval("payments:refund", held.approval_id)
        else:
            decision = await session.wait_for_approval_async("payments:refund", held.approval_id)
        approver.join(5)
        assert decision.allowed, decision.reason
        assert decision.obligations == held.obligations
        assert decision.obligations is not None
        assert decision.obligations.redact_fields == ["$.card"]
        assert (decision.acting_for, decision.chain) == (held.acting_for, held.chain)
