"""`guard_*_async` with a plain (sync) `invoke` keeps the tool's result (review 3).

The async guards awaited whatever `invoke` returned: a sync callable (a lambda around a tool)
ran the tool, then `await` raised TypeError and its result was lost although the tool had run.
A sync `invoke`'s result is now used as it is; an awaitable is awaited as before.
"""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from tests.unit.tools.stubs import ALLOW, AsyncScriptedPlatform, ScriptedPlatform, SpanRecorder
from tracengent._governance.tools import ToolGate


@pytest.mark.parametrize("method", ["guard_mcp_async", "guard_function_async"])
async def test_a_sync_invoke_keeps_its_result(method: str) -> None:
    platform = ScriptedPlatform(ALLOW)
    gate = ToolGate(
        TracengentOptions(agent_id="a", ingest_key="k"),
        platform=platform,
        async_platform=AsyncScriptedPlatform(platform),
        tracer=SpanRecorder().tracer,
    )
    ran: list[JsonValue] = []

    def invoke(arguments: JsonValue) -> str:
        ran.append(arguments)
        return "sent"

    result = await getattr(gate, method)("send_email", {"to": "ops"}, invoke)
    assert ran == [{"to": "ops"}]
    assert result.value == "sent"
