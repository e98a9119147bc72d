"""Review 8, against the real local platform: a decision trace's root request holding
credentials is stored scrubbed (events and trace close), and the user's own exporter on the same
provider never sees the secrets either."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent.platform import TraceRecord
from tracengent.testing import RunningPlatform

SECRET_REQUEST = "refund https://bob:hunter2@shop.example/orders?token=abc and password=hunter2"
SCRUBBED_REQUEST = f"refund https://shop.example/orders?token=REDACTED and password={MASK_TOKEN}"


def _assert_no_secret(value: object) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    assert "hunter2" not in text
    assert "token=abc" not in text
    assert "bob:" not in text


def _stored(platform: RunningPlatform) -> TraceRecord:
    (stored,) = platform.store.traces()
    _assert_no_secret([event.body for event in stored.events])
    _assert_no_secret(stored.close)
    assert stored.root_request == SCRUBBED_REQUEST
    assert stored.close is not None
    assert stored.close["rootRequest"] == SCRUBBED_REQUEST
    assert [e.body["rootRequest"] for e in stored.events if "rootRequest" in e.body] == [
        SCRUBBED_REQUEST
    ]
    return stored


@pytest.mark.parametrize("capture_payloads", [True, False])
def test_begin_traces_root_request_is_stored_and_exported_scrubbed(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider, capture_payloads: bool
) -> None:
    """`begin_trace` with URL credentials and a `password=` in its request: the platform stores
    the event's and the close's `rootRequest` scrubbed, payload capture on or off, and the
    application's own in-memory exporter sees no secret in any span."""
    mine = InMemorySpanExporter()
    app_provider.add_span_processor(SimpleSpanProcessor(mine))
    client = tracengent.TracengentClient(
        tracengent_platform.options(capture_payloads=capture_payloads)
    )
    with client.begin_trace(SECRET_REQUEST) as trace:
        trace.step("plan")
        trace.track_tool_call("lookup", lambda: {"found": True})
    assert client.close(timeout=10)
    assert trace.root_request == SCRUBBED_REQUEST
    _stored(tracengent_platform)
    spans = mine.get_finished_spans()
    assert spans
    for span in spans:
        _assert_no_secret(repr(dict(span.attributes or {})))


def test_a_framework_roots_request_from_input_messages_is_stored_scrubbed(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """An agent framework's `invoke_agent` root carrying the request only as GenAI input
    messages (zero code), with a tool the client tracks inside it: the root request the SDK takes
    from the messages is stored scrubbed in the first event and the trace close, and the root
    span the application's exporter sees carries it scrubbed."""
    mine = InMemorySpanExporter()
    app_provider.add_span_processor(SimpleSpanProcessor(mine))
    client = tracengent.TracengentClient(tracengent_platform.options())

    @client.tool
    def lookup(order: str) -> dict[str, bool]:
        return {"found": order == "42"}

    messages = [{"role": "user", "parts": [{"type": "text", "content": SECRET_REQUEST}]}]
    tracer = app_provider.get_tracer("some.agent.framework")
    with tracer.start_as_current_span(
        "invoke_agent framework",
        attributes={
            A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
            A.GEN_AI_AGENT_ID: "demo-agent",
            A.GEN_AI_INPUT_MESSAGES: json.dumps(messages),
        },
    ):
        lookup("42")
    assert client.close(timeout=10)
    stored = _stored(tracengent_platform)
    assert [e.body["name"] for e in stored.events] == ["lookup"]
    (root,) = [s for s in mine.get_finished_spans() if s.name == "invoke_agent framework"]
    assert (root.attributes or {})[A.TRACE_ROOT_REQUEST] == SCRUBBED_REQUEST
