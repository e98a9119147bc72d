"""Review of `EventSpan` / `DirectSpans` / `DirectTracer` against the SDK's own tracer and span.

Each test runs the same calls on a span the SDK's `Tracer.start_span` made and on one
`DirectSpans.start` made (each on a fresh provider with the same settings), and compares what a
processor or exporter can see: the span in `on_start`, the hooks called, and the `ReadableSpan`
in `on_end`. The behaviours covered here are the ones `test_direct_spans.py` does not cover.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
    _disable_tracer_configurator,
)
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.sdk.util.instrumentation import InstrumentationInfo
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from opentelemetry.util.types import Attributes, AttributeValue

from tracengent._direct_spans import DirectSpans, DirectTracer, EventSpan
from tracengent._processors.context import ContextProcessor

Operation = Callable[[Span], None]


@dataclass
class _Capture(SpanProcessor):
    """Keeps what every hook received, and a snapshot of the span as `on_start` saw it."""

    started: list[SdkSpan] = field(default_factory=list)
    start_views: list[dict[str, object]] = field(default_factory=list)
    ending: list[SdkSpan] = field(default_factory=list)
    ended: list[ReadableSpan] = field(default_factory=list)
    on_start_hook: Callable[[SdkSpan], None] | None = None

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        self.started.append(span)
        self.start_views.append(_view(span))
        if self.on_start_hook is not None:
            self.on_start_hook(span)

    def _on_ending(self, span: SdkSpan) -> None:
        self.ending.append(span)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


def _view(span: SdkSpan) -> dict[str, object]:
    """What a processor reads from the live span in `on_start`."""
    context = span.get_span_context()
    status = span.status
    return {
        "name": span.name,
        "trace_flags": context.trace_flags,
        "trace_state": context.trace_state,
        "is_remote": context.is_remote,
        "parent": span.parent,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "start_time_set": span.start_time is not None,
        "end_time": span.end_time,
        "status": (status.status_code, status.description),
        "resource": span.resource,
        "scope": span.instrumentation_scope,
        "events": list(span.events),
        "links": list(span.links),
        "recording": span.is_recording(),
    }


class _CountingIds(IdGenerator):
    """The same ids on every provider, so two runs can be compared to the byte."""

    def __init__(self) -> None:
        self._next = 0

    def generate_span_id(self) -> int:
        self._next += 1
        return self._next

    def generate_trace_id(self) -> int:
        return 0xABC

    def is_trace_id_random(self) -> bool:
        return False


@dataclass
class _Setup:
    provider: TracerProvider
    tracer: SdkTracer
    factory: DirectSpans
    capture: _Capture


def _setup(
    *,
    limits: SpanLimits | None = None,
    sampler: Sampler | None = None,
    scope_attributes: Attributes = None,
    ids: IdGenerator | None = None,
    hook: Callable[[SdkSpan], None] | None = None,
) -> _Setup:
    provider = TracerProvider(
        span_limits=limits, sampler=sampler, id_generator=ids, shutdown_on_exit=False
    )
    capture = _Capture(on_start_hook=hook)
    provider.add_span_processor(capture)
    tracer = provider.get_tracer("review", "1.0", None, scope_attributes)
    assert isinstance(tracer, SdkTracer)
    factory = DirectSpans.for_tracer(tracer, ContextProcessor())
    assert factory is not None
    return _Setup(provider, tracer, factory, capture)


def _start(setup: _Setup, direct: bool, parent: Context | None = None) -> Span:
    if direct:
        span = setup.factory.start("op", parent, SpanKind.CLIENT, {"start": "yes"})
        assert isinstance(span, EventSpan)
        return span
    return setup.tracer.start_span(
        "op", context=parent, kind=SpanKind.CLIENT, attributes={"start": "yes"}
    )


def _run_both(
    operations: Sequence[Operation],
    *,
    limits: SpanLimits | None = None,
    sampler: Sampler | None = None,
    scope_attributes: Attributes = None,
    ids: IdGenerator | None = None,
    hook: Callable[[SdkSpan], None] | None = None,
    end_time: int | None = None,
) -> tuple[_Setup, _Setup]:
    """The same calls on an SDK span and an `EventSpan`, each ended on its own provider."""
    setups: list[_Setup] = []
    for direct in (False, True):
        setup = _setup(
            limits=limits, sampler=sampler, scope_attributes=scope_attributes, ids=ids, hook=hook
        )
        span = _start(setup, direct)
        for operation in operations:
            operation(span)
        span.end(end_time)
        setup.provider.shutdown()
        setups.append(setup)
    return setups[0], setups[1]


def _ended(
    operations: Sequence[Operation], *, limits: SpanLimits | None = None
) -> tuple[ReadableSpan, ReadableSpan]:
    sdk, direct = _run_both(operations, limits=limits)
    (sdk_span,) = sdk.capture.ended
    (direct_span,) = direct.capture.ended
    return sdk_span, direct_span


def _link(span_id: int, attributes: Attributes = None) -> Operation:
    return lambda s: s.add_link(SpanContext(0x1, span_id, is_remote=True), attributes)


def _links(span: ReadableSpan) -> list[tuple[int, dict[str, object]]]:
    return [(link.context.span_id, dict(link.attributes or {})) for link in span.links]


# --- span limits -------------------------------------------------------------------------------


def test_events_over_the_limit_are_counted_as_dropped() -> None:
    """OTLP exports `dropped_events_count`: the SDK keeps a `BoundedList` that counts them."""
    sdk, direct = _ended(
        [lambda s, i=i: s.add_event(f"e{i}", timestamp=i) for i in range(4)],  # type: ignore[misc]
        limits=SpanLimits(max_events=2),
    )
    assert [e.name for e in direct.events] == [e.name for e in sdk.events] == ["e2", "e3"]
    assert sdk.dropped_events == 2
    assert direct.dropped_events == sdk.dropped_events


def test_a_zero_event_limit_keeps_no_events() -> None:
    """`SpanLimits(max_events=0)` (or `OTEL_SPAN_EVENT_COUNT_LIMIT=0`) keeps no events."""
    sdk, direct = _ended(
        [lambda s: s.add_event("a"), lambda s: s.add_event("b")],
        limits=SpanLimits(max_events=0),
    )
    assert len(sdk.events) == 0
    assert [e.name for e in direct.events] == [e.name for e in sdk.events]


def test_added_links_are_capped_and_counted_as_the_sdk_does() -> None:
    sdk, direct = _ended([_link(1), _link(2), _link(3)], limits=SpanLimits(max_links=1))
    assert _links(sdk) == [(3, {})]
    assert sdk.dropped_links == 2
    assert _links(direct) == _links(sdk)
    assert direct.dropped_links == sdk.dropped_links


def test_link_attributes_are_capped_as_the_sdk_does() -> None:
    sdk, direct = _ended(
        [_link(1, {"a": 1, "b": 2, "c": 3})], limits=SpanLimits(max_link_attributes=1)
    )
    assert _links(sdk) == [(1, {"c": 3})]
    assert _links(direct) == _links(sdk)


def test_the_attribute_count_limit_counts_drops_as_the_sdk_does() -> None:
    sdk, direct = _ended(
        [lambda s: s.set_attributes({"a": 1, "b": 2, "c": 3})],
        limits=SpanLimits(max_span_attributes=2),
    )
    assert dict(sdk.attributes or {}) == {"b": 2, "c": 3}
    assert dict(direct.attributes or {}) == dict(sdk.attributes or {})
    assert direct.dropped_attributes == sdk.dropped_attributes == 2


def test_an_overwritten_attribute_counts_as_newest_for_the_count_limit() -> None:
    """The SDK moves a re-set key to the newest place; the oldest key is the one evicted."""
    sdk, direct = _ended(
        [
            lambda s: s.set_attribute("b", 2),
            lambda s: s.set_attribute("start", "again"),
            lambda s: s.set_attribute("c", 3),
        ],
        limits=SpanLimits(max_span_attributes=2),
    )
    assert dict(sdk.attributes or {}) == {"start": "again", "c": 3}
    assert dict(direct.attributes or {}) == dict(sdk.attributes or {})


def test_an_overwritten_attribute_moves_last_in_the_attribute_order() -> None:
    """Without limits the order only shows in iteration (e.g. `to_json`)."""
    sdk, direct = _ended([lambda s: s.set_attribute("b", 2), lambda s: s.set_attribute("start", 1)])
    assert list(sdk.attributes or {}) == ["b", "start"]
    assert list(direct.attributes or {}) == list(sdk.attributes or {})


def test_on_start_sees_the_attributes_within_the_count_limit() -> None:
    sdk, direct = _run_both([], limits=SpanLimits(max_span_attributes=0))
    assert sdk.capture.start_views[0]["attributes"] == {}
    assert direct.capture.start_views[0]["attributes"] == sdk.capture.start_views[0]["attributes"]


def test_invalid_attribute_keys_are_counted_as_dropped() -> None:
    sdk, direct = _ended(
        [
            lambda s: s.set_attribute("", "empty key"),
            lambda s: s.set_attributes({"": 1, "ok": 2}),
        ]
    )
    assert dict(direct.attributes or {}) == dict(sdk.attributes or {}) == {"start": "yes", "ok": 2}
    assert sdk.dropped_attributes == 2
    assert direct.dropped_attributes == sdk.dropped_attributes


# --- links, status, attribute values -----------------------------------------------------------


def test_a_link_to_an_invalid_context_with_attributes_is_kept() -> None:
    """The SDK keeps a link whose context is invalid when it has attributes or trace state."""
    invalid = SpanContext(0, 0, is_remote=False)
    with_state = SpanContext(0, 0, is_remote=False, trace_state=TraceState([("k", "v")]))
    sdk, direct = _ended(
        [
            lambda s: s.add_link(invalid, {"reason": "unknown parent"}),
            lambda s: s.add_link(with_state),
            lambda s: s.add_link(invalid),
        ]
    )
    assert [dict(link.attributes or {}) for link in sdk.links] == [{"reason": "unknown parent"}, {}]
    assert [(link.context, dict(link.attributes or {})) for link in direct.links] == [
        (link.context, dict(link.attributes or {})) for link in sdk.links
    ]


def test_set_status_on_an_ended_span_is_ignored() -> None:
    """A processor that kept the span from `on_start` reads its status after the end."""
    sdk, direct = _run_both([])
    for setup in (sdk, direct):
        (span,) = setup.capture.started
        span.set_status(StatusCode.ERROR, "late")
    assert sdk.capture.started[0].status.status_code is StatusCode.UNSET
    assert direct.capture.ended[0].status.status_code is StatusCode.UNSET
    assert direct.capture.started[0].status.status_code is StatusCode.UNSET


@pytest.mark.parametrize(
    "calls",
    [
        [(StatusCode.OK, "ignored for OK")],
        [(Status(StatusCode.ERROR, "from status"), "ignored beside a Status")],
        [(StatusCode.ERROR, "first"), (StatusCode.ERROR, "second")],
        [(StatusCode.ERROR, "first"), (StatusCode.OK, None), (StatusCode.ERROR, "after OK")],
        [(Status(StatusCode.UNSET), None), (StatusCode.UNSET, "unset")],
    ],
)
def test_status_description_rules_are_the_sdks(
    calls: list[tuple[Status | StatusCode, str | None]],
) -> None:
    sdk, direct = _ended(
        [lambda s, c=c, d=d: s.set_status(c, d) for c, d in calls]  # type: ignore[misc]
    )
    assert (direct.status.status_code, direct.status.description) == (
        sdk.status.status_code,
        sdk.status.description,
    )


class _NoStr:
    __slots__ = ()


class _Text(str):
    __slots__ = ()


_VALUES: dict[str, object] = {
    "none": None,
    "bytes": b"\x00\x01",
    "tuple with none": ("a", None),
    "nested mapping": {"a": {"b": [1, 2]}},
    "object with str": Decimal("1.5"),
    "object without str": _NoStr(),
    "str subclass": _Text("text"),
    "int enum": TraceFlags(1),
    "list": [1.5, 2.5],
}


@pytest.mark.parametrize("name", sorted(_VALUES))
def test_attribute_values_are_cleaned_as_the_sdk_does(name: str) -> None:
    value = _VALUES[name]
    sdk, direct = _ended(
        [
            lambda s: s.set_attribute("one", value),  # type: ignore[arg-type]
            lambda s: s.set_attributes({"many": value}),  # type: ignore[dict-item]
            lambda s: s.add_event("e", {"event": value}, timestamp=1),  # type: ignore[dict-item]
        ]
    )
    assert dict(direct.attributes or {}) == dict(sdk.attributes or {})
    assert [dict(e.attributes or {}) for e in direct.events] == [
        dict(e.attributes or {}) for e in sdk.events
    ]
    assert direct.dropped_attributes == sdk.dropped_attributes


# --- the sampler -------------------------------------------------------------------------------


@dataclass
class _Adding(Sampler):
    """Samples, adding attributes of its own (in any mapping), and keeps what it was asked."""

    added: Mapping[str, object]
    asked_links: list[Sequence[Link] | None] = field(default_factory=list)

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
        self.asked_links.append(links)
        merged = {**(attributes or {}), **self.added}
        return SamplingResult(Decision.RECORD_AND_SAMPLE, merged)  # type: ignore[arg-type]

    def get_description(self) -> str:
        return "Adding"


def test_a_samplers_attributes_are_cleaned_as_the_sdk_does() -> None:
    added = {"rule.ids": [1, 2], "rule.obj": Decimal("1.5"), "": "no key"}
    sdk, direct = _run_both([], sampler=_Adding(added))
    expected = dict(sdk.capture.ended[0].attributes or {})
    assert expected["rule.ids"] == (1, 2)
    assert expected["rule.obj"] == "1.5"
    assert "" not in expected
    assert dict(direct.capture.ended[0].attributes or {}) == expected


class _Frozen(Mapping[str, AttributeValue]):
    """A read-only mapping without `copy` (a sampler may return any `Mapping`)."""

    def __init__(self, data: dict[str, AttributeValue]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> AttributeValue:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class _FrozenResult(Sampler):
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
        return SamplingResult(Decision.RECORD_AND_SAMPLE, _Frozen({"rule": "frozen"}))

    def get_description(self) -> str:
        return "Frozen"


def test_a_samplers_attributes_in_any_mapping_are_used() -> None:
    sdk, direct = _run_both([], sampler=_FrozenResult())
    assert (sdk.capture.ended[0].attributes or {})["rule"] == "frozen"
    assert (direct.capture.ended[0].attributes or {})["rule"] == "frozen"


def test_the_sampler_is_given_the_links_the_sdk_gives_it() -> None:
    """A sampler may iterate `links`: the SDK always passes a sequence (`()` for none)."""
    sampler = _Adding({})
    _run_both([], sampler=sampler)  # the SDK side asks first
    sdk_links, direct_links = sampler.asked_links
    assert sdk_links == ()
    assert direct_links == sdk_links


# --- the tracer's scope and resource -------------------------------------------------------------


def test_the_scopes_attributes_are_kept() -> None:
    """OTLP groups spans by scope: a scope without its attributes is another scope."""
    sdk, direct = _run_both([], scope_attributes={"team": "payments"})
    sdk_scope = sdk.capture.ended[0].instrumentation_scope
    direct_scope = direct.capture.ended[0].instrumentation_scope
    assert sdk_scope is not None
    assert direct_scope is not None
    assert dict(sdk_scope.attributes or {}) == {"team": "payments"}
    assert direct_scope == sdk_scope
    assert direct.capture.start_views[0]["scope"] == sdk.capture.start_views[0]["scope"]


def test_the_deprecated_instrumentation_info_is_set() -> None:
    sdk, direct = _run_both([])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sdk_info = sdk.capture.ended[0].instrumentation_info
        direct_info = direct.capture.ended[0].instrumentation_info
    assert isinstance(sdk_info, InstrumentationInfo)
    assert direct_info == sdk_info


def test_a_resource_update_reaches_later_spans() -> None:
    """The provider merges updates into every tracer's resource (`_handle_fork` does this)."""
    sdk, direct = _setup(), _setup()
    for setup in (sdk, direct):
        setup.provider._update_resource(Resource({"process.pid": 4242}))
    _start(sdk, False).end()
    _start(direct, True).end()
    assert sdk.capture.ended[0].resource.attributes["process.pid"] == 4242
    assert direct.capture.ended[0].resource.attributes.get("process.pid") == 4242


_FORKING_SCRIPT = """
import json, os, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tracengent._direct_spans import DirectSpans
from tracengent._processors.context import ContextProcessor

provider = TracerProvider(shutdown_on_exit=False)
memory = InMemorySpanExporter()
provider.add_span_processor(SimpleSpanProcessor(memory))
tracer = provider.get_tracer("review")
factory = DirectSpans.for_tracer(tracer, ContextProcessor())
before = tracer.resource.attributes["service.instance.id"]
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        tracer.start_span("sdk").end()
        factory.start("direct", None, SpanKind.INTERNAL, {}).end()
        ids = [s.resource.attributes["service.instance.id"] for s in memory.get_finished_spans()]
        os.write(write, json.dumps(ids).encode())
    finally:
        os._exit(0)
os.close(write)
with os.fdopen(read) as pipe:
    sdk_id, direct_id = json.loads(pipe.read())
os.waitpid(pid, 0)
print(json.dumps({"before": before, "sdk": sdk_id, "direct": direct_id}))
"""


def test_after_a_fork_spans_carry_the_childs_service_instance_id() -> None:
    """The SDK gives a forked child (a pre-forking server's worker) a new `service.instance.id`.

    Forked in a fresh interpreter: forking pytest's own process, with its threads, could hang.
    """
    done = subprocess.run(
        [sys.executable, "-c", _FORKING_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ids = json.loads(done.stdout)
    assert ids["sdk"] != ids["before"]
    assert ids["direct"] == ids["sdk"]


# --- what processors see -----------------------------------------------------------------------


def _parent() -> Context:
    parent = SpanContext(
        0xABC,
        0xDEF,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "v")]),
    )
    return otel_trace.set_span_in_context(NonRecordingSpan(parent))


def test_on_start_sees_what_it_sees_of_an_sdk_span() -> None:
    views: list[dict[str, object]] = []
    for direct in (False, True):
        setup = _setup()
        span = _start(setup, direct, _parent())
        span.end()
        views.append(setup.capture.start_views[0])
    assert views[1] == views[0]


def test_on_start_gets_what_a_readable_span_offers() -> None:
    """Processors may read the started span as the SDK's read-only view (the README says it is
    not an instance of the SDK's classes): the dropped counts and `to_json`."""
    seen = []
    for direct in (False, True):
        setup = _setup()
        span = _start(setup, direct)
        span.set_attribute("", "invalid key")
        (started,) = setup.capture.started
        seen.append(
            (
                started.dropped_attributes,
                started.dropped_events,
                started.dropped_links,
                json.loads(started.to_json())["name"],
            )
        )
        span.end()
    assert seen[1] == seen[0]
    assert seen[0][0] == 1
    assert seen[0][3] == "op"


def test_the_on_ending_hook_runs_before_on_end() -> None:
    """`SpanProcessor._on_ending` (the SDK's OnEnding hook) gets the span before it is read."""
    sdk, direct = _run_both([])
    assert len(sdk.capture.ending) == 1
    assert len(direct.capture.ending) == len(sdk.capture.ending)


def _mutate_on_start(span: SdkSpan) -> None:
    span.update_name("renamed by processor")
    span.set_attribute("stamped", ["a", "b"])
    span.add_event("stamped", {"n": 1}, timestamp=7)
    span.set_status(StatusCode.ERROR, "from on_start")


def test_what_on_start_changes_reaches_on_end() -> None:
    sdk, direct = _run_both([], hook=_mutate_on_start)
    expected, actual = sdk.capture.ended[0], direct.capture.ended[0]
    assert actual.name == expected.name == "renamed by processor"
    assert dict(actual.attributes or {}) == dict(expected.attributes or {})
    assert [(e.name, dict(e.attributes or {}), e.timestamp) for e in actual.events] == [
        (e.name, dict(e.attributes or {}), e.timestamp) for e in expected.events
    ]
    assert (actual.status.status_code, actual.status.description) == (
        expected.status.status_code,
        expected.status.description,
    )


def _strip_start_time(text: str) -> dict[str, object]:
    loaded = json.loads(text)
    assert isinstance(loaded, dict)
    assert loaded.pop("start_time") is not None
    return loaded


def test_to_json_is_the_sdks() -> None:
    operations: list[Operation] = [
        lambda s: s.set_attributes({"n": 1, "tags": ("a", "b")}),
        lambda s: s.add_event("checkpoint", {"k": "v"}, timestamp=1_700_000_000_000_000_000),
        _link(9, {"why": "retry"}),
        lambda s: s.set_status(StatusCode.ERROR, "broken"),
    ]
    texts: list[str] = []
    for direct in (False, True):
        setup = _setup(ids=_CountingIds())
        span = _start(setup, direct, _parent())
        for operation in operations:
            operation(span)
        span.end(1_700_000_000_500_000_000)
        texts.append(setup.capture.ended[0].to_json())
    assert _strip_start_time(texts[1]) == _strip_start_time(texts[0])


def test_end_time_is_kept_and_a_second_end_warns_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for direct in (False, True):
        setup = _setup()
        span = _start(setup, direct)
        span.end(end_time=123)
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            span.end(end_time=456)
        assert [s.end_time for s in setup.capture.ended] == [123]
        assert not span.is_recording()
        assert any("end() on an ended span" in r.getMessage() for r in caplog.records)


def test_repr_and_span_context_are_the_sdks() -> None:
    spans = [_start(_setup(ids=_CountingIds()), direct) for direct in (False, True)]
    sdk, direct = spans
    assert direct.get_span_context() == sdk.get_span_context()
    assert repr(direct).replace("EventSpan", "_Span") == repr(sdk)


def test_a_tracer_disabled_by_the_configurator_records_nothing() -> None:
    setup = _setup()
    setup.provider._set_tracer_configurator(tracer_configurator=_disable_tracer_configurator)
    parent = _parent()
    sdk = setup.tracer.start_span("sdk", context=parent)
    direct = setup.factory.start("direct", parent, SpanKind.INTERNAL, {})
    setup.factory.emit("point", {}, parent, failed=False)
    facade = DirectTracer(setup.tracer, setup.factory).start_span("facade", context=parent)
    for span in (sdk, direct, facade):
        assert type(span) is NonRecordingSpan
        assert span.get_span_context() == sdk.get_span_context()
    assert setup.capture.started == []
    assert setup.capture.ended == []


def test_after_the_provider_shuts_down_nothing_is_exported() -> None:
    exported: list[int] = []
    for direct in (False, True):
        setup = _setup()
        memory = InMemorySpanExporter()
        setup.provider.add_span_processor(SimpleSpanProcessor(memory))
        setup.provider.shutdown()
        _start(setup, direct).end()
        exported.append(len(memory.get_finished_spans()))
    assert exported == [0, 0]


def test_concurrent_changes_all_reach_the_ended_span() -> None:
    setup = _setup(limits=SpanLimits(max_span_attributes=SpanLimits.UNSET, max_events=2000))
    span = _start(setup, True)
    barrier = threading.Barrier(8)

    def change(n: int) -> None:
        barrier.wait()
        for i in range(200):
            span.set_attribute(f"t{n}.{i}", i)
            span.add_event(f"t{n}.{i}")

    threads = [threading.Thread(target=change, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    span.end()
    (ended,) = setup.capture.ended
    assert len(ended.attributes or {}) == 1 + 8 * 200
    assert len(ended.events) == 8 * 200


# --- DirectTracer --------------------------------------------------------------------------------


@pytest.mark.parametrize("direct", [False, True])
async def test_start_as_current_span_decorates_a_coroutine_function(direct: bool) -> None:
    """The SDK's decorator keeps the span current (and open) while the coroutine runs."""
    setup = _setup()
    tracer: otel_trace.Tracer = (
        DirectTracer(setup.tracer, setup.factory) if direct else setup.tracer
    )
    inside: list[tuple[str, bool]] = []

    @tracer.start_as_current_span("work")
    async def work() -> int:
        await asyncio.sleep(0)
        current = otel_trace.get_current_span()
        inside.append((repr(current), current.is_recording()))
        return 1

    assert await work() == 1
    assert inside[0][1], inside[0][0]
    (ended,) = setup.capture.ended
    assert ended.name == "work"
