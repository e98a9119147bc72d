"""Review 4: a guarded tool is invoked with the arguments the platform decided on.

`guard_*` handed `invoke` the caller's own dict or list, read again after the decision: another
task (while the async guard awaited the platform) or thread changing it meanwhile got its change
invoked under an allow given for the old values (`{"amount": 10}` allowed, 5000 transferred).
The guards now decide on, and invoke with, a copy taken when they are called.
"""

from __future__ import annotations

import json

import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import ToolDecision
from tests.unit.tools.stubs import ALLOW, SpanRecorder
from tracengent._governance.tools import ToolGate

ARGS_AT_CALL = {"to": "acct-1", "amount": 10, "memo": ["refund"]}


class MeddledPlatform:
    """Allows; what it saw is the request as serialized when asked. While it decides, another
    task or thread changes the caller's arguments."""

    def __init__(self, caller_args: dict[str, JsonValue]) -> None:
        self.caller_args = caller_args
        self.seen: list[JsonValue] = []

    def tool_authorize(self, request: JsonObject, *, deadline: float | None = None) -> ToolDecision:
        self.seen.append(json.loads(json.dumps(request["body"])))
        self.caller_args["amount"] = 5000
        memo = self.caller_args["memo"]
        assert isinstance(memo, list)
        memo.append("and a bonus")
        return ToolDecision.from_wire(dict(ALLOW))


class _Async:
    """The coroutine face of a `MeddledPlatform`."""

    def __init__(self, shared: MeddledPlatform) -> None:
        self.shared = shared

    async def tool_authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> ToolDecision:
        return self.shared.tool_authorize(request, deadline=deadline)


@pytest.mark.parametrize(
    "method", ["guard_mcp", "guard_function", "guard_mcp_async", "guard_function_async"]
)
async def test_invoke_gets_the_arguments_the_platform_allowed(method: str) -> None:
    args: dict[str, JsonValue] = json.loads(json.dumps(ARGS_AT_CALL))
    platform = MeddledPlatform(args)
    gate = ToolGate(
        TracengentOptions(agent_id="a", ingest_key="k"),
        platform=platform,
        async_platform=_Async(platform),
        tracer=SpanRecorder().tracer,
    )
    invoked: list[JsonValue] = []

    def invoke(arguments: JsonValue) -> str:
        invoked.append(json.loads(json.dumps(arguments)))
        return "sent"

    result = getattr(gate, method)("transfer", args, invoke)
    if method.endswith("_async"):
        result = await result
    assert platform.seen == [ARGS_AT_CALL]
    assert invoked == [ARGS_AT_CALL]
    assert result.arguments == ARGS_AT_CALL
