"""`capture_payloads=False` holds for every span of a shared provider, on the export side too.

The scrubbing processor scrubs payloads as a span starts; an attribute an instrumentation sets
later (`tracengent.output` after the start) reaches the exporter unscrubbed. So with one client
with capture off on the provider, no pipeline there sends a payload, whichever agent it is for,
and that never loosens when that client closes.
"""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import FakePlatform
from tests.unit.traces.test_router_review_owner import client_for

SECRET = '{"card": "4111-1111"}'


def outputs(platform: FakePlatform) -> dict[str, object]:
    """`name: output` of every event posted to `platform`."""
    return {str(e["name"]): e.get("output") for e in platform.events()}


def test_a_payload_set_after_start_is_not_sent_when_another_agents_client_has_capture_off(
    sdk_global_provider: TracerProvider,
) -> None:
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    a = client_for("agent-a", platform_a)  # capture on
    b = client_for("agent-b", platform_b, capture_payloads=False)
    tracer = sdk_global_provider.get_tracer("app")
    with tracer.start_as_current_span("refund", attributes={A.EVENT_TYPE: "action"}) as span:
        span.set_attribute(A.OUTPUT, SECRET)
    with tracer.start_as_current_span(
        "a-span", attributes={A.EVENT_TYPE: "action", A.GEN_AI_AGENT_ID: "agent-a"}
    ) as span:
        span.set_attribute(A.OUTPUT, SECRET)
    with (
        a.begin_trace("a's job"),
        tracer.start_as_current_span(
            "chat gpt", attributes={A.GEN_AI_OPERATION_NAME: "chat"}
        ) as span,
    ):
        span.set_attribute(A.OUTPUT, SECRET)
    assert a.close(timeout=10)
    assert b.close(timeout=10)
    assert outputs(platform_a) == {"refund": None, "a-span": None, "chat gpt": None}
    assert platform_b.events() == []


def test_capture_off_outlives_the_client_that_turned_it_off_never_loosens(
    sdk_global_provider: TracerProvider,
) -> None:
    """b (capture off) first, then a (capture on) for another agent: a's new pipeline sends no
    payload either, even after b closed."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    b = client_for("agent-b", platform_b, capture_payloads=False)
    a = client_for("agent-a", platform_a)
    assert b.close(timeout=10)
    tracer = sdk_global_provider.get_tracer("app")
    with (
        a.begin_trace("a's job"),
        tracer.start_as_current_span(
            "chat gpt", attributes={A.GEN_AI_OPERATION_NAME: "chat"}
        ) as span,
    ):
        span.set_attribute(A.OUTPUT, SECRET)
    assert a.close(timeout=10)
    assert outputs(platform_a) == {"chat gpt": None}


def test_same_agent_capture_off_client_outliving_the_capture_on_one(
    sdk_global_provider: TracerProvider,
) -> None:
    """a (capture on) and b (capture off) share agent-x's pipeline; a closes first: b's events
    still go out without the payload an instrumentation set after start."""
    platform = FakePlatform([])
    a = client_for("agent-x", platform)
    b = client_for("agent-x", platform, capture_payloads=False)
    assert a.close(timeout=10)
    tracer = sdk_global_provider.get_tracer("app")
    with (
        b.begin_trace("refund"),
        tracer.start_as_current_span(
            "chat gpt", attributes={A.GEN_AI_OPERATION_NAME: "chat"}
        ) as span,
    ):
        span.set_attribute(A.OUTPUT, '{"answer": "secret plan"}')
    assert b.close(timeout=10)
    assert outputs(platform) == {"chat gpt": None}
