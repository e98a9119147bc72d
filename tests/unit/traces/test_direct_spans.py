"""Live event spans started through `DirectSpans` behave as the SDK's spans do.

A tracked callable's span is an `EventSpan`: every processor sees it start (`on_start`) and end
(`on_end`, as a `ReadableSpan`), children started inside parent to it, and everything the API
offers (attributes, events, links, status, exceptions, names) gives what an SDK span would. The
parity tests run the same calls on an SDK span and an `EventSpan` and compare what ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Sum
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, StatusCode, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.status import Status
from opentelemetry.util.types import Attributes

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._span_reads import RecordedSpan
from tracengent._direct_spans import DirectSpans, DirectTracer, EventSpan
from tracengent._processors.context import ContextProcessor
from tracengent._recording import Recorder
from tracengent._scrubbing import Scrubber, ScrubbingProcessor
from tracengent._trace import begin_trace

AGENT_ID = "agent-direct"


class _Watching(SpanProcessor):
    """Records what every processor hook received."""

    def __init__(self) -> None:
        self.started: list[tuple[str, Context | None]] = []
        self.start_attributes: list[dict[str, object]] = []
        self.ended: list[ReadableSpan] = []

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        self.started.append((span.name, parent_context))
        self.start_attributes.append(dict(span.attributes or {}))
        # A processor may stamp attributes as the span starts (the baggage processor does).
        span.set_attribute("watched", True)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


def _pipeline(
    provider: TracerProvider,
) -> tuple[Recorder, InMemorySpanExporter, _Watching]:
    context = ContextProcessor()
    memory = InMemorySpanExporter()
    watching = _Watching()
    scrubber = Scrubber()
    for processor in (context, ScrubbingProcessor(scrubber), watching):
        provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    recorder = Recorder(provider.get_tracer("direct-tests", "1.2"), scrubber, AGENT_ID, context)
    return recorder, memory, watching


def _exporting(
    provider: TracerProvider, name: str
) -> tuple[otel_trace.Tracer, DirectSpans, InMemorySpanExporter]:
    """A tracer of `provider`, its `DirectSpans`, and a memory exporter of every ended span."""
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(name)
    factory = DirectSpans.for_tracer(tracer, ContextProcessor())
    assert factory is not None
    return tracer, factory, memory


def _only(memory: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [s for s in memory.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in memory.get_finished_spans()]
    return found[0]


def test_a_tracked_call_is_an_event_span_every_processor_sees_start_and_end() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    recorder, memory, watching = _pipeline(provider)
    seen: list[Span] = []

    def refund() -> int:
        seen.append(otel_trace.get_current_span())
        return 7

    with begin_trace(recorder, "refund", "u-1") as trace:
        trace.track_action("refund", refund)
    assert isinstance(seen[0], EventSpan)
    assert [name for name, _ in watching.started][-1] == "refund"
    # The span starts already stamped: the processors see the decision-trace context.
    started = watching.start_attributes[-1]
    assert started[A.EVENT_TYPE] == "action"
    assert started[A.ACTOR_USER_ID] == "u-1"
    assert started[A.GEN_AI_AGENT_ID] == AGENT_ID
    span = _only(memory, "refund")
    root = _only(memory, f"invoke_agent {AGENT_ID}")
    # A `ReadableSpan` naming the payload text the recorder wrote (its output).
    assert type(span) is RecordedSpan
    assert span.json_texts == ("7",)
    assert span.context is not None
    assert root.context is not None
    assert span.parent is not None
    assert span.parent.span_id == root.context.span_id
    assert span.context.trace_id == root.context.trace_id
    assert span.context.trace_flags == root.context.trace_flags
    assert span.kind is SpanKind.INTERNAL
    assert span.resource.attributes["service.name"] == "svc"
    assert span.instrumentation_scope is not None
    assert (span.instrumentation_scope.name, span.instrumentation_scope.version) == (
        "direct-tests",
        "1.2",
    )
    assert span.start_time is not None
    assert span.end_time is not None
    assert span.start_time <= span.end_time
    attrs = span.attributes or {}
    assert attrs["watched"] is True
    assert attrs[A.OUTPUT] == "7"
    assert attrs[A.TRACE_ID] == (root.attributes or {})[A.TRACE_ID]
    assert span.status.status_code is StatusCode.UNSET
    provider.shutdown()


def test_children_started_inside_parent_to_the_event_span() -> None:
    provider = TracerProvider()
    recorder, memory, _ = _pipeline(provider)
    other = provider.get_tracer("app")

    def call() -> None:
        with other.start_as_current_span("db query"):
            pass

    with begin_trace(recorder, "go", None) as trace:
        trace.track_tool_call("lookup", call)
    child, event = _only(memory, "db query"), _only(memory, "lookup")
    assert child.parent is not None
    assert event.context is not None
    assert child.parent.span_id == event.context.span_id
    assert (child.attributes or {})[A.TRACE_ID] == (event.attributes or {})[A.TRACE_ID]
    provider.shutdown()


def test_a_failed_call_records_the_exception_as_the_sdk_does() -> None:
    provider = TracerProvider()
    recorder, memory, _ = _pipeline(provider)

    def boom() -> None:
        raise KeyError("order 7")

    with begin_trace(recorder, "go", None) as trace, pytest.raises(KeyError):
        trace.track_action("fails", boom)
    span = _only(memory, "fails")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[A.EVENT_STATUS] == "failure"
    (event,) = span.events
    assert event.name == "exception"
    attrs = event.attributes or {}
    assert attrs["exception.type"] == "KeyError"
    assert attrs["exception.message"] == "'order 7'"
    assert "raise KeyError" in str(attrs["exception.stacktrace"])
    assert attrs["exception.escaped"] == "False"
    provider.shutdown()


# --- parity with the SDK's span, call for call ------------------------------------------------

Operation = Callable[[Span], None]


class _Error(Exception):
    pass


def _with_exception(span: Span) -> None:
    try:
        raise _Error("bad")
    except _Error as exc:
        span.record_exception(exc, {"extra": 1}, timestamp=5, escaped=True)


_OPERATIONS: dict[str, Sequence[Operation]] = {
    "valid attributes": [
        lambda s: s.set_attribute("text", "x"),
        lambda s: s.set_attribute("list", [1, 2, 3]),
        lambda s: s.set_attributes({"flag": False, "ratio": 0.5, "strs": ("a", "b")}),
    ],
    "invalid attributes are dropped": [
        lambda s: s.set_attribute("nested", {"a": 1}),
        lambda s: s.set_attribute("", "empty key"),
        lambda s: s.set_attribute("mixed", [1, "a"]),
        lambda s: s.set_attributes({"ok": 1, "bad": object()}),  # type: ignore[dict-item]
    ],
    "events and exceptions": [
        lambda s: s.add_event("checkpoint", {"n": 1, "bad": {"x": 1}}, timestamp=3),
        _with_exception,
    ],
    "status: OK is final": [
        lambda s: s.set_status(Status(StatusCode.OK)),
        lambda s: s.set_status(Status(StatusCode.ERROR, "late")),
    ],
    "status: UNSET ignored, description with the code": [
        lambda s: s.set_status(StatusCode.ERROR, "broken"),
        lambda s: s.set_status(Status(StatusCode.UNSET)),
    ],
    "rename and link": [
        lambda s: s.update_name("renamed"),
        lambda s: s.add_link(SpanContext(1, 2, is_remote=True), {"why": "retry"}),
        lambda s: s.add_link(SpanContext(0, 0, is_remote=False)),
    ],
}


def _ended_both_ways(operations: Sequence[Operation]) -> tuple[ReadableSpan, ReadableSpan]:
    """The same calls on an SDK span and on an `EventSpan`, both ended (then changed again)."""
    ended: list[ReadableSpan] = []
    for direct in (False, True):
        provider = TracerProvider()
        tracer, factory, memory = _exporting(provider, "parity")
        if direct:
            span = factory.start("op", None, SpanKind.CLIENT, {"start": "yes"})
            assert isinstance(span, EventSpan)
        else:
            span = tracer.start_span("op", kind=SpanKind.CLIENT, attributes={"start": "yes"})
        for operation in operations:
            operation(span)
        span.end()
        # After the end nothing changes and nothing is exported again.
        span.set_attribute("late", 1)
        span.add_event("late")
        span.update_name("late")
        span.end()
        (finished,) = memory.get_finished_spans()
        ended.append(finished)
        provider.shutdown()
    return ended[0], ended[1]


def _comparable(span: ReadableSpan) -> dict[str, object]:
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "events": [(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events],
        "links": [(link.context, dict(link.attributes or {})) for link in span.links],
        "status": (span.status.status_code, span.status.description),
    }


@pytest.mark.parametrize("case", sorted(_OPERATIONS))
def test_api_calls_give_what_the_sdk_span_gives(case: str) -> None:
    sdk, direct = _ended_both_ways(_OPERATIONS[case])
    expected, actual = _comparable(sdk), _comparable(direct)
    if case == "events and exceptions":
        # Stack traces differ by the frames that ran them; the rest must be equal.
        for events in (expected["events"], actual["events"]):
            assert isinstance(events, list)
            assert "_with_exception" in str(events[1][1].pop("exception.stacktrace"))
    assert actual == expected


def test_the_span_as_a_context_manager_records_an_escaping_exception() -> None:
    provider = TracerProvider()
    _, factory, memory = _exporting(provider, "cm")
    with pytest.raises(_Error), factory.start("cm", None, SpanKind.INTERNAL, {}):
        raise _Error("escaped")
    (span,) = memory.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "_Error: escaped"
    assert (span.events[0].attributes or {})["exception.escaped"] == "True"
    provider.shutdown()


def test_concurrent_ends_export_the_span_once() -> None:
    provider = TracerProvider()
    _, factory, memory = _exporting(provider, "race")
    for _ in range(50):
        span = factory.start("race", None, SpanKind.INTERNAL, {})
        barrier = threading.Barrier(4)

        def end(target: Span = span, wait: threading.Barrier = barrier) -> None:
            wait.wait()
            target.end()

        threads = [threading.Thread(target=end) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(memory.get_finished_spans()) == 50
    provider.shutdown()


# --- the provider's sampler and limits ---------------------------------------------------------


class _RecordOnly(Sampler):
    """Records without sampling, adds an attribute and a trace state entry."""

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
        merged = {**(attributes or {}), "sampler.rule": "record-only"}
        return SamplingResult(Decision.RECORD_ONLY, merged, TraceState([("ro", "1")]))

    def get_description(self) -> str:
        return "RecordOnly"


def test_a_dropping_sampler_gets_no_span_and_the_call_still_runs() -> None:
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    recorder, memory, watching = _pipeline(provider)
    active = recorder.open("dropped", {A.EVENT_TYPE: "action"}, None)
    assert active is not None
    assert recorder.close_ok(active, 1, None) == 1
    assert not active.span.is_recording()
    assert not isinstance(active.span, EventSpan)
    assert memory.get_finished_spans() == ()
    assert watching.started == []
    provider.shutdown()


def test_a_dropped_span_still_carries_a_new_context_as_the_sdks_does() -> None:
    """The SDK's dropped span has its own (unsampled) context, so `traceparent` still flows."""
    provider = TracerProvider(sampler=ALWAYS_OFF)
    tracer = provider.get_tracer("dropped")
    factory = DirectSpans.for_tracer(tracer, ContextProcessor())
    assert factory is not None
    sdk = tracer.start_span("sdk").get_span_context()
    direct = factory.start("direct", None, SpanKind.CLIENT, {}).get_span_context()
    for context in (sdk, direct):
        assert context.is_valid
        assert not context.trace_flags.sampled
    carrier: dict[str, str] = {}
    span = factory.start("propagated", None, SpanKind.CLIENT, {})
    TraceContextTextMapPropagator().inject(carrier, otel_trace.set_span_in_context(span))
    context = span.get_span_context()
    flags = int(context.trace_flags)
    assert (
        carrier["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    )
    provider.shutdown()


def test_record_only_sampling_keeps_the_samplers_attributes_and_state() -> None:
    provider = TracerProvider(sampler=_RecordOnly())
    recorder, _, watching = _pipeline(provider)
    active = recorder.open("recorded", {A.EVENT_TYPE: "action"}, None)
    recorder.close_ok(active, None, None)
    span = watching.ended[-1]
    assert span.context is not None
    assert not span.context.trace_flags.sampled
    assert span.context.trace_state.get("ro") == "1"
    assert (span.attributes or {})["sampler.rule"] == "record-only"
    assert (span.attributes or {})[A.EVENT_TYPE] == "action"
    provider.shutdown()


def _parent_contexts() -> dict[str, Context | None]:
    state = TraceState([("vendor", "v1")])

    def under(sampled: bool, remote: bool) -> Context:
        flags = otel_trace.TraceFlags(otel_trace.TraceFlags.SAMPLED if sampled else 0)
        parent = SpanContext(0xABC, 0xDEF, is_remote=remote, trace_flags=flags, trace_state=state)
        return otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(parent))

    return {
        "no parent": None,
        "local sampled": under(True, False),
        "local unsampled": under(False, False),
        "remote sampled": under(True, True),
        "remote unsampled": under(False, True),
    }


@pytest.mark.parametrize("parent_name", sorted(_parent_contexts()))
def test_the_sdks_default_sampler_decides_as_it_does_on_the_sdk(parent_name: str) -> None:
    """`parentbased_always_on` (the default) is decided inline: the same decision and state."""
    parent = _parent_contexts()[parent_name]
    provider = TracerProvider(sampler=DEFAULT_ON)
    tracer = provider.get_tracer("default-sampler")
    factory = DirectSpans.for_tracer(tracer, ContextProcessor())
    assert factory is not None
    sdk = tracer.start_span("sdk", context=parent, kind=SpanKind.CLIENT, attributes={"k": 1})
    direct = factory.start("direct", parent, SpanKind.CLIENT, {"k": 1})
    assert direct.is_recording() == sdk.is_recording()
    assert isinstance(direct, EventSpan) == sdk.is_recording()
    ours, theirs = direct.get_span_context(), sdk.get_span_context()
    assert ours.trace_flags == theirs.trace_flags
    assert ours.trace_state == theirs.trace_state
    assert (ours.trace_id == 0xABC) == (theirs.trace_id == 0xABC) == (parent is not None)
    if isinstance(direct, EventSpan):
        assert isinstance(sdk, SdkSpan)
        direct.end()
        sdk.end()
        assert direct.parent == sdk.parent
        assert dict(direct.attributes or {}) == dict(sdk.attributes or {}) == {"k": 1}
    provider.shutdown()


def test_a_length_limit_sends_event_spans_through_the_sdk() -> None:
    """The SDK would truncate payloads under a length limit: the recorder then uses it."""
    provider = TracerProvider(span_limits=SpanLimits(max_span_attribute_length=4))
    recorder, memory, _ = _pipeline(provider)
    assert DirectSpans.for_tracer(recorder.tracer, ContextProcessor()) is None
    with begin_trace(recorder, "go", None) as trace:
        trace.track_action("long", lambda: "abcdefgh")
    # The SDK's own truncation applied, exactly as for any other span of the provider.
    assert (_only(memory, "long").attributes or {})[A.OUTPUT] == '"abc'
    provider.shutdown()


def test_the_attribute_count_limit_keeps_the_newest_as_the_sdk_does() -> None:
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=3), sampler=ALWAYS_ON)
    tracer, factory, memory = _exporting(provider, "limits")
    for span in (
        tracer.start_span("sdk", attributes={"a": 1, "b": 2}),
        factory.start("direct", None, SpanKind.INTERNAL, {"a": 1, "b": 2}),
    ):
        span.set_attributes({"c": 3, "d": 4})
        span.end()
    sdk, direct = memory.get_finished_spans()
    assert dict(direct.attributes or {}) == dict(sdk.attributes or {}) == {"b": 2, "c": 3, "d": 4}
    provider.shutdown()


def test_a_low_count_limit_evicts_what_says_what_the_span_is_last() -> None:
    """The event type is set first, so the SDK's oldest-first eviction would turn an event into
    a plain span (never exported, never counted): ours evicts the other attributes first."""
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=3), sampler=ALWAYS_ON)
    _tracer, factory, memory = _exporting(provider, "limits")
    live = factory.start(
        "live", None, SpanKind.INTERNAL, {A.EVENT_TYPE: "action", "a": 1, A.EVENT_NAME: "live"}
    )
    live.set_attributes({"b": 2, "c": 3})
    live.end()
    factory.emit("point", {A.EVENT_TYPE: "decision", "a": 1, "b": 2, "c": 3}, None, False)
    by_name = {span.name: span for span in memory.get_finished_spans()}
    live_attrs = dict(by_name["live"].attributes or {})
    assert live_attrs == {A.EVENT_TYPE: "action", A.EVENT_NAME: "live", "c": 3}
    assert by_name["live"].dropped_attributes == 2
    point_attrs = dict(by_name["point"].attributes or {})
    assert point_attrs[A.EVENT_TYPE] == "decision"
    assert len(point_attrs) == 3
    assert by_name["point"].dropped_attributes == 1
    provider.shutdown()


def test_without_a_context_processor_or_an_sdk_tracer_the_sdk_path_is_used() -> None:
    provider = TracerProvider()
    assert DirectSpans.for_tracer(provider.get_tracer("x"), None) is None
    assert DirectSpans.for_tracer(otel_trace.NoOpTracer(), ContextProcessor()) is None
    provider.shutdown()


def _sum_of(reader: InMemoryMetricReader, name: str) -> int:
    data = reader.get_metrics_data()
    total = 0
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name and isinstance(metric.data, Sum):
                    total += sum(int(point.value) for point in metric.data.data_points)
    return total


def test_with_the_sdks_span_metrics_on_every_span_is_counted_by_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`: the SDK counts only the spans it starts."""
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "True ")
    reader = InMemoryMetricReader()
    provider = TracerProvider(meter_provider=MeterProvider(metric_readers=[reader]))
    recorder, memory, _ = _pipeline(provider)
    assert DirectSpans.for_tracer(recorder.tracer, ContextProcessor()) is None
    with begin_trace(recorder, "go", None) as trace:
        trace.track_action("act", lambda: 1)
        trace.step("why")
        trace.track_tool_call("tool", lambda: 2)
    finished = memory.get_finished_spans()
    assert {span.name for span in finished} >= {"act", "why", "tool"}
    assert _sum_of(reader, "otel.sdk.span.started") == len(finished)
    assert _sum_of(reader, "otel.sdk.span.live") == 0
    provider.shutdown()


def test_without_the_sdks_span_metrics_event_spans_start_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "false")
    provider = TracerProvider()
    assert DirectSpans.for_tracer(provider.get_tracer("x"), ContextProcessor()) is not None
    provider.shutdown()


# --- DirectTracer: the client's other spans (governance) ---------------------------------------


def _direct_tracer(provider: TracerProvider) -> DirectTracer:
    tracer = provider.get_tracer("facade")
    factory = DirectSpans.for_tracer(tracer, ContextProcessor())
    assert factory is not None
    return DirectTracer(tracer, factory)


def test_direct_tracer_starts_plain_spans_directly_and_the_rest_on_the_sdk() -> None:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = _direct_tracer(provider)
    plain = tracer.start_span("plain", attributes={"k": "v", "n": 1})
    assert isinstance(plain, EventSpan)
    link = Link(SpanContext(1, 2, is_remote=True))
    for span in (
        tracer.start_span("linked", links=[link]),
        tracer.start_span("timed", start_time=5),
        tracer.start_span("listy", attributes={"tags": ["a", "b"]}),
        tracer.start_span("quiet", record_exception=False),
    ):
        assert isinstance(span, SdkSpan), span
        span.end()
    plain.end()
    ended = {s.name: s for s in memory.get_finished_spans()}
    assert dict(ended["plain"].attributes or {}) == {"k": "v", "n": 1}
    assert ended["linked"].links[0].context == link.context
    assert ended["timed"].start_time == 5
    assert (ended["listy"].attributes or {})["tags"] == ("a", "b")
    provider.shutdown()


def test_direct_tracer_current_span_block_records_an_escaping_exception() -> None:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = _direct_tracer(provider)
    seen: list[Span] = []

    def fail_inside() -> None:
        with tracer.start_as_current_span("block") as span:
            seen.extend((span, otel_trace.get_current_span()))
            raise _Error("out")

    with pytest.raises(_Error):
        fail_inside()
    assert seen[0] is seen[1]
    assert otel_trace.get_current_span() is not seen[0]
    (ended,) = memory.get_finished_spans()
    assert ended.status.status_code is StatusCode.ERROR
    assert ended.events[0].name == "exception"
    provider.shutdown()


def test_a_clients_governance_spans_are_direct_spans() -> None:
    """The client hands its governance the recorder's `DirectTracer`."""
    from opentelemetry.exporter.tracengent.options import TracengentOptions
    from tracengent import TracengentClient

    client = TracengentClient(
        TracengentOptions(
            agent_id="a", base_url="http://127.0.0.1:9", client_id="k", client_secret="s"
        )
    )
    try:
        assert isinstance(client.recorder.span_tracer, DirectTracer)
        assert client._governance.tracer is client.recorder.span_tracer
    finally:
        client.close()


def test_attributes_of_gives_an_ended_event_spans_own_dict_which_nothing_changes() -> None:
    provider = TracerProvider()
    recorder, memory, _ = _pipeline(provider)
    live: list[Span] = []

    def refund() -> int:
        live.append(otel_trace.get_current_span())
        return 7

    with begin_trace(recorder, "refund", "u-1") as trace:
        trace.track_action("refund", refund, input={"order": 1})
    span = _only(memory, "refund")
    attrs = A.attributes_of(span)
    # Not copied: the finished span's plain dict itself, read by the exporter as it is.
    assert attrs is span._attributes
    assert type(attrs) is dict
    before = dict(attrs)
    # Once ended the live span ignores writes, so the dict the exporter reads cannot change.
    live[0].set_attribute("late", "value")
    live[0].set_attributes({A.INPUT: "changed"})
    assert attrs == before
    provider.shutdown()


def test_attributes_of_copies_the_sdks_own_span_attributes() -> None:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("sdk").start_as_current_span("plain", attributes={"k": 1}):
        pass
    (span,) = memory.get_finished_spans()
    attrs = A.attributes_of(span)
    assert type(attrs) is dict
    assert attrs == {"k": 1}
    attrs["k"] = 2  # the copy is the caller's: the span keeps its value
    assert (span.attributes or {})["k"] == 1
    provider.shutdown()


class _Counting(SpanProcessor):
    """Counts each hook it overrides; `on_start` and `_on_ending` are left to `SpanProcessor`."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name

    def on_end(self, span: ReadableSpan) -> None:
        self.log.append(f"{self.name}.on_end {span.name}")


class _Starting(_Counting):
    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        self.log.append(f"{self.name}.on_start {span.name}")


def test_processors_run_in_order_and_one_added_later_is_called_too() -> None:
    provider = TracerProvider()
    log: list[str] = []
    provider.add_span_processor(_Starting(log, "a"))
    _, factory, _ = _exporting(provider, "hooks")
    factory.start("first", None, SpanKind.INTERNAL, {}).end()
    provider.add_span_processor(_Starting(log, "b"))
    factory.start("second", None, SpanKind.INTERNAL, {}).end()
    factory.emit("point", {}, None, False)
    assert log == [
        "a.on_start first",
        "a.on_end first",
        "a.on_start second",
        "b.on_start second",
        "a.on_end second",
        "b.on_end second",
        "a.on_end point",
        "b.on_end point",
    ]
    provider.shutdown()


def test_hooks_a_processor_inherits_from_span_processor_are_not_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = TracerProvider()
    log: list[str] = []
    inherited: list[str] = []
    counting = _Counting(log, "ends-only")
    provider.add_span_processor(counting)
    _, factory, _ = _exporting(provider, "hooks")
    # SpanProcessor's own hooks do nothing; calling them would show here.
    monkeypatch.setattr(
        SpanProcessor, "on_start", lambda self, span, parent_context=None: inherited.append("start")
    )
    monkeypatch.setattr(SpanProcessor, "_on_ending", lambda self, span: inherited.append("ending"))
    factory.start("call", None, SpanKind.INTERNAL, {}).end()
    assert log == ["ends-only.on_end call"]
    _, starts, endings, ends = factory.hooks()

    def owners(hooks: Sequence[object]) -> list[object]:
        return [getattr(hook, "__self__", None) for hook in hooks]

    # The memory exporter's SimpleSpanProcessor overrides on_start itself; `counting` does not.
    assert owners(starts) == [provider._active_span_processor._span_processors[1]]
    assert counting not in owners(endings)
    assert owners(ends)[0] is counting
    assert inherited == []
    provider.shutdown()


def test_another_multi_processor_is_called_as_a_whole() -> None:
    from opentelemetry.sdk.trace import ConcurrentMultiSpanProcessor

    log: list[str] = []
    multi = ConcurrentMultiSpanProcessor(num_threads=1)
    multi.add_span_processor(_Starting(log, "c"))
    provider = TracerProvider(active_span_processor=multi)
    tracer = provider.get_tracer("hooks")
    factory = DirectSpans.for_tracer(tracer, ContextProcessor())
    assert factory is not None
    factory.start("call", None, SpanKind.INTERNAL, {}).end()
    assert log == ["c.on_start call", "c.on_end call"]
    assert factory.hooks()[1] == (multi.on_start,)
    provider.shutdown()
