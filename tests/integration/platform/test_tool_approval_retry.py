"""A held tool call proceeds once a person approved it, on the real local platform: the agent's
retry of that very call (same transport, target and body) is allowed once, with the policy's
redactions; anything else is held again (wire contract §6 leaves how to the platform)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.integration.platform.conftest import AgentClient, fetch_token
from tracengent.platform import LocalPlatform
from tracengent.testing import RunningPlatform

EMAIL: dict[str, object] = {
    "transport": "function",
    "functionName": "send_email",
    "body": {"to": "a@example.com"},
}
REFUND: dict[str, object] = {
    "transport": "http",
    "method": "POST",
    "host": "api.example.com",
    "path": "/v1/refunds",
    "query": {"order": "42"},
    "body": {"amount": 800, "currency": "EUR", "card": "4242"},
}


def _tool(client: httpx.Client, request: dict[str, object]) -> dict[str, object]:
    answer = client.post("/v1/tool-authorize", json=request)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _held(client: httpx.Client, request: dict[str, object]) -> str:
    answer = _tool(client, request)
    assert (answer["status"], answer["outcome"]) == ("pending_approval", "approval_required")
    return str(answer["approvalId"])


def test_an_approved_call_is_allowed_once_then_held_again(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """send_email held, approved, retried: allowed naming the approval; the next retry is held."""
    approval_id = _held(demo, EMAIL)
    tracengent_platform.store.decide_approval(approval_id, True)
    retried = _tool(demo, {**EMAIL, "traceId": "trc_other"})
    assert (retried["allowed"], retried["status"], retried["outcome"]) == (
        True,
        "allowed",
        "policy_allow",
    )
    assert retried["approvalId"] == approval_id
    assert retried["reason"] == f"mail:send approved by a person ({approval_id})"
    stored = tracengent_platform.store.decisions()[-1]
    assert (stored.status, stored.approval_id) == ("allowed", approval_id)
    poll = demo.get(f"/v1/approvals/{approval_id}").json()
    assert (poll["status"], "usedAt" in poll) == ("approved", True)
    again = _held(demo, EMAIL)
    assert again != approval_id


def test_other_arguments_are_held_and_leave_the_approval_unused(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A retry with other arguments (or another function) is held; the approved call still passes."""
    approval_id = _held(demo, EMAIL)
    tracengent_platform.store.decide_approval(approval_id, True)
    _held(demo, {**EMAIL, "body": {"to": "b@example.com"}})
    _held(demo, {**EMAIL, "body": {"to": "a@example.com", "cc": "b@example.com"}})
    _held(demo, {key: value for key, value in EMAIL.items() if key != "body"})
    assert _tool(demo, EMAIL)["allowed"] is True


def test_key_order_and_spacing_of_the_body_do_not_matter(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """The body is compared as JSON: the same object sent with other key order is the same call."""
    request = {**EMAIL, "body": {"to": "a@example.com", "subject": "hi"}}
    tracengent_platform.store.decide_approval(_held(demo, request), True)
    answer = demo.post(
        "/v1/tool-authorize",
        content=b'{"body": {"subject": "hi",  "to": "a@example.com"},'
        b' "functionName": "send_email", "transport": "function"}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.json()["allowed"] is True


def test_denied_and_authorize_approvals_never_allow(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A denied approval, and an approved `/v1/authorize` of the same permission, allow nothing."""
    denied = _held(demo, EMAIL)
    tracengent_platform.store.decide_approval(denied, False)
    assert _held(demo, EMAIL) != denied
    refund = demo.post(
        "/v1/authorize",
        json={"permission": "payments:refund", "context": REFUND["body"]},
    ).json()
    tracengent_platform.store.decide_approval(str(refund["approvalId"]), True)
    _held(demo, REFUND)


def test_an_http_call_is_allowed_with_redactions_and_only_as_approved(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A refund over the threshold, approved: the same request is allowed with $.card masked;
    another query, port or card is held."""
    tracengent_platform.store.decide_approval(_held(demo, REFUND), True)
    _held(demo, {**REFUND, "query": {"order": "43"}})
    _held(demo, {**REFUND, "host": "api.example.com:8443"})
    _held(demo, {**REFUND, "body": {"amount": 800, "currency": "EUR", "card": "4243"}})
    retried = _tool(demo, {**REFUND, "host": "API.example.com", "method": "post"})
    assert (retried["allowed"], retried["permission"]) == (True, "payments:refund")
    assert retried["redactions"] == [{"field": "$.card", "strategy": "mask"}]
    assert "4242" not in str(tracengent_platform.store.decisions()[-1].request)


def test_another_agent_cannot_use_the_approval(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """demo-agent's approved call is not allowed to hotel-agent (which is denied by policy)."""
    demo = agent_client()
    tracengent_platform.store.decide_approval(_held(demo, EMAIL), True)
    hotel = agent_client("hotel-agent")
    assert _tool(hotel, EMAIL)["status"] == "denied"
    assert _tool(demo, EMAIL)["allowed"] is True


def test_concurrent_retries_allow_exactly_one(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """Eight simultaneous retries of one approved call: one is allowed, seven are held again."""
    clients = [agent_client() for _ in range(8)]
    tracengent_platform.store.decide_approval(_held(clients[0], EMAIL), True)
    start = threading.Barrier(len(clients))
    statuses: list[str] = []
    lock = threading.Lock()

    def retry(client: httpx.Client) -> None:
        start.wait()
        status = str(_tool(client, EMAIL)["status"])
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=retry, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["allowed"] + ["pending_approval"] * 7


def test_expired_and_stale_approvals_never_allow(tmp_path: Path) -> None:
    """An approval left pending past the TTL, or approved more than the TTL ago, allows nothing."""
    now = [1_795_515_302.0]
    with (
        LocalPlatform(tmp_path / "db.sqlite3", clock=lambda: now[0]) as platform,
        httpx.Client(base_url=platform.url) as client,
    ):

        def login() -> None:
            token = fetch_token(platform.url, "key_demo", "ags_demo").json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"

        login()
        left_pending = _held(client, EMAIL)
        approved = _held(client, {**EMAIL, "body": {"to": "b@example.com"}})
        platform.store.decide_approval(approved, True)
        now[0] += 3601
        login()
        assert client.get(f"/v1/approvals/{left_pending}").json()["status"] == "expired"
        assert _held(client, EMAIL) != left_pending
        assert _held(client, {**EMAIL, "body": {"to": "b@example.com"}}) != approved
