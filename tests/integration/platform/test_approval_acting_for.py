"""`GET /v1/approvals/{id}` answers only on the behalf the approval was held on (POLICY.md step 3).

An approval held while a delegate acted for one agent was readable, so usable to settle a wait,
by the same delegate acting for another agent or on its own authority (only the token's agent was
compared), and one held on its own authority by the delegate acting for someone: a person's
approval for alice's refund settled the refund made for bob. `/v1/tool-authorize` already bound an
approved call to whom it is made for (0bef6ec); the approval's reader is now bound likewise.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.integration.platform.conftest import AgentClient
from tracengent._governance.delegation import begin_delegated_task
from tracengent.platform import Policy, create_grant, parse_policy
from tracengent.testing import RunningPlatform

_POLICY = """
[[agents]]
id = "alice"
client_id = "key_alice"
client_secret = "ags_alice"
permissions = ["payments:refund"]

[[agents]]
id = "bob"
client_id = "key_bob"
client_secret = "ags_bob"
permissions = ["payments:refund"]

[[agents]]
id = "helper"
client_id = "key_helper"
client_secret = "ags_helper"
permissions = ["payments:refund"]

[[rules]]
permission = "payments:refund"
require_approval_over = 500
"""

REFUND = "payments:refund"


@pytest.fixture
def tracengent_policy() -> Policy:
    """alice and bob delegate refunds to helper, which may refund on its own authority too."""
    return parse_policy(_POLICY)


def _token_for(platform: RunningPlatform, root: str) -> str:
    """A delegated token of helper acting for `root` (a new grant each time)."""
    _grant, issued = create_grant(
        platform.store,
        platform.policy,
        from_agent=root,
        to_agent="helper",
        permissions=[REFUND],
        ttl_seconds=600,
    )
    return issued.access_token


def _held(client: httpx.Client) -> str:
    answer = client.post("/v1/authorize", json={"permission": REFUND, "context": {"amount": 800}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "pending_approval"
    return str(answer.json()["approvalId"])


def test_an_approval_held_for_one_agent_is_read_only_acting_for_it(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """Held by helper acting for alice: read under any grant acting for alice (with its
    permission and on whose behalf), `404` acting for bob and under helper's own token."""
    approval_id = _held(agent_client(token=_token_for(tracengent_platform, "alice")))
    again_for_alice = agent_client(token=_token_for(tracengent_platform, "alice"))
    read = again_for_alice.get(f"/v1/approvals/{approval_id}")
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "pending"
    assert read.json()["permission"] == REFUND
    assert read.json()["actingFor"] == "alice"
    for other in (
        agent_client(token=_token_for(tracengent_platform, "bob")),
        agent_client("helper"),
    ):
        refused = other.get(f"/v1/approvals/{approval_id}")
        assert refused.status_code == 404, refused.text
        assert "800" not in refused.text


def test_an_own_approval_is_not_read_acting_for_another_agent(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """Held on helper's own authority: `404` under a token acting for alice; its own reads it
    (no `actingFor` in the answer)."""
    own = agent_client("helper")
    approval_id = _held(own)
    for_alice = agent_client(token=_token_for(tracengent_platform, "alice"))
    assert for_alice.get(f"/v1/approvals/{approval_id}").status_code == 404
    read = own.get(f"/v1/approvals/{approval_id}")
    assert read.status_code == 200
    assert "actingFor" not in read.json()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_wait_acting_for_another_agent_is_denied(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    """The SDK: helper's session acting for bob waits on the approved refund held for alice and
    is denied (the platform does not show it the approval); acting for alice it is allowed."""
    options = tracengent_platform.options(
        "helper", approval_poll_interval_s=0.01, approval_timeout_s=5.0
    )
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("approval-acting-for")
    for_alice = begin_delegated_task(
        options, _token_for(tracengent_platform, "alice"), tracer=tracer
    )
    for_bob = begin_delegated_task(options, _token_for(tracengent_platform, "bob"), tracer=tracer)
    try:
        held = for_alice.authorize(REFUND, {"amount": 800})
        assert held.pending, held.reason
        assert held.approval_id is not None
        tracengent_platform.store.decide_approval(held.approval_id, True)
        if mode == "sync":
            refused = for_bob.wait_for_approval(REFUND, held.approval_id)
            approved = for_alice.wait_for_approval(REFUND, held.approval_id)
        else:
            refused = await for_bob.wait_for_approval_async(REFUND, held.approval_id)
            approved = await for_alice.wait_for_approval_async(REFUND, held.approval_id)
    finally:
        await for_alice.aclose()
        await for_bob.aclose()
    assert (refused.allowed, refused.status) == (False, "denied")
    assert "404" in refused.reason
    assert (approved.allowed, approved.acting_for) == (True, "alice")
