"""`tracengent._mcp`: the MCP gate on `ToolGate` (fails closed), the payload writer, zero code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.errors import (
    PlatformUnavailableError,
    ToolDeniedException,
    ToolPendingApprovalException,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN, Redaction
from opentelemetry.exporter.tracengent.wire import ToolDecision
from tracengent import _state
from tracengent._governance.tools import ToolGate
from tracengent._mcp import MCPGovernor, MCPPayloadWriter, zero_code_mcp_hooks
from tracengent._scrubbing import Scrubber

OPTIONS = TracengentOptions(agent_id="a", base_url="http://127.0.0.1:9", ingest_key="agk_x")


@dataclass
class FakePlatform:
    """Answers `/v1/tool-authorize` with `decision`, or raises `error`; records requests."""

    decision: ToolDecision | None = None
    error: Exception | None = None
    requests: list[JsonObject] = field(default_factory=list)

    def _answer(self, request: JsonObject) -> ToolDecision:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        assert self.decision is not None
        return self.decision

    def tool_authorize(self, request: JsonObject, *, deadline: float | None = None) -> ToolDecision:
        return self._answer(request)


@dataclass
class AsyncFakePlatform:
    """The coroutine face of a `FakePlatform`."""

    inner: FakePlatform

    async def tool_authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> ToolDecision:
        return self.inner._answer(request)


@dataclass
class Harness:
    """An `MCPGovernor` on a fake platform, its spans in memory."""

    platform: FakePlatform
    governor: MCPGovernor
    provider: TracerProvider
    spans: InMemorySpanExporter

    async def check(
        self, mode: str, tool: str, arguments: Mapping[str, object] | None
    ) -> Mapping[str, object] | None:
        """`check` or `check_async`, inside an `execute_tool` span as the instrumentation runs it."""
        tracer = self.provider.get_tracer("test")
        attributes = {
            A.GEN_AI_OPERATION_NAME: A.OPERATION_EXECUTE_TOOL,
            A.GEN_AI_TOOL_NAME: tool,
        }
        with tracer.start_as_current_span(f"execute_tool {tool}", attributes=attributes):
            if mode == "sync":
                return self.governor.check(tool, arguments)
            return await self.governor.check_async(tool, arguments)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Runs a test against `check` and `check_async`."""
    return str(request.param)


@pytest.fixture
def harness() -> Iterator[Harness]:
    """A governor whose platform answers as each test sets it."""
    provider = TracerProvider()
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    platform = FakePlatform()
    tools = ToolGate(
        OPTIONS,
        platform=platform,
        async_platform=AsyncFakePlatform(platform),
        tracer=provider.get_tracer("gov"),
    )
    yield Harness(platform, MCPGovernor(tools), provider, spans)
    provider.shutdown()


async def test_allow_sends_the_arguments_with_every_redaction(harness: Harness, mode: str) -> None:
    """An allow returns the arguments masked as the decision says; the request is transport mcp."""
    harness.platform.decision = ToolDecision(
        allowed=True, status="allowed", redactions=[Redaction("$.card", "mask")]
    )
    sent = await harness.check(mode, "book_hotel", {"guest": "Ada", "card": "4111"})
    assert sent == {"guest": "Ada", "card": MASK_TOKEN}
    assert harness.platform.requests == [
        {"transport": "mcp", "toolName": "book_hotel", "body": {"guest": "Ada", "card": "4111"}}
    ]


async def test_deny_raises_tool_denied(harness: Harness, mode: str) -> None:
    """A policy deny raises ToolDeniedException carrying the permission and outcome."""
    harness.platform.decision = ToolDecision(
        allowed=False, status="denied", outcome="policy_deny", reason="no", permission="x:y"
    )
    with pytest.raises(ToolDeniedException) as denied:
        await harness.check(mode, "delete_account", {"user": "u"})
    assert (denied.value.permission, denied.value.outcome) == ("x:y", "policy_deny")


async def test_pending_raises_and_marks_the_tool_span_pending(harness: Harness, mode: str) -> None:
    """A pending decision raises with the approval id and the tool call's event is `pending`."""
    harness.platform.decision = ToolDecision(
        allowed=False, status="pending_approval", approval_id="apr_1", reason="ask"
    )
    with pytest.raises(ToolPendingApprovalException) as held:
        await harness.check(mode, "send_invoice", {"amount": 3})
    assert held.value.approval_id == "apr_1"
    (tool_span,) = [s for s in harness.spans.get_finished_spans() if s.name.startswith("execute")]
    assert (tool_span.attributes or {})[A.EVENT_STATUS] == "pending"


async def test_unreachable_platform_denies(harness: Harness, mode: str) -> None:
    """A platform that cannot be reached is a deny (fail closed), never an allow."""
    harness.platform.error = PlatformUnavailableError("down")
    with pytest.raises(ToolDeniedException) as denied:
        await harness.check(mode, "search_flights", None)
    assert denied.value.outcome == "platform_unavailable"


async def test_arguments_that_are_not_json_are_denied_unasked(harness: Harness, mode: str) -> None:
    """Arguments JSON cannot encode are denied before the platform is asked."""
    with pytest.raises(ToolDeniedException) as denied:
        await harness.check(mode, "search_flights", {"when": object()})
    assert denied.value.outcome == "sdk_error"
    assert harness.platform.requests == []


def test_payload_writer_scrubs_and_honours_the_capture_switch() -> None:
    """Sensitive keys are masked; with capture off nothing is written."""
    assert MCPPayloadWriter(Scrubber()).payload_text({"password": "p", "q": 1}) == (
        '{"password":"***REDACTED***","q":1}'
    )
    assert MCPPayloadWriter(Scrubber(capture_payloads=False)).payload_text({"q": 1}) is None


@pytest.fixture
def zero_code_state() -> Iterator[None]:
    """Forget the zero-code set-up after the test."""
    yield
    _state.reset_for_tests()


def test_zero_code_hooks_absent_without_zero_code_setup(zero_code_state: None) -> None:
    """No zero-code set-up: the factory returns None (calls traced without payloads)."""
    _state.reset_for_tests()
    assert zero_code_mcp_hooks() is None


def test_zero_code_traces_but_does_not_govern_by_default(
    zero_code_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Configured, without TRACENGENT_GOVERN_MCP: a payload hook and no gate."""
    monkeypatch.delenv(env.TRACENGENT_GOVERN_MCP, raising=False)
    _state.set_zero_code(OPTIONS, None)
    hooks = zero_code_mcp_hooks()
    assert hooks is not None
    assert hooks.gate is None
    assert isinstance(hooks.payload_hook, MCPPayloadWriter)


@pytest.mark.parametrize("switch", ["true", "not-a-bool"])
async def test_zero_code_governance_without_configuration_denies_everything(
    zero_code_state: None, monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    """Governance asked for (or an unreadable switch) but no options: every call is denied."""
    monkeypatch.setenv(env.TRACENGENT_GOVERN_MCP, switch)
    _state.set_zero_code(None, "missing agent id")
    hooks = zero_code_mcp_hooks()
    assert hooks is not None
    assert hooks.gate is not None
    with pytest.raises(ToolDeniedException) as denied:
        await hooks.gate.check_async("search_flights", {})
    assert denied.value.outcome == "not_configured"
