"""A person's approval of a held tool call is of the call made on someone's behalf: a retry on
behalf of another agent (another grant's root, or the delegate itself) is held again, on the real
local platform (POLICY.md, decision step 3)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.platform.conftest import AgentClient
from tracengent.platform import Policy, create_grant, parse_policy
from tracengent.testing import RunningPlatform

_POLICY = """
[[agents]]
id = "alice"
client_id = "key_alice"
client_secret = "ags_alice"
permissions = ["mail:send"]

[[agents]]
id = "bob"
client_id = "key_bob"
client_secret = "ags_bob"
permissions = ["mail:send"]

[[agents]]
id = "helper"
client_id = "key_helper"
client_secret = "ags_helper"
permissions = ["mail:send"]

[[tools]]
transport = "function"
name = "send_email"
permission = "mail:send"
approval = true
"""

EMAIL: dict[str, object] = {
    "transport": "function",
    "functionName": "send_email",
    "body": {"to": "a@example.com", "text": "refund approved"},
}


@pytest.fixture
def tracengent_policy() -> Policy:
    """Two agents delegate mail:send to one helper, which holds it itself too."""
    return parse_policy(_POLICY)


def _acting_for(platform: RunningPlatform, agent_client: AgentClient, root: str) -> httpx.Client:
    """A client of `helper` acting for `root` under a grant of mail:send."""
    _grant, issued = create_grant(
        platform.store,
        platform.policy,
        from_agent=root,
        to_agent="helper",
        permissions=["mail:send"],
        ttl_seconds=600,
    )
    return agent_client(token=issued.access_token)


def _tool(client: httpx.Client) -> dict[str, object]:
    answer = client.post("/v1/tool-authorize", json=EMAIL)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _approved(platform: RunningPlatform, client: httpx.Client) -> str:
    held = _tool(client)
    assert held["status"] == "pending_approval"
    approval_id = str(held["approvalId"])
    platform.store.decide_approval(approval_id, True)
    return approval_id


@pytest.mark.parametrize("other", ["bob", None])
def test_an_approval_for_one_agent_is_not_used_on_behalf_of_another(
    agent_client: AgentClient, tracengent_platform: RunningPlatform, other: str | None
) -> None:
    """helper's mail held while acting for alice and approved: the same mail sent for bob (under
    bob's grant) or for helper itself (its own token) is held again, and the approval is left
    for the retry on alice's behalf."""
    for_alice = _acting_for(tracengent_platform, agent_client, "alice")
    approval_id = _approved(tracengent_platform, for_alice)
    elsewhere = (
        agent_client("helper")
        if other is None
        else _acting_for(tracengent_platform, agent_client, other)
    )
    again = _tool(elsewhere)
    assert (again["status"], again["outcome"]) == ("pending_approval", "approval_required")
    assert again["approvalId"] != approval_id
    retried = _tool(for_alice)
    assert (retried["allowed"], retried["approvalId"]) == (True, approval_id)


def test_an_own_approval_is_not_used_on_behalf_of_another_agent(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """helper's own mail, approved, does not go out acting for alice without her approval."""
    own = agent_client("helper")
    approval_id = _approved(tracengent_platform, own)
    again = _tool(_acting_for(tracengent_platform, agent_client, "alice"))
    assert again["status"] == "pending_approval"
    retried = _tool(own)
    assert (retried["allowed"], retried["approvalId"]) == (True, approval_id)
