"""Two agents' clients on the application's provider, against the real local platform: the SDK
hands every client the same cached tracer, yet each client's spans stay its own agent's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from tracengent import _state
from tracengent.testing import RunningPlatform


@pytest.fixture
def limited_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """The application's provider with an attribute length limit (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT
    in production): the clients' events then start through the SDK tracer."""
    provider = TracerProvider(span_limits=SpanLimits(max_attribute_length=4096))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider
    provider.shutdown()
    _state.reset_for_tests()


def test_standalone_events_of_two_agents_stay_their_own(
    tracengent_platform: RunningPlatform, limited_provider: TracerProvider
) -> None:
    """demo-agent's `record()` is stored as demo-agent's though hotel-agent's client was
    created after it (it used to be filed under hotel-agent, sent with hotel's credentials)."""
    demo = tracengent.TracengentClient(tracengent_platform.options())
    hotel = tracengent.TracengentClient(tracengent_platform.options("hotel-agent"))
    demo.record(tracengent.AgentEvent("demo step", "action"))
    hotel.record(tracengent.AgentEvent("hotel step", "action"))
    assert demo.close(timeout=10)
    assert hotel.close(timeout=10)
    stored = {e.body["name"]: e.agent_id for e in tracengent_platform.store.events()}
    assert stored == {"demo step": "demo-agent", "hotel step": "hotel-agent"}


def test_a_clients_tracer_outlives_another_agents_client(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """A span made with `demo.tracer` goes out with demo-agent's export, also once the
    hotel-agent client created after it is closed (it used to be counted hotel's
    `after_shutdown`: lost, while demo's close() said everything was delivered)."""
    demo = tracengent.TracengentClient(tracengent_platform.options())
    hotel = tracengent.TracengentClient(tracengent_platform.options("hotel-agent"))
    with demo.tracer.start_as_current_span("refund 1", attributes={A.EVENT_TYPE: "action"}):
        pass
    assert hotel.close(timeout=10)
    with demo.tracer.start_as_current_span("refund 2", attributes={A.EVENT_TYPE: "action"}):
        pass
    assert demo.close(timeout=10)
    assert hotel.dropped_count == demo.dropped_count == 0
    stored = sorted((e.body["name"], e.agent_id) for e in tracengent_platform.store.events())
    assert stored == [("refund 1", "demo-agent"), ("refund 2", "demo-agent")]


def test_a_client_made_while_another_is_being_made_keeps_its_own_scope(
    tracengent_platform: RunningPlatform,
    limited_provider: TracerProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two clients made at the same moment on two threads: hotel-agent's client is made right
    between demo's marking its pipeline and wrapping its tracer (the interleaving a thread
    switch can give). demo's events still go out as demo-agent's: the mark is never written
    on the tracer the SDK shares, only on demo's own."""
    from tracengent import _client, _sampler

    wrap = _sampler.with_tracengent_sampling
    others: list[tracengent.TracengentClient] = []
    started: list[bool] = []

    def interleaved(*args: object, **kwargs: object) -> object:
        if not started:
            started.append(True)  # only demo's own construction makes the other client
            others.append(tracengent.TracengentClient(tracengent_platform.options("hotel-agent")))
        return wrap(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_client, "with_tracengent_sampling", interleaved)
    demo = tracengent.TracengentClient(tracengent_platform.options())
    (hotel,) = others
    demo.record(tracengent.AgentEvent("demo step", "action"))
    hotel.record(tracengent.AgentEvent("hotel step", "action"))
    assert demo.close(timeout=10)
    assert hotel.close(timeout=10)
    stored = {e.body["name"]: e.agent_id for e in tracengent_platform.store.events()}
    assert stored == {"demo step": "demo-agent", "hotel step": "hotel-agent"}
