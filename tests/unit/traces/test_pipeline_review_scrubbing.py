"""Scrubbing on a shared tracer provider: the strictest client's settings hold for every span,
the spans other clients' recorders make included (payloads they scrub as they set them)."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient
from tracengent._scrubbing import Scrubber

_PAYLOADS = (A.INPUT, A.OUTPUT, A.ATTRIBUTES)


def payloads(span: ReadableSpan) -> dict[str, object]:
    """The payload attributes of `span`."""
    return {k: v for k, v in (span.attributes or {}).items() if k in _PAYLOADS}


def record_b_trace(client: TracengentClient) -> None:
    """A trace whose payloads hold an IBAN in its input, output and step attributes."""
    with client.begin_trace("B's trace") as trace:
        trace.track_action("b-action", lambda: {"iban": "DE-OUT"}, input={"iban": "DE-IN"})
        trace.step("b-step", {"iban": "DE-STEP"})


@pytest.fixture
def app_memory(sdk_global_provider: TracerProvider) -> InMemorySpanExporter:
    """The application's own exporter on the shared provider."""
    memory = InMemorySpanExporter()
    sdk_global_provider.add_span_processor(SimpleSpanProcessor(memory))
    return memory


def test_one_clients_capture_off_holds_for_another_clients_recorder(
    app_memory: InMemorySpanExporter,
) -> None:
    """With one client's `capture_payloads=False`, another client's recorded payloads reach
    neither the application's exporter nor the platform."""
    strict = TracengentClient(
        platform_options(agent_id="agent-a", capture_payloads=False),
        transport=httpx.MockTransport(FakePlatform([])),
    )
    platform_b = FakePlatform([])
    lenient = TracengentClient(
        platform_options(agent_id="agent-b"), transport=httpx.MockTransport(platform_b)
    )
    record_b_trace(lenient)
    assert lenient.close(timeout=10)
    strict.close(timeout=10)
    recorded = {s.name: payloads(s) for s in app_memory.get_finished_spans()}
    assert recorded["b-action"] == recorded["b-step"] == {}
    events = platform_b.events()
    assert [e["name"] for e in events] == ["b-action", "b-step"]
    assert all(key not in event for event in events for key in ("input", "output", "attributes"))


def test_one_clients_scrub_pattern_holds_for_another_clients_recorder(
    app_memory: InMemorySpanExporter,
) -> None:
    """One client's extra pattern (`*iban*`) masks the IBAN in another client's recorded input,
    output and step attributes, in the application's exporter and on the wire."""
    strict = TracengentClient(
        platform_options(agent_id="agent-a", scrub_patterns=["*iban*"]),
        transport=httpx.MockTransport(FakePlatform([])),
    )
    platform_b = FakePlatform([])
    lenient = TracengentClient(
        platform_options(agent_id="agent-b"), transport=httpx.MockTransport(platform_b)
    )
    record_b_trace(lenient)
    assert lenient.close(timeout=10)
    strict.close(timeout=10)
    masked = f'{{"iban":"{MASK_TOKEN}"}}'
    recorded = {s.name: payloads(s) for s in app_memory.get_finished_spans()}
    assert recorded["b-action"] == {A.INPUT: masked, A.OUTPUT: masked}
    assert recorded["b-step"] == {A.ATTRIBUTES: masked}
    for event in platform_b.events():
        for key in ("input", "output", "attributes"):
            assert event.get(key, {"iban": MASK_TOKEN}) == {"iban": MASK_TOKEN}


def test_a_stricter_client_attaching_later_tightens_an_earlier_clients_recorder(
    app_memory: InMemorySpanExporter,
) -> None:
    """A client made after another, with capture off, turns payload capture off for the first
    client's recorder too (the strictest holds, whoever came first)."""
    platform = FakePlatform([])
    earlier = TracengentClient(
        platform_options(agent_id="agent-b"), transport=httpx.MockTransport(platform)
    )
    later = TracengentClient(
        platform_options(agent_id="agent-a", capture_payloads=False),
        transport=httpx.MockTransport(FakePlatform([])),
    )
    record_b_trace(earlier)
    earlier.close(timeout=10)
    later.close(timeout=10)
    recorded = {s.name: payloads(s) for s in app_memory.get_finished_spans()}
    assert recorded["b-action"] == recorded["b-step"] == {}


def test_tightening_a_scrubber_adds_rules_and_never_loosens() -> None:
    """`tighten` unions the patterns, keeps capture off once off, and a name judged harmless
    before it is masked after it."""
    scrubber = Scrubber(patterns=["$.card"])
    assert scrubber.is_sensitive_name("iban") is False
    scrubber.tighten(capture_payloads=False, patterns=["*iban*", "$.card"])
    assert scrubber.patterns == ("$.card", "*iban*")
    assert scrubber.is_sensitive_name("iban") is True
    assert scrubber.custom_names is True
    assert scrubber.payload_text({"iban": "DE"}) is None
    scrubber.tighten(capture_payloads=True, patterns=[])
    assert scrubber.capture_payloads is False
    assert scrubber.patterns == ("$.card", "*iban*")
