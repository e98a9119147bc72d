"""Authorization inside a decision trace: `traceId` is sent and obligations reach the scrubber."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import cast

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._state import CURRENT_TRACE

from .conftest import authorizer_for, either, make_options
from .fakes import FakePlatform, decision


class FakeTrace:
    """The part of `AgentTrace` governance uses: its id and its redact fields."""

    trace_id = "trc_0001"

    def __init__(self) -> None:
        self.redact_fields: tuple[str, ...] = ()

    def add_redact_fields(self, paths: Iterable[str]) -> None:
        self.redact_fields += tuple(paths)


@pytest.fixture
def active_trace() -> Iterator[FakeTrace]:
    """A decision trace made current for the test."""
    trace = FakeTrace()
    token = CURRENT_TRACE.set(trace)  # type: ignore[arg-type]
    yield trace
    CURRENT_TRACE.reset(token)


async def test_trace_id_is_sent_and_redact_fields_are_kept(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    active_trace: FakeTrace,
) -> None:
    """Inside a trace the request carries traceId and an allow's redactFields join the trace."""
    platform.on("/v1/authorize", decision("allowed", obligations={"redactFields": ["$.card"]}))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    await either(
        mode,
        lambda: authorizer.ensure_authorized("payments:refund"),
        lambda: authorizer.ensure_authorized_async("payments:refund"),
    )
    assert platform.bodies("/v1/authorize") == [
        {"permission": "payments:refund", "traceId": "trc_0001"}
    ]
    assert active_trace.redact_fields == ("$.card",)


def test_a_deny_adds_no_redact_fields(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], active_trace: FakeTrace
) -> None:
    """Obligations of a deny are not applied to the trace."""
    platform.on("/v1/authorize", decision("denied", obligations={"redactFields": ["$.card"]}))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    authorizer.authorize("payments:refund")
    assert active_trace.redact_fields == ()


def test_processor_masks_the_current_traces_redact_fields(active_trace: FakeTrace) -> None:
    """Payload attributes a span starts with are masked by the trace's redact fields."""
    active_trace.add_redact_fields(["$.iban"])
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(ScrubbingProcessor(Scrubber()))
    users_exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(users_exporter))
    with provider.get_tracer("t").start_as_current_span(
        "pay", attributes={A.INPUT: '{"iban":"DE00","amount":3}'}
    ):
        pass
    (span,) = users_exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[A.INPUT] == '{"iban":"***REDACTED***","amount":3}'
    provider.shutdown()


def test_a_trace_opened_by_an_invoke_agent_span_is_sent_as_trace_id() -> None:
    """Zero code and manual OTel open decision traces with an `invoke_agent` span, not
    `begin_trace`: the tool gate still sends the id the context processor stamped."""
    from opentelemetry.trace import get_tracer

    from tracengent import TracengentClient
    from tracengent._governance._decisions import current_trace_id

    asked: list[dict[str, object]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth/token":
            return httpx.Response(200, json={"access_token": "a.b.c", "expires_in": 900})
        if request.url.path == "/v1/tool-authorize":
            asked.append(json.loads(request.content))
            return httpx.Response(200, json={"allowed": True, "status": "allowed"})
        return httpx.Response(200, json={})

    client = TracengentClient(make_options(), transport=httpx.MockTransport(platform))
    try:
        tracer = get_tracer("agent-framework", tracer_provider=client.tracer_provider)
        assert current_trace_id() is None
        with tracer.start_as_current_span(
            "invoke_agent planner", attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent"}
        ) as root:
            stamped = (cast("ReadableSpan", root).attributes or {}).get(A.TRACE_ID)
            assert isinstance(stamped, str)
            assert current_trace_id() == stamped
            assert client.tools.authorize_mcp("search_flights", {"to": "LIS"}).allowed
        assert [body.get("traceId") for body in asked] == [stamped]
    finally:
        client.close()


def test_an_empty_trace_id_stamped_by_hand_is_no_trace() -> None:
    """A span whose `tracengent.trace.id` is empty text (set by hand) is in no decision trace:
    the decision is asked without a `traceId`, never with `""`."""
    from opentelemetry.sdk.trace import TracerProvider

    from tracengent._governance._decisions import current_trace_id

    provider = TracerProvider()
    try:
        tracer = provider.get_tracer("by-hand")
        with tracer.start_as_current_span("step", attributes={A.TRACE_ID: ""}):
            assert current_trace_id() is None
        with tracer.start_as_current_span("step", attributes={A.TRACE_ID: "trc_1"}):
            assert current_trace_id() == "trc_1"
    finally:
        provider.shutdown()
