"""Tool gates deny, unsent and saying why, a request the SDK cannot make: a tool or function name
that is not non-blank text, or arguments that cannot be encoded as JSON (outcome `sdk_error`, not
`platform_rejected`: the platform never saw them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

import httpx
import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonInput
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from opentelemetry.exporter.tracengent.wire import ToolDecision
from tests.unit.tools.stubs import SpanRecorder
from tracengent._governance.tools import ToolGate


class Gate:
    """A ToolGate over the real platform clients, their transport answering 400 to anything."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

        def refuse(request: httpx.Request) -> httpx.Response:
            self.seen.append(request)
            return httpx.Response(400, json={"error": "invalid_request"})

        async def refuse_async(request: httpx.Request) -> httpx.Response:
            return refuse(request)

        options = TracengentOptions(agent_id="agent", ingest_key="agk_x", max_retries=0)
        self.spans = SpanRecorder()
        self.tools = ToolGate(
            options,
            platform=PlatformClient(options, transport=httpx.MockTransport(refuse)),
            async_platform=AsyncPlatformClient(
                options, transport=httpx.MockTransport(refuse_async)
            ),
            tracer=self.spans.tracer,
        )

    async def authorize(self, mode: str, kind: str, name: object, args: JsonInput) -> ToolDecision:
        tools = self.tools
        named = cast("str", name)
        if kind == "mcp":
            if mode == "sync":
                return tools.authorize_mcp(named, args)
            return await tools.authorize_mcp_async(named, args)
        if mode == "sync":
            return tools.authorize_function(named, args)
        return await tools.authorize_function_async(named, args)

    async def guard(self, mode: str, kind: str, name: object, args: JsonInput) -> ToolDecision:
        tools = self.tools
        named = cast("str", name)
        invoked: list[object] = []
        if kind == "mcp":
            if mode == "sync":
                result = tools.guard_mcp(named, args, invoked.append)
            else:
                result = await tools.guard_mcp_async(named, args, _appender(invoked))
        elif mode == "sync":
            result = tools.guard_function(named, args, invoked.append)
        else:
            result = await tools.guard_function_async(named, args, _appender(invoked))
        assert invoked == []
        return result.decision


def _appender(into: list[object]) -> Callable[[object], Awaitable[None]]:
    async def append(value: object) -> None:
        into.append(value)

    return append


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["mcp", "function"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("name", [None, "", "   ", "\t\n", 42, b"search", ["search"]])
async def test_a_name_that_is_not_text_is_denied_unsent(mode: str, kind: str, name: object) -> None:
    gate = Gate()
    decision = await gate.authorize(mode, kind, name, {"q": "x"})
    assert gate.seen == []
    assert (decision.allowed, decision.status, decision.outcome) == (False, "denied", "sdk_error")
    what = "tool" if kind == "mcp" else "function"
    assert f"{what} name" in decision.reason
    assert "not sent" in decision.reason
    # The deny is still a recorded governance decision.
    (span,) = gate.spans.governance()
    assert span.attributes is not None
    assert span.attributes["tracengent.authz.outcome"] == "sdk_error"


async def test_guard_with_a_blank_name_invokes_nothing(mode: str, kind: str) -> None:
    gate = Gate()
    decision = await gate.guard(mode, kind, " ", {"q": "x"})
    assert gate.seen == []
    assert decision.outcome == "sdk_error"


@pytest.mark.parametrize(
    "args", [{"x": float("nan")}, {"x": float("inf")}, {"x": object()}, {"x": "\ud800"}]
)
async def test_arguments_that_cannot_be_encoded_are_an_sdk_error(
    mode: str, kind: str, args: JsonInput
) -> None:
    gate = Gate()
    decision = await gate.authorize(mode, kind, "search", args)
    assert gate.seen == []
    assert (decision.allowed, decision.outcome) == (False, "sdk_error")
    assert "not sent" in decision.reason
    assert "JSON" in decision.reason
    assert "platform rejected" not in decision.reason


async def test_a_real_refusal_is_still_platform_rejected(mode: str, kind: str) -> None:
    gate = Gate()
    decision = await gate.authorize(mode, kind, "search", {"q": "x"})
    assert len(gate.seen) == 1
    assert (decision.allowed, decision.outcome) == (False, "platform_rejected")
