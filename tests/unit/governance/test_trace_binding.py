"""Authorization inside a decision trace: `traceId` is sent and obligations reach the scrubber."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
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
