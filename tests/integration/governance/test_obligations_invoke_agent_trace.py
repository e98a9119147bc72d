"""Hunt A: an allow's `redactFields` obligations apply to a decision trace an `invoke_agent` span
opened (zero code, manual OTel, an agent framework), as they do to one `begin_trace` opened.

`add_redact_fields` looked only for the `AgentTrace` `begin_trace` makes current: in a trace an
`invoke_agent` span opened, the decision was asked under its `traceId` but its obligations were
dropped, so the card `payments:refund` requires redacted reached the platform in the trace's
tool-call payloads. Against the real local platform (its built-in policy: `payments:refund`
allows 280 EUR with `redactFields = ["$.card"]`).
"""

from __future__ import annotations

import pytest
from opentelemetry.trace import get_tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from opentelemetry.exporter.tracengent.wire import AuthObligations
from tracengent import TracengentClient
from tracengent.testing import RunningPlatform

REFUND: JsonObject = {"amount": 280, "currency": "EUR"}


async def _refund_authorized(client: TracengentClient, mode: str) -> AuthObligations | None:
    if mode == "sync":
        return client.ensure_authorized("payments:refund", REFUND)
    return await client.ensure_authorized_async("payments:refund", REFUND)


async def _closed(client: TracengentClient, mode: str) -> bool:
    return client.close(timeout=10) if mode == "sync" else await client.aclose(timeout=10)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_invoke_agent_traces_payloads_are_masked_by_its_obligations(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    client = TracengentClient(tracengent_platform.options())
    try:
        tracer = get_tracer("agent-framework", tracer_provider=client.tracer_provider)
        with tracer.start_as_current_span(
            "invoke_agent refunds",
            attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent", "gen_ai.agent.name": "demo-agent"},
        ) as root:
            trace_id = (getattr(root, "attributes", None) or {}).get(A.TRACE_ID)
            assert isinstance(trace_id, str)
            obligations = await _refund_authorized(client, mode)
            assert obligations is not None
            assert obligations.redact_fields == ["$.card"]
            with tracer.start_as_current_span(
                "execute_tool refund",
                attributes={A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "refund"},
            ) as span:
                span.set_attribute(
                    A.GEN_AI_TOOL_CALL_ARGUMENTS, '{"card": "4111 1111 1111 1111", "amount": 280}'
                )
                span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, '{"card": "4111", "refunded": true}')
    finally:
        assert await _closed(client, mode)
    (stored,) = [t for t in tracengent_platform.store.traces() if t.trace_id == trace_id]
    events = {e.body["name"]: e.body for e in stored.events}
    assert events["refund"]["input"] == {"card": MASK_TOKEN, "amount": 280}
    assert events["refund"]["output"] == {"card": MASK_TOKEN, "refunded": True}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_another_traces_payloads_are_not_masked_by_them(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    """The obligations are the deciding trace's: a later trace keeps its payloads."""
    client = TracengentClient(tracengent_platform.options())
    try:
        tracer = get_tracer("agent-framework", tracer_provider=client.tracer_provider)
        agent = {A.GEN_AI_OPERATION_NAME: "invoke_agent", "gen_ai.agent.name": "demo-agent"}
        with tracer.start_as_current_span("invoke_agent refunds", attributes=agent):
            await _refund_authorized(client, mode)
        with tracer.start_as_current_span("invoke_agent lookup", attributes=agent) as root:
            trace_id = (getattr(root, "attributes", None) or {}).get(A.TRACE_ID)
            with tracer.start_as_current_span(
                "execute_tool lookup",
                attributes={A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "lookup"},
            ) as span:
                span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, '{"card": "4111"}')
    finally:
        assert await _closed(client, mode)
    (stored,) = [t for t in tracengent_platform.store.traces() if t.trace_id == trace_id]
    events = {e.body["name"]: e.body for e in stored.events}
    assert events["lookup"]["input"] == {"card": "4111"}
