"""The SDK's wire layer (`PlatformClient`) against the real local platform: both ends agree on §1-§7."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from opentelemetry.exporter.tracengent.errors import AgentDisabledError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.redaction import Redaction
from opentelemetry.exporter.tracengent.transport import PlatformClient
from opentelemetry.exporter.tracengent.wire import AgentEvent, Money, Usage
from tracengent.cli import main
from tracengent.testing import RunningPlatform


@pytest.fixture
def client(tracengent_platform: RunningPlatform) -> Iterator[PlatformClient]:
    """demo-agent's PlatformClient, gzip for every body (threshold 0)."""
    platform_client = PlatformClient(tracengent_platform.options(gzip_threshold_bytes=0))
    yield platform_client
    platform_client.close()


def test_sdk_events_and_close_are_stored_as_sent(
    client: PlatformClient, tracengent_platform: RunningPlatform
) -> None:
    """Gzip batches from the SDK are delivered, stored byte-equal to to_wire(), and re-sends dedupe."""
    events = [
        AgentEvent(name="plan", type="llm_call", event_id="evt_1", agent_id="demo-agent", trace_id="trc_1", usage=Usage(40, "m"), tags=["production"], root_request="go"),
        AgentEvent(name="refund", type="action", event_id="evt_2", agent_id="demo-agent", trace_id="trc_1", parent_event_id="evt_1", cost=Money.eur(12.5)),
    ]  # fmt: skip
    wire: list[JsonObject] = [e.to_wire() for e in events]
    result = client.post_events(wire)
    assert (result.delivered, result.rejected, result.failed) == (2, 0, 0)
    assert client.post_events(wire).delivered == 2
    close: JsonObject = {"traceId": "trc_1", "agentId": "demo-agent", "rootRequest": "go", "op": "Close", "status": "completed"}  # fmt: skip
    assert client.post_trace_close(close).delivered == 1
    assert [e.body for e in tracengent_platform.store.events()] == wire
    (trace,) = tracengent_platform.store.traces()
    assert (trace.status, trace.root_request) == ("completed", "go")


def test_sdk_malformed_event_is_a_permanent_rejection(client: PlatformClient) -> None:
    """A batch the platform refuses with 400 is counted as rejected by the SDK, not retried."""
    result = client.post_events([{"type": "action", "name": "n", "status": "done"}])
    assert (result.delivered, result.rejected) == (0, 1)
    assert result.status_code == 400


def test_sdk_parses_every_decision_shape(
    client: PlatformClient, tracengent_platform: RunningPlatform
) -> None:
    """Allow with obligations, pending with approval, and tool redactions parse as the platform meant."""
    allowed = client.authorize({"permission": "payments:refund", "context": {"amount": 100}})
    assert (allowed.allowed, allowed.status) == (True, "allowed")
    assert allowed.obligations is not None
    assert (allowed.obligations.max_amount, allowed.obligations.currency) == (1000.0, "EUR")
    assert allowed.obligations.redact_fields == ["$.card"]
    pending = client.authorize({"permission": "payments:refund", "context": {"amount": 900}})
    assert (pending.allowed, pending.status) == (False, "pending_approval")
    assert pending.approval_id is not None
    assert client.approval_status(pending.approval_id) == "pending"
    tracengent_platform.store.decide_approval(pending.approval_id, True)
    assert client.approval_status(pending.approval_id) == "approved"
    tool = client.tool_authorize({"transport": "http", "method": "POST", "host": "api.example.com", "path": "/v1/refunds", "body": {"card": "1"}})  # fmt: skip
    assert (tool.allowed, tool.outcome, tool.permission) == (
        True,
        "policy_allow",
        "payments:refund",
    )
    assert tool.redactions == [Redaction("$.card", "mask")]


def test_sdk_delegated_session_authorizes_and_attenuates(
    tracengent_platform: RunningPlatform,
) -> None:
    """With a delegated token as bearer the SDK gets actingFor/chain and can attenuate."""
    result = CliRunner().invoke(
        main,
        ["grant", "--db", str(tracengent_platform.store.path), "--from", "demo-agent", "--to", "hotel-agent", "--permissions", "hotels:*"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    grant_line, token = result.output.splitlines()
    grant_id = grant_line.split()[1].rstrip(":")
    delegated = PlatformClient(tracengent_platform.options("hotel-agent"), bearer_token=token)
    try:
        decision = delegated.authorize({"permission": "hotels:book"})
        assert (decision.allowed, decision.acting_for) == (True, "demo-agent")
        assert decision.chain == ["demo-agent", "hotel-agent"]
        child = delegated.attenuate(
            grant_id, {"grantedToAgentId": "car-agent", "permissions": ["hotels:book"]}
        )
        assert isinstance(child.get("accessToken"), str)
    finally:
        delegated.close()


def test_sdk_sees_a_disabled_agent(tracengent_platform: RunningPlatform) -> None:
    """The token endpoint's 401 for a disabled agent surfaces as AgentDisabledError on governance."""
    disabled = PlatformClient(tracengent_platform.options("disabled-agent"))
    try:
        with pytest.raises(AgentDisabledError):
            disabled.authorize({"permission": "flights:search"})
    finally:
        disabled.close()
