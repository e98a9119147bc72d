"""The sample agent `tracengent demo` runs against the local platform, on the SDK's public API.

It walks through every capability: a decision trace (steps, a tool call, a token-budgeted LLM
call, a costly action, a tracked HTTP call), authorization (allowed, held for a person's approval
and released, denied), egress gating (a redacted call, a denied call), MCP and function gates, a
delegated hop to a second agent whose trace joins the first one's OpenTelemetry trace, and real
MCP `tools/call`s traced and governed by the MCP instrumentor. The tool servers it calls are
in-process stand-ins (`httpx.MockTransport`, an in-memory MCP server), so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

import tracengent
from tracengent import (
    DelegationException,
    LlmCallResult,
    Money,
    NotAuthorizedException,
    ToolDeniedException,
    ToolPendingApprovalException,
    TracengentClient,
    TracengentOptions,
)

if TYPE_CHECKING:
    from tracengent.platform import LocalPlatform

__all__ = ["DemoPlatform", "run"]

Echo = Callable[[str], None]

_APPROVAL_WAIT_S = 30.0


@dataclass
class DemoPlatform:
    """What the demo needs of the platform besides its URL: a person and a grant issuer.

    Attributes:
        url: the platform's base URL.
        pending_approvals: the ids of approvals waiting for a person (other agents' too: the demo
            decides only those its own calls created, by the id they returned).
        decide: a person approving (True) or denying (False) an approval.
        grant: issues a delegated token `(from_agent, to_agent, permissions, max_amount)`.
    """

    url: str
    pending_approvals: Callable[[], list[str]]
    decide: Callable[[str, bool], None]
    grant: Callable[[str, str, list[str], float], str]

    @classmethod
    def of_local(cls, platform: LocalPlatform) -> DemoPlatform:
        """The demo's view of a running local platform: its pending approvals, a person deciding
        them in its store, and grants issued with its policy (ten minutes each)."""
        from tracengent.platform import create_grant

        store = platform.store

        def decide(approval_id: str, approved: bool) -> None:
            store.decide_approval(approval_id, approved)

        def grant(from_agent: str, to_agent: str, permissions: list[str], amount: float) -> str:
            _record, token = create_grant(
                store,
                platform.policy,
                from_agent=from_agent,
                to_agent=to_agent,
                permissions=permissions,
                ttl_seconds=600,
                max_amount=amount,
            )
            return token.access_token

        return cls(
            url=platform.url,
            pending_approvals=lambda: [a.approval_id for a in store.approvals(status="pending")],
            decide=decide,
            grant=grant,
        )


@dataclass
class _ToolServer:
    """An in-process stand-in for the third-party APIs the agent calls; records what arrived."""

    received: list[tuple[str, str, bytes]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append((request.method, str(request.url), request.content))
        return httpx.Response(200, json={"ok": True, "id": len(self.received)})


def _options(url: str, agent_id: str, secret_stem: str) -> TracengentOptions:
    return TracengentOptions(
        agent_id=agent_id,
        base_url=url,
        client_id=f"key_{secret_stem}",
        client_secret=f"ags_{secret_stem}",
        approval_poll_interval_s=0.2,
        approval_timeout_s=_APPROVAL_WAIT_S,
        environment="demo",
    )


def _person_decides(
    platform: DemoPlatform, echo: Echo, approval_id: str, approved: bool
) -> threading.Thread:
    """A person watching the console: decides `approval_id` once it shows up as pending.

    Only the approval the demo's own call created: a real agent on the same platform may be
    waiting for a person too, and its request is left for a real person.
    """

    def watch() -> None:
        deadline = time.monotonic() + _APPROVAL_WAIT_S
        while time.monotonic() < deadline:
            if approval_id in platform.pending_approvals():
                platform.decide(approval_id, approved)
                echo(f"    (a person {'approved' if approved else 'denied'} {approval_id})")
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, name="demo-person", daemon=True)
    thread.start()
    return thread


def _decision_trace(client: TracengentClient, echo: Echo, tools: _ToolServer) -> str:
    echo("1. A decision trace: every step is an OpenTelemetry span, exported as an event")
    with client.begin_trace("Refund order 42", actor_user_id="customer-7") as trace:
        trace.step("customer asks for a refund of a damaged parcel")
        order = trace.track_tool_call(
            "lookup_order", lambda: {"order": 42, "total": 120.0}, input={"order": 42}
        )
        echo(f"   tool call lookup_order -> {order}")
        verdict = trace.track_llm_call(
            "assess_damage",
            lambda: LlmCallResult("refund", tokens=420, model="demo-llm"),
            estimated_tokens=600,
            model="demo-llm",
        )
        echo(f"   llm call assess_damage (600 tokens reserved, 420 used) -> {verdict}")
        with tracengent.tracked_client(
            client, inner=httpx.MockTransport(tools.handle), base_url="https://api.example.com"
        ) as http:
            http.get("/v1/orders/42/shipping")
        echo("   tracked http call GET api.example.com/v1/orders/42/shipping recorded")
        obligations = client.ensure_authorized(
            "payments:refund", {"amount": 120, "currency": "EUR"}
        )
        echo(f"   refund 120 EUR: allowed (obligations: {obligations})")
        trace.track_action("issue_refund", lambda: "refunded", cost=Money.eur(120))
        echo("   action issue_refund, cost 120 EUR")
        trace.complete("completed", summary="refunded 120 EUR")
    echo(f"   trace {trace.trace_id}")
    return trace.trace_id


def _approvals(client: TracengentClient, platform: DemoPlatform, echo: Echo) -> None:
    echo("2. Authorization: held for a person, then released; over the limit, denied")
    decision = client.authorize("payments:refund", {"amount": 800, "currency": "EUR"})
    echo(f"   refund 800 EUR: {decision.status} ({decision.reason})")
    if decision.pending and decision.approval_id:
        person = _person_decides(platform, echo, decision.approval_id, approved=True)
        waited = client.wait_for_approval("payments:refund", decision.approval_id)
        person.join(timeout=_APPROVAL_WAIT_S)
        echo(f"   refund 800 EUR after the wait: {'approved' if waited.allowed else 'denied'}")
    try:
        client.ensure_authorized("payments:refund", {"amount": 1500, "currency": "USD"})
    except NotAuthorizedException as denied:
        echo(f"   refund 1500 USD: denied ({denied.reason})")


def _egress(client: TracengentClient, echo: Echo, tools: _ToolServer) -> None:
    echo("3. Egress gating: each request to a governed API is authorized before it leaves")
    with tracengent.governed_client(
        client, inner=httpx.MockTransport(tools.handle), base_url="https://api.example.com"
    ) as http:
        http.post("/v1/refunds", json={"order": 42, "amount": 120, "card": "4111 1111 1111 1111"})
        _method, _url, body = tools.received[-1]
        echo(f"   POST /v1/refunds allowed; the API received {json.loads(body)}")
        before = len(tools.received)
        try:
            http.delete("/v1/customers/7")
        except ToolDeniedException as denied:
            arrived = "nothing" if len(tools.received) == before else "the request"
            echo(f"   DELETE /v1/customers/7: {denied.outcome} ({denied.reason}); {arrived} left")


def _tool_gates(client: TracengentClient, platform: DemoPlatform, echo: Echo) -> None:
    echo("4. MCP and function-call gates")
    result = client.tools.guard_mcp(
        "search_flights", {"from": "LIS", "to": "OSL"}, lambda args: ["TP 1234"]
    )
    echo(f"   mcp search_flights: {result.decision.outcome} -> {result.value}")
    booked = client.tools.guard_function(
        "book_flight", {"flight": "TP 1234", "passport": "P1234567"}, lambda args: args
    )
    echo(f"   function book_flight: {booked.decision.outcome}; it received {booked.arguments}")
    email = {"to": "customer-7@example.com"}
    try:
        client.tools.guard_function("send_email", email, lambda args: "sent").ensure_allowed()
    except ToolPendingApprovalException as held:
        echo(f"   function send_email: held for approval {held.approval_id}")
        if not held.approval_id:
            return
        person = _person_decides(platform, echo, held.approval_id, approved=True)
        client.tools.wait_for_approval(held.approval_id)
        person.join(timeout=_APPROVAL_WAIT_S)
        # The same call again: the platform lets it through once, on that approval.
        sent = client.tools.guard_function("send_email", email, lambda args: "sent")
        echo(f"   function send_email after the approval: {sent.decision.outcome} -> {sent.value}")


def _delegated_hop(platform: DemoPlatform, client: TracengentClient, echo: Echo) -> None:
    echo("5. Delegation: hotel-agent acts for demo-agent, then hands narrower authority on")
    token = platform.grant("demo-agent", "hotel-agent", ["hotels:book"], 500.0)
    with (
        TracengentClient(_options(platform.url, "hotel-agent", "hotel")) as hotel,
        client.begin_trace("Book a hotel for the trip"),
        hotel.begin_trace("Book the hotel demo-agent asked for") as hotel_trace,
        hotel.begin_delegated_task(token) as session,
    ):
        decision = session.authorize("hotels:book", {"amount": 300, "currency": "EUR"})
        echo(f"   hotels:book 300 EUR: {decision.status}, acting for {decision.acting_for}")
        hotel_trace.track_action("book_hotel", lambda: "booked", cost=Money.eur(300))
        child = session.attenuate_for_call("car-agent", ["hotels:book"], max_amount=100)
        echo(f"   attenuated for car-agent: chain {child.chain}")
        child.close()
        try:
            session.attenuate_for_call("car-agent", ["hotels:*"]).close()
        except DelegationException:
            echo(
                "   wider authority for car-agent: refused (a child never gets more than its parent)"
            )
    echo(f"   hotel-agent's trace {hotel_trace.trace_id} shares demo-agent's OTel trace")


def _mcp(url: str, echo: Echo) -> None:
    echo("6. MCP: every tools/call is an execute_tool span, authorized before it is sent")
    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    # WARNING: the MCP server would otherwise set the root logger to INFO for the whole process.
    server = MCPServer("demo-flights", log_level="WARNING")
    received: list[str] = []

    @server.tool()
    def search_flights(origin: str, destination: str) -> str:
        """Find flights (an in-process stand-in for a real MCP server)."""
        received.append(f"search_flights {origin}->{destination}")
        return "TP 1234"

    @server.tool()
    def cancel_all_bookings() -> str:
        """A tool the policy does not bind."""
        received.append("cancel_all_bookings")
        return "cancelled"

    async def agent() -> None:
        # An async agent: `async with` also closes the connections of the async governance calls.
        async with TracengentClient(_options(url, "demo-agent", "demo")) as client:
            instrumentor = client.instrument_mcp()
            try:
                with client.begin_trace("Find a flight over MCP"):
                    async with Client(server) as session:
                        result = await session.call_tool(
                            "search_flights", {"origin": "LIS", "destination": "OSL"}
                        )
                        text = getattr(result.content[0], "text", "")
                        echo(f"   mcp search_flights: allowed -> {text}")
                        try:
                            await session.call_tool("cancel_all_bookings", {})
                        except ToolDeniedException as denied:
                            echo(f"   mcp cancel_all_bookings: {denied.outcome} ({denied.reason})")
            finally:
                instrumentor.uninstrument()

    asyncio.run(agent())
    echo(f"   the MCP server received: {received}")


def run(platform: DemoPlatform, echo: Echo) -> None:
    """Walk a sample agent through every capability against `platform`, echoing each step.

    Blocks until done (a person's approval is simulated within seconds). Raises whatever the
    platform or the SDK raise unexpectedly (the demo is meant to run clean).
    """
    tools = _ToolServer()
    with TracengentClient(_options(platform.url, "demo-agent", "demo")) as client:
        _decision_trace(client, echo, tools)
        _approvals(client, platform, echo)
        _egress(client, echo, tools)
        _tool_gates(client, platform, echo)
        _delegated_hop(platform, client, echo)
        _mcp(platform.url, echo)
        flushed = client.close(timeout=10)
    echo(f"every event delivered: {flushed}; dropped: {client.dropped_count}")
