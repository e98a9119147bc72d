"""Fixtures of the decision-trace tests: a private SDK provider with our processors in memory."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions
from tracengent import TracengentClient, _state
from tracengent._processors.context import ContextProcessor
from tracengent._recording import Recorder
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._trace import AgentTrace, begin_trace

AGENT_ID = "agent-under-test"


@dataclass
class Harness:
    """A provider with the context and scrubbing processors and an in-memory exporter."""

    provider: TracerProvider
    memory: InMemorySpanExporter
    context: ContextProcessor
    recorder: Recorder

    def begin(self, root_request: str = "do it", actor_user_id: str | None = None) -> AgentTrace:
        """Start a decision trace as `TracengentClient.begin_trace` does."""
        return begin_trace(self.recorder, root_request, actor_user_id)

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.memory.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called `name`."""
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def attr(self, name: str, key: str) -> AttributeValue | None:
        """Attribute `key` of the finished span `name`."""
        attributes = self.span(name).attributes or {}
        return attributes.get(key)

    def event_id(self, name: str) -> str:
        """The event id the context processor derives for the finished span `name`."""
        span = self.span(name)
        explicit = (span.attributes or {}).get(A.EVENT_ID)
        if isinstance(explicit, str):
            return explicit
        assert span.context is not None
        return f"evt_{span.context.trace_id:032x}{span.context.span_id:016x}"


def make_harness(scrubber: Scrubber | None = None) -> Harness:
    """A fresh harness (tests that need two call it twice)."""
    scrubber = scrubber or Scrubber()
    provider = TracerProvider()
    context = ContextProcessor(scrub_text=scrubber.free_text)
    memory = InMemorySpanExporter()
    provider.add_span_processor(context)
    provider.add_span_processor(ScrubbingProcessor(scrubber))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    recorder = Recorder(provider.get_tracer("test"), scrubber, AGENT_ID, context)
    return Harness(provider, memory, context, recorder)


@pytest.fixture
def harness() -> Iterator[Harness]:
    """A harness shut down after the test."""
    made = make_harness()
    yield made
    made.provider.shutdown()
    _state.reset_for_tests()


@dataclass
class FakePlatform:
    """An `httpx.MockTransport` handler standing in for the platform; records what is posted."""

    requests: list[httpx.Request]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Accept everything: 202 for ingest."""
        self.requests.append(request)
        return httpx.Response(202, json={"accepted": 1})

    def events(self) -> list[dict[str, object]]:
        """Every event posted to `/v1/ingest/events`, in order."""
        found: list[dict[str, object]] = []
        for request in self.requests:
            if request.url.path == "/v1/ingest/events":
                body = request.content
                if request.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                found.extend(json.loads(body))
        return found


@dataclass
class ClientHarness:
    """A TracengentClient on a fake platform, its spans also captured in memory."""

    client: TracengentClient
    memory: InMemorySpanExporter
    platform: FakePlatform

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called `name`."""
        found = [s for s in self.memory.get_finished_spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.memory.get_finished_spans()]
        return found[0]


def platform_options(**overrides: object) -> TracengentOptions:
    """Options for the fake platform (ingest key: no token round trip)."""
    options = TracengentOptions(
        agent_id=AGENT_ID, base_url="http://platform.test", ingest_key="agk_test"
    )
    for name, value in overrides.items():
        setattr(options, name, value)
    return options


@pytest.fixture
def sdk_global_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """A fresh SDK provider installed as the global one for this test only."""
    provider = TracerProvider()
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider
    provider.shutdown()
    _state.reset_for_tests()


@pytest.fixture
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """No global SDK provider (OTel's proxy) for this test."""
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)


@pytest.fixture
def client_harness(no_global_provider: None) -> Iterator[ClientHarness]:
    """A client with a private provider on a fake platform, closed after the test."""
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    memory = InMemorySpanExporter()
    client.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    yield ClientHarness(client, memory, platform)
    client.close()
