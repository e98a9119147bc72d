"""Delegated tokens reach no further than their grant, on the real local platform (wire contract §5, §7)."""

from __future__ import annotations

import httpx

from tests.integration.platform.conftest import AgentClient
from tracengent.platform import create_grant
from tracengent.testing import RunningPlatform


def _delegated_client(
    platform: RunningPlatform, agent_client: AgentClient, permissions: list[str]
) -> httpx.Client:
    """A client of `hotel-agent` acting for `demo-agent` under a grant of `permissions`."""
    _grant, issued = create_grant(
        platform.store,
        platform.policy,
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=permissions,
        ttl_seconds=600,
    )
    return agent_client(token=issued.access_token)


def test_a_delegate_cannot_read_the_approvals_of_the_agent_it_acts_for(
    demo: httpx.Client, agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """demo-agent's held 800 EUR refund (its context, amount and status) is not hotel-agent's to
    read, even under a delegated token acting for demo-agent: 404, as for any other agent's."""
    held = demo.post(
        "/v1/authorize",
        json={"permission": "payments:refund", "context": {"amount": 800, "customer": "c_9"}},
    ).json()
    assert held["status"] == "pending_approval"
    delegate = _delegated_client(tracengent_platform, agent_client, ["hotels:book"])
    answer = delegate.get(f"/v1/approvals/{held['approvalId']}")
    assert answer.status_code == 404, answer.text
    assert "c_9" not in answer.text


def test_a_delegate_reads_the_approvals_it_was_held_for(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """A decision held under the delegated token stays readable under it, but not under the
    delegate's own token: a person approved it on demo-agent's behalf, not hotel-agent's."""
    delegate = _delegated_client(tracengent_platform, agent_client, ["payments:refund"])
    held = delegate.post(
        "/v1/authorize", json={"permission": "payments:refund", "context": {"amount": 800}}
    ).json()
    assert held["status"] == "pending_approval"
    polled = delegate.get(f"/v1/approvals/{held['approvalId']}")
    assert (polled.status_code, polled.json()["status"]) == (200, "pending")
    own = agent_client("hotel-agent").get(f"/v1/approvals/{held['approvalId']}")
    assert own.status_code == 404
