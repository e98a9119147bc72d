"""A pending answer whose `approvalId` names no approval is a malformed-decision deny, everywhere.

Nothing could ever be waited for, so `authorize`, the tool gates and HTTP egress deny instead of
reporting a pending decision (or raising a pending exception) without an id.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision
from tracengent._governance.egress import EgressGovernor
from tracengent._governance.tools import ToolGate, raise_unless_allowed

from .conftest import authorizer_for, either, make_options, track
from .egress_support import World, send
from .fakes import FakePlatform

UNUSABLE_IDS: list[object] = ["", "  ", ".", "..", 7, None]


def _pending(approval_id: object) -> dict[str, object]:
    answer: dict[str, object] = {
        "allowed": False,
        "status": "pending_approval",
        "reason": "needs a human",
        "decisionId": "dec_1",
    }
    if approval_id is not None:
        answer["approvalId"] = approval_id
    return answer


@pytest.mark.parametrize("approval_id", UNUSABLE_IDS)
def test_parsed_pending_without_usable_id_is_a_malformed_deny(approval_id: object) -> None:
    """Both decision parsers turn such an answer into a deny that says it was malformed."""
    auth = AuthDecision.from_wire(_pending(approval_id))
    tool = ToolDecision.from_wire(_pending(approval_id))
    assert (auth.allowed, auth.status, auth.pending) == (False, "denied", False)
    assert auth.reason.startswith("malformed decision from the platform")
    assert "without an approval id" in auth.reason
    assert (tool.allowed, tool.status, tool.outcome) == (False, "denied", "malformed_decision")


def test_pending_with_an_id_stays_pending() -> None:
    """A usable id keeps the decision pending (the check only refuses ids naming no approval)."""
    assert AuthDecision.from_wire(_pending("apr_1")).approval_id == "apr_1"
    assert ToolDecision.from_wire(_pending("apr_1")).pending


def test_hand_made_pending_without_id_raises_a_deny() -> None:
    """A pending ToolDecision built without an id raises ToolDeniedException, not pending."""
    with pytest.raises(ToolDeniedException) as caught:
        raise_unless_allowed(ToolDecision(False, status="pending_approval"))
    assert caught.value.outcome == "malformed_decision"


@pytest.mark.parametrize("approval_id", ["..", ""])
async def test_authorize_denies_a_pending_answer_without_id(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    approval_id: str,
) -> None:
    """`authorize` over the wire returns a deny, not a pending decision without an id."""
    platform.on("/v1/authorize", httpx.Response(200, json=_pending(approval_id)))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.authorize("payments:refund"),
        lambda: authorizer.authorize_async("payments:refund"),
    )
    assert (decision.allowed, decision.status, decision.approval_id) == (False, "denied", None)
    assert decision.reason.startswith("malformed decision from the platform")


async def test_tool_gate_and_egress_deny_a_pending_answer_without_id(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """The function gate returns a malformed-decision deny and egress raises ToolDeniedException;
    the governed request never leaves."""
    platform.on("/v1/tool-authorize", httpx.Response(200, json=_pending("..")))
    options = make_options()
    transport = httpx.MockTransport(platform.handle)
    sync_platform = PlatformClient(options, transport=transport)
    async_platform = AsyncPlatformClient(options, transport=transport)
    track(sync_platform, async_platform)
    gate = ToolGate(options, platform=sync_platform, async_platform=async_platform, tracer=spans[0])
    egress = EgressGovernor(
        options,
        platform=sync_platform,
        async_platform=async_platform,
        tracer=spans[0],
        govern_all=True,
    )
    world = World()

    decision = await either(
        mode,
        lambda: gate.authorize_function("send_email", {}),
        lambda: gate.authorize_function_async("send_email", {}),
    )
    assert (decision.allowed, decision.status, decision.outcome) == (
        False,
        "denied",
        "malformed_decision",
    )
    with pytest.raises(ToolDeniedException) as caught:
        await send(mode, egress, world, "POST", "https://api.example.com/x", json={})
    assert caught.value.outcome == "malformed_decision"
    assert world.received == []
