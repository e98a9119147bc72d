"""Decision traces are never lost to sampling, on a client's own provider too: below an incoming
`traceparent` whose sampled flag is off (an upstream service sampled the request out), the
client's events, decision traces and trace closes reach the real local platform; spans that are
no decision span keep the upstream's decision."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

from tracengent import AgentEvent, TracengentClient
from tracengent.testing import RunningPlatform

_SAMPLED_OUT = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}


def test_a_sampled_out_upstream_loses_no_decision_trace(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    client = TracengentClient(tracengent_platform.options(flush_interval_ms=60_000))
    token = otel_context.attach(propagate.extract(_SAMPLED_OUT))
    try:
        client.record(AgentEvent(name="standalone", type="action"))
        with client.begin_trace("from upstream") as trace:
            trace.step("plan")
            trace.track_action("refund", lambda: "ok")
            # Not a decision span: the upstream's decision holds.
            with client.tracer.start_as_current_span("helper") as helper:
                plain_sampled = helper.get_span_context().trace_flags.sampled
        root_trace_id = otel_trace.get_current_span().get_span_context().trace_id
    finally:
        otel_context.detach(token)
    assert client.close(timeout=10)
    stored = [str(event.body["name"]) for event in tracengent_platform.store.events()]
    assert sorted(stored) == ["plan", "refund", "standalone"]
    assert [record.status for record in tracengent_platform.store.traces()] == ["completed"]
    stats = client.delivery_stats
    assert (stats["delivered"], stats["traces_closed"]) == (3, 1)
    # Still the upstream's trace (its id), as the SDK would continue it.
    assert root_trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert plain_sampled is True  # inside the kept trace, whose root is sampled
