"""ToolGate: MCP and function gates always fail closed and invoke only with redacted arguments."""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace
from typing import cast

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import (
    AgentDisabledError,
    MalformedResponseError,
    PlatformRejectedError,
    PlatformUnavailableError,
    ToolDeniedException,
    ToolPendingApprovalException,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonInput, JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import ToolDecision
from tests.unit.tools.stubs import (
    ALLOW,
    DENY,
    MALFORMED,
    PENDING,
    Answer,
    AsyncScriptedPlatform,
    ScriptedPlatform,
    SpanRecorder,
    allow_redacting,
)
from tracengent._governance.tools import ToolGate, ToolGuardResult
from tracengent._state import CURRENT_TRACE
from tracengent._trace import AgentTrace

ARGS: JsonObject = {"to": "ops@example.com", "card": "4242"}


class Harness:
    """A ToolGate over a scripted platform, driven through the sync or the async methods."""

    def __init__(self, mode: str, transport: str, answer: Answer) -> None:
        self.mode = mode
        self.transport = transport
        self.platform = ScriptedPlatform(answer)
        self.spans = SpanRecorder()
        # fail-open is set to prove MCP and function gates ignore it.
        options = TracengentOptions(agent_id="a", ingest_key="k", tool_governance_fail_open=True)
        self.gate = ToolGate(
            options,
            platform=self.platform,
            async_platform=AsyncScriptedPlatform(self.platform),
            tracer=self.spans.tracer,
        )
        self.invoked: list[JsonValue] = []
        self.tool_error: Exception | None = None

    def _invoke(self, arguments: JsonValue) -> str:
        self.invoked.append(arguments)
        if self.tool_error is not None:
            raise self.tool_error
        return "done"

    async def _invoke_async(self, arguments: JsonValue) -> str:
        return self._invoke(arguments)

    async def authorize(self, name: str, args: JsonInput) -> ToolDecision:
        gate = self.gate
        if self.transport == "mcp":
            if self.mode == "sync":
                return gate.authorize_mcp(name, args)
            return await gate.authorize_mcp_async(name, args)
        if self.mode == "sync":
            return gate.authorize_function(name, args)
        return await gate.authorize_function_async(name, args)

    async def guard(self, name: str, args: JsonInput) -> ToolGuardResult[str]:
        gate = self.gate
        if self.transport == "mcp":
            if self.mode == "sync":
                return gate.guard_mcp(name, args, self._invoke)
            return await gate.guard_mcp_async(name, args, self._invoke_async)
        if self.mode == "sync":
            return gate.guard_function(name, args, self._invoke)
        return await gate.guard_function_async(name, args, self._invoke_async)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["mcp", "function"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_request_shape(mode: str, transport: str) -> None:
    """The tool-authorize body names the transport, the tool or function, and its arguments."""
    harness = Harness(mode, transport, dict(ALLOW))
    await harness.authorize("send_email", ARGS)
    name_key = "toolName" if transport == "mcp" else "functionName"
    assert harness.platform.requests == [
        {"transport": transport, name_key: "send_email", "body": ARGS}
    ]


async def test_no_arguments_means_no_body(mode: str, transport: str) -> None:
    """Without arguments the request carries no `body` key (nulls are omitted)."""
    harness = Harness(mode, transport, dict(ALLOW))
    await harness.authorize("ping", None)
    assert "body" not in harness.platform.requests[0]


@pytest.mark.parametrize(
    ("answer", "allowed", "status", "outcome"),
    [
        (ALLOW, True, "allowed", "policy_allow"),
        (DENY, False, "denied", "egress_deny"),
        (PENDING, False, "pending_approval", "approval_required"),
        (MALFORMED, False, "denied", "malformed_decision"),
        (PlatformUnavailableError("down"), False, "denied", "platform_unavailable"),
        (PlatformRejectedError("no", status_code=403), False, "denied", "platform_rejected"),
        (AgentDisabledError("off"), False, "denied", "agent_disabled"),
        (MalformedResponseError("junk"), False, "denied", "malformed_decision"),
        (RuntimeError("bug"), False, "denied", "sdk_error"),
    ],
    ids=["allow", "deny", "pending", "malformed", "down", "403", "disabled", "junk", "bug"],
)
async def test_decisions_and_fail_closed(
    mode: str, transport: str, answer: Answer, allowed: bool, status: str, outcome: str
) -> None:
    """Every answer becomes a decision; failures deny even with fail-open set, and nothing raises."""
    harness = Harness(mode, transport, answer)
    decision = await harness.authorize("search_flights", ARGS)
    assert (decision.allowed, decision.status, decision.outcome) == (allowed, status, outcome)


async def test_guard_invokes_with_redacted_arguments(mode: str, transport: str) -> None:
    """On an allow, invoke receives the redacted arguments and its value is returned."""
    harness = Harness(mode, transport, allow_redacting("$.card", "mask"))
    result = await harness.guard("send_email", ARGS)
    redacted = {"to": "ops@example.com", "card": "***REDACTED***"}
    assert harness.invoked == [redacted]
    assert (result.allowed, result.arguments, result.value) == (True, redacted, "done")
    assert result.ensure_allowed() is result
    assert ARGS["card"] == "4242"


async def test_read_only_arguments_are_sent_and_redacted(mode: str, transport: str) -> None:
    """Arguments in a read-only mapping or a tuple (`JsonInput`) are shown to the platform and
    redacted as a dict and a list would be: the removed field never reaches the tool."""
    harness = Harness(mode, transport, allow_redacting("$.card"))
    result = await harness.guard("send_email", MappingProxyType({**ARGS, "cc": ("a", "b")}))
    shown = {"to": "ops@example.com", "card": "4242", "cc": ["a", "b"]}
    assert harness.platform.requests[0]["body"] == shown
    assert harness.invoked == [{"to": "ops@example.com", "cc": ["a", "b"]}]
    assert result.arguments == {"to": "ops@example.com", "cc": ["a", "b"]}


async def test_guard_does_not_invoke_on_deny(mode: str, transport: str) -> None:
    """On a deny the tool is not invoked and ensure_allowed raises ToolDeniedException."""
    harness = Harness(mode, transport, dict(DENY))
    result = await harness.guard("transfer_funds", ARGS)
    assert harness.invoked == []
    assert (result.allowed, result.value) == (False, None)
    with pytest.raises(ToolDeniedException) as caught:
        result.ensure_allowed()
    assert (caught.value.permission, caught.value.outcome) == ("payments:refund", "egress_deny")


async def test_guard_does_not_invoke_when_pending(mode: str, transport: str) -> None:
    """A pending decision does not invoke; ensure_allowed raises with the approval id."""
    harness = Harness(mode, transport, dict(PENDING))
    result = await harness.guard("transfer_funds", ARGS)
    assert harness.invoked == []
    with pytest.raises(ToolPendingApprovalException) as caught:
        result.ensure_allowed()
    assert caught.value.approval_id == "apr_7"


async def test_guard_does_not_invoke_when_platform_down(mode: str, transport: str) -> None:
    """An unreachable platform denies the tool call, fail-open notwithstanding."""
    harness = Harness(mode, transport, PlatformUnavailableError("down"))
    result = await harness.guard("transfer_funds", ARGS)
    assert harness.invoked == []
    assert result.decision.outcome == "platform_unavailable"


async def test_invoke_exception_propagates_unchanged(mode: str, transport: str) -> None:
    """The tool's own exception reaches the caller as the same object."""
    harness = Harness(mode, transport, dict(ALLOW))
    boom = LookupError("tool failed")
    harness.tool_error = boom
    with pytest.raises(LookupError) as caught:
        await harness.guard("f", ARGS)
    assert caught.value is boom


async def test_decision_is_a_governance_span(mode: str, transport: str) -> None:
    """Each decision is a tool_authorize span carrying its transport and the decision fields."""
    harness = Harness(mode, transport, dict(DENY))
    await harness.authorize("send_email", ARGS)
    (span,) = harness.spans.governance()
    assert (
        dict(span.attributes or {}).items()
        >= {
            A.AUTHZ_TRANSPORT: transport,
            A.AUTHZ_STATUS: "denied",
            A.AUTHZ_OUTCOME: "egress_deny",
            A.AUTHZ_DECISION_ID: "dec_2",
        }.items()
    )


async def test_trace_id_of_the_active_decision_trace_is_sent(mode: str, transport: str) -> None:
    """Inside a decision trace the request carries its Tracengent trace id as `traceId`."""
    harness = Harness(mode, transport, dict(ALLOW))
    token = CURRENT_TRACE.set(cast(AgentTrace, SimpleNamespace(trace_id="trc_abc")))
    try:
        await harness.authorize("search_flights", None)
    finally:
        CURRENT_TRACE.reset(token)
    assert harness.platform.requests[0]["traceId"] == "trc_abc"
