"""Hunt G: an allow's `redactFields` in a trace an `invoke_agent` span opened mask the payloads a
later span of that trace starts with, for the application's own exporters too (not only in what
Tracengent's exporter sends). Against the real local platform (its built-in policy:
`payments:refund` allows 280 EUR with `redactFields = ["$.card"]`)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import get_tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent import TracengentClient
from tracengent.testing import RunningPlatform


def test_a_span_starting_with_a_payload_after_the_allow_is_masked_for_every_exporter(
    tracengent_platform: RunningPlatform,
) -> None:
    client = TracengentClient(tracengent_platform.options())
    mine = InMemorySpanExporter()
    try:
        provider = client.tracer_provider
        assert isinstance(provider, TracerProvider)
        provider.add_span_processor(SimpleSpanProcessor(mine))
        tracer = get_tracer("agent-framework", tracer_provider=provider)
        with tracer.start_as_current_span(
            "invoke_agent refunds",
            attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent", "gen_ai.agent.name": "demo-agent"},
        ):
            obligations = client.ensure_authorized(
                "payments:refund", {"amount": 280, "currency": "EUR"}
            )
            assert obligations is not None
            assert obligations.redact_fields == ["$.card"]
            with tracer.start_as_current_span(
                "execute_tool refund",
                attributes={
                    A.GEN_AI_OPERATION_NAME: "execute_tool",
                    A.GEN_AI_TOOL_NAME: "refund",
                    A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"card":"4111 1111 1111 1111","amount":280}',
                },
            ):
                pass
    finally:
        assert client.close(timeout=10)
    (tool,) = [s for s in mine.get_finished_spans() if s.name == "execute_tool refund"]
    assert (tool.attributes or {})[A.GEN_AI_TOOL_CALL_ARGUMENTS] == (
        f'{{"card":"{MASK_TOKEN}","amount":280}}'
    )


def test_payloads_tracengent_records_after_the_allow_are_masked(
    tracengent_platform: RunningPlatform,
) -> None:
    """The payloads Tracengent's own recorder writes in such a trace (a `@client.tool` call's
    arguments and result) are masked too: they are scrubbed where they are set, and the exporter
    sends the recorder's text as written."""
    client = TracengentClient(tracengent_platform.options())

    @client.tool
    def refund(card: str, amount: int) -> dict[str, object]:
        return {"card": card, "refunded": True}

    try:
        tracer = get_tracer("agent-framework", tracer_provider=client.tracer_provider)
        with tracer.start_as_current_span(
            "invoke_agent refunds",
            attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent", "gen_ai.agent.name": "demo-agent"},
        ) as root:
            trace_id = (getattr(root, "attributes", None) or {}).get(A.TRACE_ID)
            assert isinstance(trace_id, str)
            client.ensure_authorized("payments:refund", {"amount": 280, "currency": "EUR"})
            refund("4111 1111 1111 1111", 280)
    finally:
        assert client.close(timeout=10)
    (stored,) = [t for t in tracengent_platform.store.traces() if t.trace_id == trace_id]
    events = {e.body["name"]: e.body for e in stored.events}
    assert events["refund"]["input"] == {"card": MASK_TOKEN, "amount": 280}
    assert events["refund"]["output"] == {"card": MASK_TOKEN, "refunded": True}
