"""`/v1/tool-authorize` for every transport on the real local platform (wire contract §6)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.platform.conftest import AgentClient
from tracengent.testing import RunningPlatform


def _tool(client: httpx.Client, request: dict[str, object]) -> dict[str, object]:
    answer = client.post("/v1/tool-authorize", json=request)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_http_route_is_allowed_with_masking_and_secrets_not_stored(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """POST api.example.com/v1/refunds maps to payments:refund, masks $.card, and stores no header value."""
    body = _tool(
        demo,
        {
            "transport": "http",
            "method": "POST",
            "host": "api.example.com",
            "path": "/v1/refunds",
            "headers": {"X-Api-Key": "sk_live_secret"},
            "body": {"amount": 100, "currency": "EUR", "card": "4242"},
            "traceId": "trc_1",
        },
    )
    assert (body["allowed"], body["status"], body["outcome"]) == (True, "allowed", "policy_allow")
    assert body["permission"] == "payments:refund"
    assert body["redactions"] == [{"field": "$.card", "strategy": "mask"}]
    (decision,) = tracengent_platform.store.decisions()
    assert (decision.decision_id, decision.outcome) == (body["decisionId"], "policy_allow")
    stored = str(decision.request)
    assert "sk_live_secret" not in stored
    assert "4242" not in stored


def test_http_route_over_threshold_requires_approval(demo: httpx.Client) -> None:
    """A refund body over 500 EUR on the governed route is held with an approval."""
    body = _tool(
        demo,
        {
            "transport": "http",
            "method": "POST",
            "host": "api.example.com",
            "path": "/v1/refunds",
            "body": {"amount": 800},
        },
    )
    assert (body["status"], body["outcome"]) == ("pending_approval", "approval_required")
    assert str(body["approvalId"]).startswith("apr_")
    assert "redactions" not in body


def test_host_outside_the_allowlist_is_egress_denied(demo: httpx.Client) -> None:
    """A host not in the allowlist is denied with outcome egress_deny."""
    body = _tool(
        demo, {"transport": "http", "method": "GET", "host": "evil.example.net", "path": "/"}
    )
    assert (body["allowed"], body["outcome"]) == (False, "egress_deny")
    assert "allowlist" in str(body["reason"])


def test_allowlisted_host_without_route_is_denied_by_default(demo: httpx.Client) -> None:
    """With unmatched_routes = deny, an allowlisted host's unknown route is a policy_deny."""
    body = _tool(
        demo,
        {"transport": "http", "method": "DELETE", "host": "api.example.com", "path": "/v1/refunds"},
    )
    assert (body["allowed"], body["outcome"]) == (False, "policy_deny")


def test_http_host_port_is_ignored_for_matching(demo: httpx.Client) -> None:
    """`host:port` matches the host's route like the bare host."""
    body = _tool(
        demo,
        {
            "transport": "http",
            "method": "GET",
            "host": "api.example.com:443",
            "path": "/v1/flights/cdg",
        },
    )
    assert (body["outcome"], body["permission"]) == ("policy_allow", "flights:search")


def test_mcp_tool_bound_is_allowed(demo: httpx.Client) -> None:
    """The bound MCP tool search_flights is allowed under flights:search."""
    body = _tool(demo, {"transport": "mcp", "toolName": "search_flights", "body": {"from": "CDG"}})
    assert (body["allowed"], body["outcome"], body["permission"]) == (
        True,
        "policy_allow",
        "flights:search",
    )


def test_unbound_tool_is_denied_as_not_bound(demo: httpx.Client) -> None:
    """A tool with no binding is a policy_deny whose reason says it is not bound."""
    body = _tool(demo, {"transport": "mcp", "toolName": "drop_tables"})
    assert (body["allowed"], body["outcome"]) == (False, "policy_deny")
    assert "tool not bound" in str(body["reason"])


def test_function_with_approval_binding_requires_approval(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """send_email is bound with approval = true: pending_approval with a stored approval."""
    body = _tool(
        demo, {"transport": "function", "functionName": "send_email", "body": {"to": "a@b.c"}}
    )
    assert (body["status"], body["outcome"]) == ("pending_approval", "approval_required")
    (approval,) = tracengent_platform.store.approvals()
    assert (approval.approval_id, approval.permission) == (body["approvalId"], "mail:send")


def test_function_binding_redactions_are_returned(demo: httpx.Client) -> None:
    """book_flight's binding removes $.passport."""
    body = _tool(
        demo, {"transport": "function", "functionName": "book_flight", "body": {"passport": "X1"}}
    )
    assert body["outcome"] == "policy_allow"
    assert body["redactions"] == [{"field": "$.passport", "strategy": "remove"}]


def test_agent_must_hold_the_bound_permission(agent_client: AgentClient) -> None:
    """hotel-agent does not hold flights:search, so the bound MCP tool is denied to it."""
    body = _tool(agent_client("hotel-agent"), {"transport": "mcp", "toolName": "search_flights"})
    assert (body["allowed"], body["outcome"]) == (False, "policy_deny")
    assert "does not hold" in str(body["reason"])


@pytest.mark.parametrize(
    "request_body",
    [
        {"transport": "smtp"},
        {"transport": "mcp"},
        {"transport": "function", "functionName": 3},
        {"transport": "http", "method": "GET", "host": "api.example.com"},
    ],
)
def test_malformed_tool_request_is_400(demo: httpx.Client, request_body: dict[str, object]) -> None:
    """A request missing its transport's required fields is a 400."""
    assert demo.post("/v1/tool-authorize", json=request_body).status_code == 400
