"""Sampling: the application's sampler never drops the spans a Tracengent client records.

The client leaves the provider and its sampler as they are: its own tracer samples with a
`TracengentSampler` around the provider's sampler. Spans the application's own tracers start
stay the application's sampler's call; when that sampler can drop some, one warning says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient, _state

_TRACES = 20


def install(monkeypatch: pytest.MonkeyPatch, sampler: Sampler | None) -> TracerProvider:
    """An application provider with `sampler` (None: the SDK's default), made the global one."""
    provider = TracerProvider(sampler=sampler) if sampler is not None else TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    return provider


@pytest.fixture(autouse=True)
def _forget_attachments() -> Iterator[None]:
    yield
    _state.reset_for_tests()


def record_traces(client: TracengentClient) -> None:
    """`_TRACES` decision traces of a step and an action each, and a standalone event each."""
    for index in range(_TRACES):
        with client.begin_trace(f"request {index}") as trace:
            trace.step("thinking")
            trace.track_action("act", lambda: 1)
        client.record(AgentEvent(name="standalone", type="action"))


@pytest.mark.parametrize(
    "sampler",
    [ALWAYS_OFF, ParentBased(ALWAYS_OFF), ParentBased(TraceIdRatioBased(0.0))],
    ids=["always_off", "parentbased_always_off", "parentbased_ratio_0"],
)
def test_the_applications_sampler_drops_none_of_the_clients_events(
    monkeypatch: pytest.MonkeyPatch, sampler: Sampler
) -> None:
    """Under an application sampler that samples nothing, every trace, event and close the
    client records is delivered; the provider keeps its sampler."""
    provider = install(monkeypatch, sampler)
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    record_traces(client)
    assert client.close(timeout=10)
    assert len(platform.events()) == 3 * _TRACES
    assert client.delivery_stats["traces_closed"] == _TRACES
    assert client.dropped_count == 0
    assert provider.sampler is sampler


def test_the_applications_own_spans_keep_their_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    """An application span is still sampled out by the application's sampler; a decision trace
    begun inside it is recorded (in the same OTel trace) and reaches the app's exporter too."""
    provider = install(monkeypatch, ParentBased(ALWAYS_OFF))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    tracer = provider.get_tracer("web")
    with tracer.start_as_current_span("GET /refund") as request:
        assert not request.get_span_context().trace_flags.sampled
        with client.begin_trace("refund 7") as trace:
            trace.step("check order")
    assert client.close(timeout=10)
    assert [e["name"] for e in platform.events()] == ["check order"]
    names = {s.name for s in memory.get_finished_spans()}
    assert "GET /refund" not in names
    assert "check order" in names
    otel_trace_id = request.get_span_context().trace_id
    assert trace.trace_id.startswith(f"trc_{otel_trace_id:032x}")


def test_a_trace_below_a_remote_parent_sampled_out_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under the SDK's default sampler, a decision trace begun below an incoming traceparent
    whose sampled flag is off (an upstream sampled the request out) is still recorded."""
    install(monkeypatch, None)
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(0))
    token = otel_context.attach(otel_trace.set_span_in_context(NonRecordingSpan(remote)))
    try:
        with client.begin_trace("from upstream") as trace:
            trace.track_action("act", lambda: 1)
    finally:
        otel_context.detach(token)
    assert client.close(timeout=10)
    assert [e["name"] for e in platform.events()] == ["act"]
    assert client.delivery_stats["traces_closed"] == 1


def test_a_client_of_its_own_honours_otel_traces_sampler_without_dropping_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an application provider, `OTEL_TRACES_SAMPLER=always_off` (read by the SDK for
    the client's own provider) drops none of the client's events either."""
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    record_traces(client)
    assert client.close(timeout=10)
    assert len(platform.events()) == 3 * _TRACES
    assert client.dropped_count == 0


def test_one_warning_when_the_applications_sampler_can_drop_decision_spans(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A ratio sampler on the application's provider: one warning at attach time, however
    many clients attach, naming the sampler and the way to keep every decision span."""
    install(monkeypatch, ParentBased(TraceIdRatioBased(0.1)))
    platform = FakePlatform([])
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        for _ in range(3):
            TracengentClient(platform_options(), transport=httpx.MockTransport(platform)).close(
                timeout=5
            )
    (warning,) = [r.getMessage() for r in caplog.records if "sampler" in r.getMessage()]
    assert "TraceIdRatioBased{0.1}" in warning
    assert "TracengentSampler" in warning


def test_no_warning_under_the_sdks_default_sampler(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK's default sampler samples every new trace: nothing to warn about."""
    install(monkeypatch, None)
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        TracengentClient(platform_options(), transport=httpx.MockTransport(FakePlatform([]))).close(
            timeout=5
        )
    assert caplog.records == []
