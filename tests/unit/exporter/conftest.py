"""Fixtures of the exporter tests: real SDK spans, deterministic times, a fake platform."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor

START_NS = 1_795_515_302_123_456_789
"""A fixed span start: 2026-11-24T10:15:02.123456789Z."""


@dataclass(frozen=True)
class FakeResult:
    """A `DeliveryResult` look-alike."""

    delivered: int
    rejected: int = 0
    failed: int = 0
    reason: str | None = None
    status_code: int | None = 200


Responder = Callable[[Sequence[JsonObject]], FakeResult]


def deliver_all(events: Sequence[JsonObject]) -> FakeResult:
    """The platform accepts every event."""
    return FakeResult(delivered=len(events))


@dataclass
class FakePlatform:
    """Records what the exporter posts; answers with `respond`; honours deadline and stop event."""

    respond: Responder = deliver_all
    block: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[str, JsonObject | list[JsonObject]]] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    interrupted: bool = False
    closed: bool = False

    def _wait_if_blocking(self, deadline: float | None) -> bool:
        """True when the call should fail because it was held until stopped or out of time."""
        if not self.block:
            return False
        self.entered.set()
        limit = 30.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if self.stop_event.wait(min(limit, 30.0)):
            self.interrupted = True
        return True

    def post_events(
        self, events: Sequence[JsonObject], *, deadline: float | None = None
    ) -> FakeResult:
        """Record a batch and answer it."""
        self.calls.append(("events", list(events)))
        if self._wait_if_blocking(deadline):
            return FakeResult(delivered=0, failed=len(events), reason="stopped", status_code=None)
        return self.respond(events)

    def post_trace_close(self, close: JsonObject, *, deadline: float | None = None) -> FakeResult:
        """Record a trace close and accept it (or fail it when blocking)."""
        self.calls.append(("close", close))
        if self._wait_if_blocking(deadline):
            return FakeResult(delivered=0, failed=1, reason="stopped", status_code=None)
        return FakeResult(delivered=1)

    def close(self) -> None:
        """Remember the close."""
        self.closed = True

    @property
    def event_batches(self) -> list[list[JsonObject]]:
        """The event batches posted, in order."""
        return [body for kind, body in self.calls if kind == "events" and isinstance(body, list)]

    @property
    def events(self) -> list[JsonObject]:
        """Every event posted, in order."""
        return [event for batch in self.event_batches for event in batch]


class SpanMaker:
    """Produces finished SDK `ReadableSpan`s with chosen attributes, kinds, times and status."""

    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("tests.exporter")

    def __call__(
        self,
        name: str = "span",
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        error: bool = False,
        start_ns: int = START_NS,
        duration_ns: int = 1_500_000,
    ) -> ReadableSpan:
        """One finished span."""
        span = self.tracer.start_span(name, kind=kind, attributes=attributes, start_time=start_ns)
        if error:
            span.set_status(Status(StatusCode.ERROR, "boom"))
        span.end(end_time=start_ns + duration_ns)
        finished = self.memory.get_finished_spans()
        self.memory.clear()
        return finished[-1]


@pytest.fixture
def make_span() -> Iterator[SpanMaker]:
    """A span factory backed by a real TracerProvider."""
    maker = SpanMaker()
    yield maker
    maker.provider.shutdown()


@pytest.fixture
def options() -> TracengentOptions:
    """Valid options with default tags."""
    return TracengentOptions(
        agent_id="billing-agent",
        ingest_key="agk_test",
        environment="staging",
        default_tags=["team-a", "staging"],
        max_batch_size=100,
    )


@pytest.fixture
def platform() -> FakePlatform:
    """A fake platform that accepts everything."""
    return FakePlatform()


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll `condition` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


@pytest.fixture
def processors() -> Iterator[list[TracengentSpanProcessor]]:
    """Processors created by a test, shut down after it."""
    created: list[TracengentSpanProcessor] = []
    yield created
    for processor in created:
        processor.shutdown(timeout_millis=1000)
