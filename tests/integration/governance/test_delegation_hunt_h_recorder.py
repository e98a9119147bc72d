"""Hunt H: a delegated session's decisions are its agent's, as its client's own are.

Its `Authorizer` had no recorder: an allow's `redactFields` inside a decision trace an
`invoke_agent` span opened were dropped (the trace's tool-call payloads reached the platform
unmasked), and inside another agent's trace a decision was filed under that trace. The session is
made by `TracengentClient.begin_delegated_task`, which passes the client's recorder.
Against the real local platform (its built-in policy: `payments:refund` carries
`redactFields = ["$.card"]`), with a CLI-granted token from demo-agent to hotel-agent.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from opentelemetry.trace import get_tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from opentelemetry.exporter.tracengent.wire import AuthObligations
from tracengent import TracengentClient
from tracengent._governance.delegation import DelegatedSession
from tracengent.cli import main as cli
from tracengent.testing import RunningPlatform

REFUND: JsonObject = {"amount": 200, "currency": "EUR"}


def _grant(platform: RunningPlatform) -> str:
    result = CliRunner().invoke(
        cli,
        [
            "grant",
            "--db",
            str(platform.store.path),
            "--from",
            "demo-agent",
            "--to",
            "hotel-agent",
            "--permissions",
            "payments:refund",
            "--max-amount",
            "300",
            "--ttl",
            "600",
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _session(client: TracengentClient, token: str) -> DelegatedSession:
    return client.begin_delegated_task(token)


async def _refund_authorized(session: DelegatedSession, mode: str) -> AuthObligations | None:
    if mode == "sync":
        return session.ensure_authorized("payments:refund", REFUND)
    return await session.ensure_authorized_async("payments:refund", REFUND)


async def _closed(client: TracengentClient, mode: str) -> bool:
    return client.close(timeout=10) if mode == "sync" else await client.aclose(timeout=10)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_delegated_allows_obligations_mask_its_invoke_agent_trace(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    client = TracengentClient(tracengent_platform.options("hotel-agent"))
    session = _session(client, _grant(tracengent_platform))
    try:
        tracer = get_tracer("agent-framework", tracer_provider=client.tracer_provider)
        with tracer.start_as_current_span(
            "invoke_agent refunds",
            attributes={
                A.GEN_AI_OPERATION_NAME: "invoke_agent",
                "gen_ai.agent.name": "hotel-agent",
            },
        ) as root:
            trace_id = (getattr(root, "attributes", None) or {}).get(A.TRACE_ID)
            assert isinstance(trace_id, str)
            obligations = await _refund_authorized(session, mode)
            assert obligations is not None
            assert obligations.redact_fields == ["$.card"]
            with tracer.start_as_current_span(
                "execute_tool refund",
                attributes={A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "refund"},
            ) as span:
                span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, '{"card": "4111", "amount": 200}')
    finally:
        await session.aclose()
        assert await _closed(client, mode)
    (stored,) = [t for t in tracengent_platform.store.traces() if t.trace_id == trace_id]
    events = {e.body["name"]: e.body for e in stored.events}
    assert events["refund"]["input"] == {"card": MASK_TOKEN, "amount": 200}
    (decision,) = tracengent_platform.store.decisions()
    assert decision.trace_id == trace_id


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_delegated_decision_inside_another_agents_trace_names_no_trace(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    demo = TracengentClient(tracengent_platform.options("demo-agent"))
    hotel = TracengentClient(tracengent_platform.options("hotel-agent"))
    session = _session(hotel, _grant(tracengent_platform))
    try:
        with demo.begin_trace("refund a booking") as trace:
            obligations = await _refund_authorized(session, mode)
            assert obligations is not None
            assert trace.trace_id
    finally:
        await session.aclose()
        assert await _closed(hotel, mode)
        assert await _closed(demo, mode)
    (decision,) = tracengent_platform.store.decisions()
    assert decision.trace_id is None
