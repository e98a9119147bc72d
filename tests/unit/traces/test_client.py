"""TracengentClient: configuration, provider choice, standalone events, flushing and close."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import AgentEvent, LlmCallResult, Money
from tests.unit.traces.conftest import AGENT_ID, ClientHarness, FakePlatform, platform_options
from tracengent import TracengentClient, _state
from tracengent._scrubbing import ScrubbingProcessor


def test_invalid_options_raise_config_error(no_global_provider: None) -> None:
    """Options without an agent id are refused at construction."""
    with pytest.raises(TracengentConfigError):
        TracengentClient(TracengentOptions(ingest_key="agk_x"))


def test_private_provider_leaves_global_alone(client_harness: ClientHarness) -> None:
    """Without a global SDK provider the client uses its own, named after the agent."""
    provider = client_harness.client.tracer_provider
    assert otel_trace.get_tracer_provider() is not provider
    assert not isinstance(otel_trace.get_tracer_provider(), TracerProvider)
    assert provider.resource.attributes["service.name"] == AGENT_ID


def test_trace_reaches_platform_with_contract_fields(client_harness: ClientHarness) -> None:
    """A decision trace is posted as chained events with the root request on the first only."""
    client = client_harness.client
    with client.begin_trace("refund 7", actor_user_id="u1") as trace:
        trace.step("check order")
        trace.track_action("refund", lambda: "done", cost=Money.usd(7))
    assert client.close(timeout=10)
    events = client_harness.platform.events()
    assert [e["name"] for e in events] == ["check order", "refund"]
    first, second = events
    assert first["traceId"] == second["traceId"] == trace.trace_id
    assert first["rootRequest"] == "refund 7"
    assert "rootRequest" not in second
    assert "parentEventId" not in first
    assert second["parentEventId"] == first["eventId"]
    assert second["cost"] == {"amount": 7.0, "currency": "USD"}
    assert "durationMs" not in first
    closes = [r for r in client_harness.platform.requests if r.url.path == "/v1/ingest/traces"]
    assert len(closes) == 1


def test_standalone_record_and_misuse(client_harness: ClientHarness) -> None:
    """A standalone event has no trace id; record(None) is counted in dropped_count."""
    client = client_harness.client
    client.record(AgentEvent(name="invoice", type="action"))
    client.record(None)  # type: ignore[arg-type]
    assert client.dropped_count == 1
    assert client.close(timeout=10)
    (event,) = client_harness.platform.events()
    assert event["name"] == "invoice"
    assert event["agentId"] == AGENT_ID
    assert "traceId" not in event
    assert str(event["eventId"]).startswith("evt_")


def test_client_record_joins_current_trace(client_harness: ClientHarness) -> None:
    """client.record inside a `with` block records into the current trace."""
    client = client_harness.client
    with client.begin_trace("r") as trace:
        client.record(AgentEvent(name="e", type="decision"))
    assert (client_harness.span("e").attributes or {})[A.TRACE_ID] == trace.trace_id


def test_client_tool_decorator_standalone(client_harness: ClientHarness) -> None:
    """@client.tool records a standalone tool_call outside any trace."""

    @client_harness.client.tool("lookup")
    def lookup(key: str) -> str:
        return key

    assert lookup("k") == "k"
    attrs = client_harness.span("lookup").attributes or {}
    assert attrs[A.EVENT_TYPE] == "tool_call"
    assert A.TRACE_ID not in attrs


def test_close_is_idempotent_and_never_raises(no_global_provider: None) -> None:
    """close() on an unreachable platform returns False, twice, without raising."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = TracengentClient(
        platform_options(max_retries=0), transport=httpx.MockTransport(refuse)
    )
    client.record(AgentEvent(name="lost", type="action"))
    assert client.close(timeout=2) is False
    assert client.close(timeout=2) is False
    assert client.flushed is False
    assert client.dropped_count >= 1


def test_global_sdk_provider_is_attached_once(sdk_global_provider: TracerProvider) -> None:
    """Clients for one agent share one set of processors, and one export, on the global provider."""
    platform = FakePlatform([])
    transport = httpx.MockTransport(platform)
    first = TracengentClient(platform_options(), transport=transport)
    second = TracengentClient(platform_options(), transport=transport)
    assert first.tracer_provider is sdk_global_provider
    attachment = _state.attachment_of(sdk_global_provider)
    assert attachment is not None
    assert list(attachment.pipelines) == [AGENT_ID]
    with first.begin_trace("once") as trace:
        trace.step("only once")
    # Closing one client leaves the shared export processor running for the other.
    first.close(timeout=10)
    second.record(AgentEvent(name="after first closed", type="action"))
    assert second.close(timeout=10)
    names = [e["name"] for e in platform.events()]
    assert names == ["only once", "after first closed"]
    assert _state.attachment_of(sdk_global_provider) is attachment
    assert attachment.pipelines == {}


def test_a_later_clients_stricter_scrubbing_applies_on_a_shared_provider(
    sdk_global_provider: TracerProvider,
) -> None:
    """The second client on a provider tightens its one scrubber: its `capture_payloads=False`
    and extra patterns hold for every span there, although another client attached first."""
    memory = InMemorySpanExporter()
    sdk_global_provider.add_span_processor(SimpleSpanProcessor(memory))
    transport = httpx.MockTransport(FakePlatform([]))
    lenient = TracengentClient(platform_options(), transport=transport)
    strict = TracengentClient(
        platform_options(capture_payloads=False, scrub_patterns=["*iban*"]), transport=transport
    )
    attachment = _state.attachment_of(sdk_global_provider)
    assert attachment is not None
    assert attachment.scrubber.capture_payloads is False
    assert attachment.scrubber.patterns == ("*iban*",)
    tracer = sdk_global_provider.get_tracer("app")
    with tracer.start_as_current_span(
        "pay", attributes={A.EVENT_TYPE: "action", A.INPUT: '{"note": "private"}', "iban": "DE00"}
    ):
        pass
    lenient.close(timeout=5)
    strict.close(timeout=5)
    attrs = next(s for s in memory.get_finished_spans() if s.name == "pay").attributes or {}
    assert attrs[A.INPUT] != '{"note": "private"}'
    assert attrs["iban"] != "DE00"
    # A third client configured as the first adds no scrubbing processor, and loosens nothing.
    third = TracengentClient(platform_options(), transport=transport)
    processors = sdk_global_provider._active_span_processor._span_processors
    assert sum(isinstance(p, ScrubbingProcessor) for p in processors) == 1
    assert attachment.scrubber.capture_payloads is False
    third.close(timeout=5)


def test_application_exporter_sees_the_same_otel_trace(sdk_global_provider: TracerProvider) -> None:
    """The application's own exporter on the global provider sees our spans in its trace."""
    memory = InMemorySpanExporter()
    sdk_global_provider.add_span_processor(SimpleSpanProcessor(memory))
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(FakePlatform([])))
    tracer = sdk_global_provider.get_tracer("app")
    with (
        tracer.start_as_current_span("handle request") as request_span,
        client.begin_trace("from web") as trace,
    ):
        trace.step("s")
    client.close(timeout=10)
    otel_trace_id = request_span.get_span_context().trace_id
    spans = memory.get_finished_spans()
    assert {s.name for s in spans} == {"s", f"invoke_agent {AGENT_ID}", "handle request"}
    assert all(s.context is not None and s.context.trace_id == otel_trace_id for s in spans)
    assert trace.trace_id.startswith(f"trc_{otel_trace_id:032x}")


def test_adopted_provider_gets_only_an_export_processor(
    sdk_global_provider: TracerProvider,
) -> None:
    """A provider zero-code already equipped keeps its own context processor and its own
    scrubbing processor: not a second one."""
    from tracengent._processors import ContextProcessor
    from tracengent._scrubbing import Scrubber

    options = platform_options()
    context = ContextProcessor()
    scrubber = Scrubber()
    sdk_global_provider.add_span_processor(context)
    sdk_global_provider.add_span_processor(ScrubbingProcessor(scrubber))
    _state.adopt_provider(sdk_global_provider, context, scrubber)
    client = TracengentClient(options, transport=httpx.MockTransport(FakePlatform([])))
    attachment = _state.attachment_of(sdk_global_provider)
    assert attachment is not None
    assert attachment.context_processor is context
    processors = sdk_global_provider._active_span_processor._span_processors
    assert sum(isinstance(p, ScrubbingProcessor) for p in processors) == 1
    with client.begin_trace("r") as trace:
        trace.step("s")
    client.close(timeout=10)
    assert context.open_span_count == 0


def test_zero_code_state_is_recorded_and_reset() -> None:
    """The zero-code set-up is kept in _state until reset_for_tests."""
    options = platform_options()
    _state.set_zero_code(options, None)
    assert _state.zero_code() == (options, None)
    _state.reset_for_tests()
    assert _state.zero_code() is None


def test_sdk_disabled_records_nothing_and_trackers_still_work(
    no_global_provider: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With OTEL_SDK_DISABLED the agent's calls run and return as usual and nothing is sent."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    assert client.recorder.recording is False
    with client.begin_trace("disabled") as trace:
        trace.step("thinking", attributes={"a": 1})
        assert trace.track_action("act", lambda: "done", input={"x": 1}) == "done"
        assert trace.track_llm_call("ask", lambda: LlmCallResult("answer", tokens=3)) == "answer"
        with pytest.raises(ZeroDivisionError):
            trace.track_tool_call("broken", lambda: 1 // 0)
        trace.record(AgentEvent(name="note", type="decision"))
    assert client.close(timeout=2) is True
    assert platform.events() == []
    assert client.dropped_count == 0


def test_clients_of_two_agents_on_one_provider_export_only_their_own(
    sdk_global_provider: TracerProvider,
) -> None:
    """Two agents' clients on the application's provider each send only their own events."""
    platform_a, platform_b = FakePlatform([]), FakePlatform([])
    client_a = TracengentClient(
        platform_options(agent_id="agent-a"), transport=httpx.MockTransport(platform_a)
    )
    client_b = TracengentClient(
        platform_options(agent_id="agent-b"), transport=httpx.MockTransport(platform_b)
    )
    with client_a.begin_trace("a's work") as trace_a:
        trace_a.track_action("a-action", lambda: 1)
    with client_b.begin_trace("b's work") as trace_b:
        trace_b.track_action("b-action", lambda: 2)
    client_b.record(AgentEvent(name="b-note", type="decision"))
    assert client_a.close(timeout=5)
    assert client_b.close(timeout=5)
    assert [(e["agentId"], e["name"]) for e in platform_a.events()] == [("agent-a", "a-action")]
    assert sorted((str(e["agentId"]), str(e["name"])) for e in platform_b.events()) == [
        ("agent-b", "b-action"),
        ("agent-b", "b-note"),
    ]


def test_a_standalone_events_explicit_trace_and_parent_are_sent(
    client_harness: ClientHarness,
) -> None:
    """0.1.0 sent an `AgentEvent`'s own `trace_id` and `parent_event_id`; so do we outside a
    decision trace (inside one, the trace's id stands)."""
    client = client_harness.client
    client.record(
        AgentEvent(name="given", type="action", trace_id="trc_given", parent_event_id="evt_up")
    )
    with client.begin_trace("req") as trace:
        trace.record(AgentEvent(name="inside", type="action", trace_id="trc_other"))
    assert client.close(timeout=5)
    events = {event["name"]: event for event in client_harness.platform.events()}
    assert (events["given"]["traceId"], events["given"]["parentEventId"]) == ("trc_given", "evt_up")
    assert events["inside"]["traceId"] != "trc_other"
    assert str(events["inside"]["traceId"]).startswith("trc_")
