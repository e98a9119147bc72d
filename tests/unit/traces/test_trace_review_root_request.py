"""Only the first event of a decision trace carries the root request, however threads interleave."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import AGENT_ID
from tracengent import _state
from tracengent._processors.context import ContextProcessor
from tracengent._recording import Recorder
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._trace import AgentTrace, begin_trace


class _Sampler(Sampler):
    """Samples as ALWAYS_ON, except that spans named `meet*` wait for each other before they are
    sampled (so each was prepared before any starts) and spans named `drop*` are dropped."""

    def __init__(self, meeting: int) -> None:
        self._meeting = threading.Barrier(meeting, timeout=10)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if name.startswith("drop"):
            return SamplingResult(Decision.DROP)
        if name.startswith("meet"):
            self._meeting.wait()
        return ALWAYS_ON.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "review sampler"


class _Setup:
    def __init__(self, meeting: int) -> None:
        self.provider = TracerProvider(sampler=_Sampler(meeting))
        self.memory = InMemorySpanExporter()
        scrubber = Scrubber()
        context = ContextProcessor()
        self.provider.add_span_processor(context)
        self.provider.add_span_processor(ScrubbingProcessor(scrubber))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.recorder = Recorder(self.provider.get_tracer("test"), scrubber, AGENT_ID, context)

    def begin(self) -> AgentTrace:
        return begin_trace(self.recorder, "refund order 42")

    def carrying_root_request(self) -> list[str]:
        return sorted(
            s.name
            for s in self.memory.get_finished_spans()
            if A.TRACE_ROOT_REQUEST in (s.attributes or {}) and A.EVENT_TYPE in (s.attributes or {})
        )


@pytest.fixture
def setup_of() -> Iterator[Callable[[int], _Setup]]:
    made: list[_Setup] = []

    def make(meeting: int) -> _Setup:
        made.append(_Setup(meeting))
        return made[-1]

    yield make
    for setup in made:
        setup.provider.shutdown()
    _state.reset_for_tests()


def test_events_prepared_at_once_in_two_threads_carry_the_root_request_once(
    setup_of: Callable[[int], _Setup],
) -> None:
    """Two tracked calls of one trace both prepared before either starts: one root request."""
    setup = setup_of(2)
    with setup.begin() as trace:

        def work(label: str) -> None:
            trace.track_tool_call(label, lambda: label)

        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(work, f"meet-{i}"))
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        trace.step("after")
    assert len(setup.carrying_root_request()) == 1
    assert setup.carrying_root_request()[0] in {"meet-0", "meet-1"}


def test_a_first_event_the_sampler_drops_leaves_the_root_request_to_the_next(
    setup_of: Callable[[int], _Setup],
) -> None:
    """A tracked call that never starts gives its first-event claim back: the next event has it."""
    setup = setup_of(1)
    with setup.begin() as trace:
        assert trace.track_action("drop-me", lambda: 1) == 1
        trace.track_tool_call("kept", lambda: 2)
        trace.track_tool_call("later", lambda: 3)
    assert setup.carrying_root_request() == ["kept"]


def test_one_thread_still_puts_the_root_request_on_the_first_event_only(
    setup_of: Callable[[int], _Setup],
) -> None:
    """Tracked calls, nested ones and steps in one thread: the first event alone has it."""
    setup = setup_of(1)
    with setup.begin() as trace:
        trace.track_action("outer", lambda: trace.track_tool_call("inner", lambda: 1))
        trace.step("thought")
        trace.track_tool_call("last", lambda: 2)
    assert setup.carrying_root_request() == ["outer"]
