"""Issue 5's agent-to-agent hop against the real local platform: one OTel trace, two agents.

Agent A (`demo-agent`) holds a token `hotel-agent` delegated to it, attenuates it for agent B
(`car-agent`, which holds no permission of its own) and calls B's HTTP endpoint through a
governed client, the child token as bearer. B extracts the W3C context, opens its own decision
trace under it and authorizes with the child token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from opentelemetry import context as otel_context
from opentelemetry import propagate

import tracengent
from tests.support.loopback import LoopbackServer, Received, Reply, json_reply, serve
from tracengent.platform import DEFAULT_POLICY_TOML, create_grant
from tracengent.testing import RunningPlatform

HOP_PATH = "/a2a/hotel-bookings"
# A's governed client asks the platform about the hop: the default policy denies unmatched
# routes, so this test's policy adds one for B's loopback endpoint.
HOP_ROUTE = f"""
[[egress.routes]]
host = "127.0.0.1"
methods = ["POST"]
path = "{HOP_PATH}"
permission = "hotels:book"
"""
HOP_BOOKING: dict[str, object] = {"hotel": "Lisboa Plaza", "nights": 2}


@pytest.fixture
def tracengent_policy(tmp_path: Path) -> Path:
    """The built-in policy plus an egress route for the hop to B's endpoint."""
    path = tmp_path / "policy.toml"
    path.write_text(DEFAULT_POLICY_TOML + HOP_ROUTE, encoding="utf-8")
    return path


@dataclass
class Callee:
    """Agent B: answers A's hop inside its own decision trace joined to A's OTel trace."""

    client: tracengent.TracengentClient
    trace_ids: list[str] = field(default_factory=list)
    decisions: list[tracengent.AuthDecision] = field(default_factory=list)
    problems: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, received: Received) -> Reply:
        """Extract A's context, trace and authorize the booking under the delegated token."""
        token = otel_context.attach(propagate.extract(received.headers))
        try:
            bearer = received.headers["authorization"].removeprefix("Bearer ")
            with (
                self.client.begin_trace("book the hotel A asked for") as trace,
                self.client.begin_delegated_task(bearer) as session,
            ):
                decision = session.authorize("hotels:book", {"amount": 80, "currency": "EUR"})
            with self.lock:
                self.trace_ids.append(trace.trace_id)
                self.decisions.append(decision)
            return json_reply({"booked": decision.allowed}, 200 if decision.allowed else 403)
        except Exception as exc:  # noqa: BLE001 - asserted in the test's thread, not the server's
            with self.lock:
                self.problems.append(exc)
            return json_reply({"error": str(exc)}, 500)
        finally:
            otel_context.detach(token)


def otel_trace_id(tracengent_trace_id: str) -> str:
    """The 32-hex OTel trace id inside a Tracengent trace id (`trc_<trace id><root span id>`)."""
    assert tracengent_trace_id.startswith("trc_")
    return tracengent_trace_id[4:36]


def delegated_to_a(platform: RunningPlatform) -> str:
    """The token `hotel-agent` delegated to A for hotel bookings."""
    _grant, issued = create_grant(
        platform.store,
        platform.policy,
        from_agent="hotel-agent",
        to_agent="demo-agent",
        permissions=["hotels:*"],
        ttl_seconds=600,
        max_amount=300,
    )
    return issued.access_token


async def hop(
    caller: tracengent.TracengentClient, server: LoopbackServer, child_token: str, mode: str
) -> httpx.Response:
    """A's governed call to B, the child token as bearer (sync or async client)."""
    headers = {"authorization": f"Bearer {child_token}"}
    url = server.url + HOP_PATH
    if mode == "sync":
        with tracengent.governed_client(caller) as http:
            return http.post(url, json=HOP_BOOKING, headers=headers)
    async with tracengent.governed_async_client(caller) as ahttp:
        return await ahttp.post(url, json=HOP_BOOKING, headers=headers)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_delegated_hop_joins_one_otel_trace(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    """A's hop carries traceparent; B's decision trace joins A's OTel trace and acts for A's grantor."""
    agent_a = tracengent.TracengentClient(tracengent_platform.options("demo-agent"))
    callee = Callee(tracengent.TracengentClient(tracengent_platform.options("car-agent")))
    with serve(callee.handle) as server, agent_a.begin_trace("plan a trip to Lisbon") as trace_a:
        session = agent_a.begin_delegated_task(delegated_to_a(tracengent_platform))
        child = session.attenuate_for_call(
            "car-agent", ["hotels:book"], max_amount=100, reason="book the hotel"
        )
        response = await hop(agent_a, server, child.token, mode)
        session.close()
    assert await agent_a.aclose()
    assert await callee.client.aclose()
    assert callee.problems == []
    assert response.status_code == 200, response.text
    (received,) = server.received
    (trace_b,) = callee.trace_ids
    (decision,) = callee.decisions

    # A's traceparent reached B, and both decision traces are that one OTel trace.
    version, traceparent_trace_id, _parent_span_id, _flags = received.headers["traceparent"].split(
        "-"
    )
    assert (version, traceparent_trace_id) == ("00", otel_trace_id(trace_a.trace_id))
    assert otel_trace_id(trace_b) == otel_trace_id(trace_a.trace_id)
    assert trace_b != trace_a.trace_id
    stored_traces = {t.trace_id: t.agent_id for t in tracengent_platform.store.traces()}
    assert stored_traces == {trace_a.trace_id: "demo-agent", trace_b: "car-agent"}

    # B's decision acts for the chain the platform stored for the child grant.
    grants = {g.grant_id: g for g in tracengent_platform.store.grants()}
    assert child.grant_id is not None
    assert grants[child.grant_id].chain == ["hotel-agent", "demo-agent", "car-agent"]
    assert decision.allowed, decision.reason
    assert decision.chain == grants[child.grant_id].chain
    decisions = {d.decision_id: d for d in tracengent_platform.store.decisions()}
    stored = decisions[str(decision.decision_id)]
    assert (stored.agent_id, stored.acting_for, stored.trace_id) == (
        "car-agent",
        decision.acting_for,
        trace_b,
    )
    assert decision.acting_for == "hotel-agent"

    # A's hop itself was governed, in A's trace, with A's own credentials.
    (governed,) = [d for d in decisions.values() if d.kind == "tool"]
    assert (governed.agent_id, governed.status, governed.trace_id) == (
        "demo-agent",
        "allowed",
        trace_a.trace_id,
    )
