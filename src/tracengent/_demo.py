"""The sample agent `tracengent demo` runs against the local platform (plain httpx for now)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from opentelemetry.exporter.tracengent.ids import new_id
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.wire import utc_now_iso

__all__ = ["run"]

_TIMEOUT_S = 10.0
_APPROVAL_DEADLINE_S = 30.0
_APPROVAL_POLL_S = 0.2


def _post(client: httpx.Client, path: str, body: object) -> JsonObject:
    response = client.post(path, json=body)
    response.raise_for_status()
    answer: JsonObject = response.json()
    return answer


def run(
    base_url: str,
    echo: Callable[[str], None],
    *,
    approve: Callable[[str], None] | None = None,
) -> None:
    """Walk a sample agent through the platform's capabilities, echoing each step.

    Args:
        base_url: the platform's base URL.
        echo: where progress lines go.
        approve: called with the approval id of the held refund, standing in for a person who
            approves it; without it the demo waits for `tracengent approve` (30 s at most).

    Raises:
        httpx.HTTPError: the platform could not be reached or answered an error.
    """
    with httpx.Client(base_url=base_url, timeout=_TIMEOUT_S) as client:
        token = client.post(
            "/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "key_demo",
                "client_secret": "ags_demo",
            },
        )
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        echo("demo-agent got an access token")
        trace_id = new_id("trc")

        small = _post(
            client,
            "/v1/authorize",
            {
                "permission": "payments:refund",
                "context": {"amount": 120, "currency": "EUR"},
                "traceId": trace_id,
            },
        )
        echo(f"refund 120 EUR: {small['status']} ({small['reason']})")
        large = _post(
            client,
            "/v1/authorize",
            {
                "permission": "payments:refund",
                "context": {"amount": 800, "currency": "EUR"},
                "traceId": trace_id,
            },
        )
        echo(f"refund 800 EUR: {large['status']} ({large['reason']})")
        approval_id = large.get("approvalId")
        if isinstance(approval_id, str):
            if approve is not None:
                approve(approval_id)
            else:
                echo(f"  waiting for: tracengent approve {approval_id}")
            status = _wait_for_approval(client, approval_id)
            echo(f"  approval {approval_id}: {status}")

        for request in (
            {
                "transport": "http",
                "method": "POST",
                "host": "api.example.com",
                "path": "/v1/refunds",
                "body": {"amount": 120, "card": "4242 4242 4242 4242"},
            },
            {
                "transport": "mcp",
                "toolName": "search_flights",
                "body": {"from": "CDG", "to": "JFK"},
            },
            {
                "transport": "function",
                "functionName": "send_email",
                "body": {"to": "ops@example.com"},
            },
            {"transport": "http", "method": "GET", "host": "evil.example.net", "path": "/"},
        ):
            decision = _post(client, "/v1/tool-authorize", {**request, "traceId": trace_id})
            target = request.get("host") or request.get("toolName") or request.get("functionName")
            echo(
                f"tool {request['transport']} {target}: {decision['outcome']} ({decision['reason']})"
            )

        root_id, llm_id, tool_id = new_id("evt"), new_id("evt"), new_id("evt")
        _post(client, "/v1/ingest/events", [
            {"eventId": root_id, "agentId": "demo-agent", "traceId": trace_id, "type": "action", "name": "handle-refund-request", "status": "success", "occurredAt": utc_now_iso(), "durationMs": 840.0, "tags": ["production"], "rootRequest": "Refund order 42"},
            {"eventId": llm_id, "agentId": "demo-agent", "traceId": trace_id, "parentEventId": root_id, "type": "llm_call", "name": "plan", "status": "success", "usage": {"tokens": 350, "model": "gpt-4o-mini"}, "cost": {"amount": 0.0021, "currency": "USD"}, "occurredAt": utc_now_iso(), "durationMs": 410.0, "tags": ["production"]},
            {"eventId": tool_id, "agentId": "demo-agent", "traceId": trace_id, "parentEventId": llm_id, "type": "tool_call", "name": "POST api.example.com/v1/refunds", "status": "success", "cost": {"amount": 120, "currency": "EUR"}, "occurredAt": utc_now_iso(), "durationMs": 220.0, "tags": ["production"]},
        ])  # fmt: skip
        _post(
            client,
            "/v1/ingest/traces",
            {
                "traceId": trace_id,
                "agentId": "demo-agent",
                "rootRequest": "Refund order 42",
                "op": "Close",
                "status": "completed",
                "occurredAt": utc_now_iso(),
                "summary": "refunded 120 EUR; 800 EUR approved",
            },
        )
        echo(f"recorded decision trace {trace_id} (3 events + close)")


def _wait_for_approval(client: httpx.Client, approval_id: str) -> str:
    deadline = time.monotonic() + _APPROVAL_DEADLINE_S
    while True:
        response = client.get(f"/v1/approvals/{approval_id}")
        response.raise_for_status()
        status = str(response.json().get("status"))
        if status != "pending" or time.monotonic() > deadline:
            return status
        time.sleep(_APPROVAL_POLL_S)
