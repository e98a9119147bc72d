"""Event spans started without the SDK's general-purpose `Span`, for the recorder's hot path.

The recorder knows everything about the spans it starts for events: their attribute keys are its
own, their values nearly always plain scalars (strings, numbers, booleans), and few. A value
that is not (one the agent handed over: a tuple of tags, an object in an `AgentEvent`) is
cleaned as the SDK's span cleans it: converted to text, or dropped and counted. The SDK's span
machinery (a validating bounded mapping, a lock per span, a second read-only copy at end) is
built for arbitrary instrumentation and is most of the cost of an event. `DirectSpans` does for
the recorder what `Tracer.start_span` does, with the tracer's own parts: the parent from the
context, the tracer's sampler (drop, record-only, added attributes and trace state honoured),
its id generator (and the random-trace-id flag), its resource as it is now (the provider
replaces it after a fork), scope and span limits, and the tracer configurator when present. The
SDK keeps the limits, the scope's attributes and the configurator's verdict in private fields
only: they are read with a fallback when absent. The spans it makes are handed to the tracer's
span processors exactly as the SDK does:

- `start` returns an `EventSpan`, a complete `opentelemetry.trace.Span` (attributes validated,
  counted and capped as the SDK does; events and links capped and counted; status, exceptions,
  name updates) that the processors see in `on_start`; as it ends they get it in the OnEnding
  hook when the SDK has one, then a `RecordedSpan` (a `ReadableSpan` that also names the payload
  texts the recorder wrote with orjson, which the exporter embeds unread) in `on_end`.
- `emit` records a point event (a step, a recorded `AgentEvent`): it starts and ends at one
  instant and never has children, so it is built as a finished `RecordedSpan` and only `on_end`
  sees it.

With the SDK's synchronous processor list (its default), the processors are called one by one,
in their order, without the hooks a processor inherits from `SpanProcessor` (which do nothing);
any other span processor is called as a whole, as the SDK calls it.

`DirectSpans.for_tracer` returns None, and the recorder uses `Tracer.start_span`, for anything
that is not an SDK tracer, whose limits would change our attributes (a length limit), or whose
spans the SDK counts in its own metrics (`OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true`: the
`otel.sdk.span.started`/`.live` counts are kept by `Tracer.start_span` and `Span.end`).
`DirectTracer` offers the same to the SDK's other span makers (governance spans) as a `Tracer`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, ParamSpec, TypeAlias, TypeVar, cast

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
)
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import DEFAULT_ON, Decision, Sampler
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    get_current_span,
    use_span,
)
from opentelemetry.util import types

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._span_reads import RecordedSpan
from tracengent._sampler import OWN_PROVIDER_DEFAULT

if TYPE_CHECKING:
    from types import TracebackType

    from tracengent._processors.context import ContextProcessor

__all__ = [
    "CurrentSpan",
    "DirectSpans",
    "DirectTracer",
    "EventSpan",
    "RecordedAttributes",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_LOGGER = logging.getLogger("tracengent.trace")

_ERROR_STATUS: Final = Status(StatusCode.ERROR)
_UNSET_STATUS: Final = Status(StatusCode.UNSET)
_SAMPLED: Final = TraceFlags.SAMPLED
# The W3C level-2 "random trace id" flag: SDKs before it (we support >= 1.30) have no such flag.
_RANDOM: Final[int] = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)
# What the SDK's attribute validation returns unchanged when no length limit is set.
_PLAIN_VALUES: Final = frozenset({str, bool, int, float})
_NO_LINKS: Final[tuple[Link, ...]] = ()
_NO_TEXTS: Final[tuple[str, ...]] = ()


class RecordedAttributes(dict[str, types.AttributeValue]):
    """The recorder's start attributes of one span, and the payload texts orjson wrote in them.

    `Recorder.payload` adds to `json_texts` only text orjson wrote; the span started from these
    attributes names them on its finished `RecordedSpan`, so the exporter embeds them unread.
    No `__init__` of its own: made at dict's C speed, `json_texts` set only when there is one.

    `agent_values` is set by the recorder when it put in values as the agent handed them over
    (an `AgentEvent`'s fields, a cost that is not a `Money`): `DirectSpans` then checks every
    value and cleans, as the SDK's span cleans them, those that are not plain scalars. Left
    False, the values are the recorder's own (texts, numbers and booleans it made, the context
    processor's stamps) and go unchecked: the hot path, which pays nothing for the check.
    """

    json_texts: tuple[str, ...] = ()
    agent_values: bool = False


_Hooks: TypeAlias = tuple[
    tuple[SpanProcessor, ...] | None,
    tuple[Callable[..., None], ...],
    tuple[Callable[[SdkSpan], None], ...],
    tuple[Callable[[ReadableSpan], None], ...],
]
"""`(the processors read, on_start hooks, OnEnding hooks, on_end hooks)`."""


def _active_hooks(processors: tuple[SpanProcessor, ...]) -> _Hooks:
    """The hooks of `processors` that are not `SpanProcessor`'s own (which do nothing)."""
    base_ending = getattr(SpanProcessor, "_on_ending", None)
    starts = tuple(p.on_start for p in processors if type(p).on_start is not SpanProcessor.on_start)
    endings = tuple(
        p._on_ending
        for p in processors
        if base_ending is not None
        and getattr(type(p), "_on_ending", base_ending) is not base_ending
    )
    ends = tuple(p.on_end for p in processors if type(p).on_end is not SpanProcessor.on_end)
    return processors, starts, endings, ends


# The SDK's words for a change to an ended span (with the name of the method).
_ENDED: Final = "Tried calling %s on an ended span."
# Recent SDKs name it in `opentelemetry.sdk.environment_variables`; older ones (we support >= 1.30)
# keep no such metrics, and the variable then only sends our spans through `start_span`.
_SDK_INTERNAL_METRICS: Final = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"


# What says what a span is: evicted last when the attribute count limit is low, so an event stays
# an event (the SDK evicts the oldest first, and the event type is set first).
_KEPT_LONGEST: Final = frozenset(
    {
        A.EVENT_TYPE,
        A.EVENT_ID,
        A.EVENT_NAME,
        A.EVENT_STATUS,
        A.EVENT_PARENT_ID,
        A.EVENT_INSTANT,
        A.TRACE_ID,
        A.TRACE_STATUS,
        A.TRACE_ROOT_REQUEST,
        A.GOVERNANCE_KIND,
        A.TRACKED,
        A.GEN_AI_OPERATION_NAME,
        A.GEN_AI_AGENT_ID,
    }
)


def trim_attributes(attributes: dict[str, types.AttributeValue], limit: int) -> int:
    """Drop attributes beyond `limit` in place: the oldest others first, then (only when the
    structural ones alone exceed the limit) the oldest structural ones. How many went."""
    excess = len(attributes) - limit
    if excess <= 0:
        return 0
    for key in [key for key in attributes if key not in _KEPT_LONGEST][:excess]:
        del attributes[key]
    while len(attributes) > limit:
        del attributes[next(iter(attributes))]
    return excess


class DirectSpans:
    """Starts the recorder's event spans on an SDK tracer (see the module docstring).

    Args:
        tracer: an SDK tracer (see the module docstring for what is read of it).
        limits: the tracer's span limits (without a length limit).
        context: the context processor on the tracer's provider (point events' stamps).
    """

    def __init__(self, tracer: SdkTracer, limits: SpanLimits, context: ContextProcessor) -> None:
        self._context = context
        self._sampler = tracer.sampler
        # The SDK's default sampler (the `parentbased_always_on` instance, no other): its
        # decision is the parent's sampled flag, or sample a new trace; made here without the
        # two sampler calls and their context look-ups, exactly as it makes it.
        # A client's own provider under the default (`OWN_PROVIDER_DEFAULT`) is decided so too
        # wherever the default samples; below a parent someone else sampled out (a remote
        # `traceparent` ending `-00`) the sampler decides: a decision span is kept (decision
        # traces are never lost to sampling), any other is dropped, as the default would.
        self._parent_based_on = self._sampler is DEFAULT_ON or self._sampler is OWN_PROVIDER_DEFAULT
        self._deciding: Sampler = (
            OWN_PROVIDER_DEFAULT if self._sampler is DEFAULT_ON else self._sampler
        )
        self._ids = tracer.id_generator
        # Read per span: the provider replaces it after a fork (a new `service.instance.id`).
        self._tracer = tracer
        self.processor = tracer.span_processor
        # Recent SDKs hand an ending span to their processors' OnEnding hook before `on_end`.
        ending = getattr(self.processor, "_on_ending", None)
        self._fixed_hooks: _Hooks = (
            None,
            (self.processor.on_start,),
            (ending,) if callable(ending) else (),
            (self.processor.on_end,),
        )
        # The SDK's own synchronous processor list: its processors are called one by one here,
        # without its loop's frame, and without the hooks they inherit from `SpanProcessor`.
        self._multi: SynchronousMultiSpanProcessor | None = (
            self.processor
            if self.processor.__class__ is SynchronousMultiSpanProcessor
            and isinstance(getattr(self.processor, "_span_processors", None), tuple)
            else None
        )
        self._hooks: _Hooks = (None, (), (), ())
        self.info = tracer.instrumentation_info
        scope = getattr(tracer, "_instrumentation_scope", None)
        self.scope: InstrumentationScope = (
            scope
            if isinstance(scope, InstrumentationScope)
            else InstrumentationScope(self.info.name, self.info.version, self.info.schema_url)
        )
        self.max_attributes: int | None = limits.max_span_attributes
        self.max_events: int | None = limits.max_events
        self.max_event_attributes: int | None = limits.max_event_attributes
        self.max_links: int | None = limits.max_links
        self.max_link_attributes: int | None = limits.max_link_attributes
        # The SDK's (experimental) tracer configurator can disable a tracer: honour it.
        enabled = getattr(tracer, "_is_enabled", None)
        self._enabled: Callable[[], bool] | None = enabled if callable(enabled) else None
        is_random = getattr(self._ids, "is_trace_id_random", None) if _RANDOM else None
        self._new_ids_random: bool = bool(is_random()) if callable(is_random) else False

    @classmethod
    def for_tracer(cls, tracer: object, context: ContextProcessor | None) -> DirectSpans | None:
        """A `DirectSpans` for `tracer`, or None when spans must go through `start_span`.

        None for a tracer that is not the SDK's, without a context processor, when the
        tracer's limits cap attribute lengths (the SDK would truncate our payloads; we never do),
        or when the SDK's internal span metrics are on (only its own spans are counted there).
        """
        if context is None or not isinstance(tracer, SdkTracer) or _sdk_counts_spans():
            return None
        limits = getattr(tracer, "_span_limits", None)
        if not isinstance(limits, SpanLimits):
            limits = SpanLimits()
        if limits.max_attribute_length is not None or limits.max_span_attribute_length is not None:
            return None
        return cls(tracer, limits, context)

    def hooks(self) -> _Hooks:
        """`(processors, on_start hooks, OnEnding hooks, on_end hooks)` of the tracer's span
        processors, in their order: what the SDK's processor would call, without the hooks a
        processor inherits from `SpanProcessor` (they do nothing). Re-read when the provider's
        processors change (the SDK replaces its tuple); replaced as one tuple, so threads never
        see hooks of two different lists."""
        multi = self._multi
        if multi is None:
            return self._fixed_hooks
        processors = multi._span_processors
        hooks = self._hooks
        if hooks[0] is not processors:
            hooks = _active_hooks(processors)
            self._hooks = hooks
        return hooks

    @property
    def enabled(self) -> bool:
        """False while the tracer configurator disables the tracer (nothing is recorded)."""
        return self._enabled is None or self._enabled()

    @property
    def resource(self) -> Resource:
        """The tracer's resource now (the provider updates it after a fork)."""
        return self._tracer.resource

    def _new_context(
        self,
        name: str,
        parent: Context | None,
        kind: SpanKind,
        attrs: types.Attributes,
        parent_span: SpanContext,
    ) -> tuple[SpanContext, SpanContext | None, dict[str, types.AttributeValue] | None, int]:
        """The new span's context, its parent's, its attributes (the sampler's), and how many of
        the sampler's attributes were invalid (dropped, as the SDK counts them).

        `parent_span` is the span context of `parent` (`get_current_span(parent)`'s). The
        attributes are None when the sampler drops the span: the SDK then hands out a
        non-recording span with this new context (so the trace still propagates through it).
        """
        if parent_span.is_valid:
            trace_id = parent_span.trace_id
            random_trace_id = bool(parent_span.trace_flags & _RANDOM)
            parent_context: SpanContext | None = parent_span
        else:
            trace_id = self._ids.generate_trace_id()
            random_trace_id = self._new_ids_random
            parent_context = None
        attributes: dict[str, types.AttributeValue] | None
        dropped = 0
        if self._parent_based_on and (parent_context is None or parent_span.trace_flags & _SAMPLED):
            sampled_flag = True
            trace_state = parent_span.trace_state if parent_context is not None else None
            if not attrs:
                attributes = {}
            elif (attrs.__class__ is RecordedAttributes and not attrs.agent_values) or (
                _PLAIN_VALUES.issuperset(map(type, attrs.values()))
            ):
                # The recorder's own values, or values checked at C speed. The keys are the
                # recorder's constants (`DirectTracer` checks a caller's keys before it comes here).
                attributes = dict(attrs)
            else:
                attributes, dropped = _cleaned(attrs)
        else:
            sampled = self._deciding.should_sample(parent, trace_id, name, kind, attrs, _NO_LINKS)
            decision = sampled.decision
            sampled_flag = decision is Decision.RECORD_AND_SAMPLE
            trace_state = sampled.trace_state
            # The SDK starts a span with the sampler's attributes: the given ones (the SDK's
            # samplers hand back a view of them) and any the sampler adds, cleaned as any
            # attribute is.
            given = sampled.attributes
            if decision is Decision.DROP:
                attributes = None
            elif not given:
                attributes = {}
            elif _plain_attributes(given):
                attributes = dict(given)
            else:
                attributes, dropped = _cleaned(given)
        flags = _SAMPLED if sampled_flag else 0
        if random_trace_id:
            flags |= _RANDOM
        context = SpanContext(
            trace_id,
            self._ids.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=trace_state,
        )
        return context, parent_context, attributes, dropped

    def emit(
        self,
        name: str,
        attrs: dict[str, types.AttributeValue],
        parent: Context | None,
        failed: bool,
        *,
        outside: bool = False,
    ) -> None:
        """Record one point event now; `parent` as `Tracer.start_span`'s `context`.

        `outside`: the event is outside any decision trace, whatever trace `parent` is in (no
        decision-trace context is stamped on it).
        """
        if not self.enabled:
            return
        context, parent_context, attributes, dropped = self._new_context(
            name, parent, SpanKind.INTERNAL, attrs, get_current_span(parent).get_span_context()
        )
        if attributes is None:
            return
        stamps = self._context.stamps_of_finished(
            context, None if outside else parent_context, attributes
        )
        if stamps:
            attributes.update(stamps)
        now = time.time_ns()
        finished = RecordedSpan(
            name,
            context,
            parent_context,
            self.resource,
            self.bounded(attributes, dropped),
            instrumentation_info=self.info,
            instrumentation_scope=self.scope,
            status=_ERROR_STATUS if failed else _UNSET_STATUS,
            start_time=now,
            end_time=now,
        )
        if attrs.__class__ is RecordedAttributes and attrs.json_texts:
            finished.json_texts = attrs.json_texts
        for on_end in self.hooks()[3]:
            on_end(finished)

    def start(
        self,
        name: str,
        parent: Context | None,
        kind: SpanKind,
        attrs: dict[str, types.AttributeValue],
        parent_span: SpanContext | None = None,
    ) -> Span:
        """Start a live event span under `parent`, as `Tracer.start_span` would.

        `attrs` has the recorder's own keys (non-empty text); a value that is not a plain scalar
        is cleaned as the SDK's span cleans it (see the module docstring). `parent_span`, when
        the caller has it already, is `get_current_span(parent).get_span_context()`. The span
        processors' `on_start` runs before this returns.
        """
        if parent_span is None:
            parent_span = get_current_span(parent).get_span_context()
        if self._enabled is not None and not self._enabled():  # `enabled`, without the call
            return NonRecordingSpan(parent_span)
        context, parent_context, attributes, dropped = self._new_context(
            name, parent, kind, attrs, parent_span
        )
        if attributes is None:
            return NonRecordingSpan(context)
        span = EventSpan(self, name, context, parent_context, kind, attributes, dropped)
        if attrs.__class__ is RecordedAttributes and attrs.json_texts:
            span._json_texts = attrs.json_texts
        # The processors take it as the SDK's `Span` it stands for (no `cast` call: hot path).
        for on_start in self.hooks()[1]:
            on_start(span, parent_context=parent)
        return span

    def bounded(
        self, attributes: dict[str, types.AttributeValue], dropped: int = 0
    ) -> types.Attributes:
        """The attributes within the span attribute count limit, as the SDK would keep them,
        `dropped` more counted as dropped (its `dropped_attributes`)."""
        limit = self.max_attributes
        if limit is not None and len(attributes) > limit:
            # The structural attributes outlive the others (see `trim_attributes`).
            attributes = dict(attributes)
            dropped += trim_attributes(attributes, limit)
        if dropped:
            bounded = BoundedAttributes(limit, attributes, immutable=True)
            bounded.dropped += dropped
            return bounded
        return attributes


class EventSpan(Span):
    """A live span the recorder started through `DirectSpans`; ends into a `ReadableSpan`.

    Behaves as the SDK's span does for everything the API offers: attribute values are
    validated the SDK's way (an invalid one is dropped with a warning), a finished span ignores
    changes, an OK status is final, `end` runs once. Safe to use from several threads: changes
    and the end take the span's lock, so nothing changes what the processors got at the end.
    """

    __slots__ = (
        "_attributes",
        "_context",
        "_dropped",
        "_end_time",
        "_events",
        "_factory",
        "_json_texts",
        "_kind",
        "_links",
        "_lock",
        "_name",
        "_parent",
        "_start_time",
        "_status",
    )

    def __init__(
        self,
        factory: DirectSpans,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, types.AttributeValue],
        dropped: int = 0,
    ) -> None:
        self._factory = factory
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._json_texts = _NO_TEXTS
        # Attributes dropped so far: invalid ones, and the oldest beyond the count limit.
        self._dropped = dropped
        limit = factory.max_attributes
        if limit is not None and len(attributes) > limit:
            self._trim(limit)
        # Made at the first event or link (most event spans have none), bounded as the SDK's.
        self._events: BoundedList[Event] | None = None
        self._links: BoundedList[Link] | None = None
        self._status = _UNSET_STATUS
        self._end_time: int | None = None
        self._lock = threading.Lock()
        self._start_time = time.time_ns()

    # --- what span processors read in `on_start` (the SDK span's read-only view) ---------------
    @property
    def name(self) -> str:
        """The span's name."""
        return self._name

    @property
    def context(self) -> SpanContext:
        """The span's context."""
        return self._context

    @property
    def parent(self) -> SpanContext | None:
        """The parent span's context (None for a root)."""
        return self._parent

    @property
    def kind(self) -> SpanKind:
        """The span's kind."""
        return self._kind

    @property
    def attributes(self) -> types.Attributes:
        """A read-only view of the attributes."""
        return MappingProxyType(self._attributes)

    @property
    def start_time(self) -> int:
        """Start time, ns since the epoch."""
        return self._start_time

    @property
    def end_time(self) -> int | None:
        """End time, ns since the epoch; None while the span runs."""
        return self._end_time

    @property
    def status(self) -> Status:
        """The span's status."""
        return self._status

    @property
    def resource(self) -> Resource:
        """The tracer provider's resource."""
        return self._factory.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        """The tracer's instrumentation scope."""
        return self._factory.scope

    @property
    def events(self) -> Sequence[Event]:
        """The span's events so far."""
        return tuple(self._events or ())

    @property
    def links(self) -> Sequence[Link]:
        """The span's links."""
        return tuple(self._links or ())

    @property
    def dropped_attributes(self) -> int:
        """Attributes dropped so far (invalid, or the oldest beyond the count limit)."""
        return self._dropped

    @property
    def dropped_events(self) -> int:
        """Events dropped so far (the oldest beyond the event limit)."""
        return self._events.dropped if self._events is not None else 0

    @property
    def dropped_links(self) -> int:
        """Links dropped so far (beyond the link limit)."""
        return self._links.dropped if self._links is not None else 0

    def to_json(self, indent: int | None = 4) -> str:
        """The span as the SDK's `ReadableSpan.to_json` writes it, as it is now."""
        text: str = self._readable().to_json(indent)
        return text

    def add_json_texts(self, texts: tuple[str, ...]) -> None:
        """Name payload texts orjson wrote for this span (see `RecordedSpan`); the recorder's."""
        if texts:
            self._json_texts += texts

    def _readable(self) -> ReadableSpan:
        factory = self._factory
        finished = RecordedSpan(
            self._name,
            self._context,
            self._parent,
            factory.resource,
            factory.bounded(self._attributes, self._dropped),
            self._events or (),
            self._links or (),
            self._kind,
            status=self._status,
            start_time=self._start_time,
            end_time=self._end_time,
            instrumentation_info=factory.info,
            instrumentation_scope=factory.scope,
        )
        if self._json_texts:
            finished.json_texts = self._json_texts
        return finished

    # --- the API ---------------------------------------------------------------------------
    def get_span_context(self) -> SpanContext:
        """The span's context."""
        return self._context

    def is_recording(self) -> bool:
        """True until the span ends."""
        return self._end_time is None

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        """Set one attribute (validated as the SDK does; ignored once the span ended)."""
        if not (type(value) in _PLAIN_VALUES and type(key) is str and key):
            self.set_attributes({key: value})
            return
        with self._lock:
            if self._end_time is None:
                attributes = self._attributes
                # As the SDK's: a key set again becomes the newest (the last one evicted).
                attributes.pop(key, None)
                attributes[key] = value
                limit = self._factory.max_attributes
                if limit is not None and len(attributes) > limit:
                    self._trim(limit)
                return
        _LOGGER.warning("Setting attribute on ended span.")

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        """Set several attributes (validated as the SDK does; ignored once the span ended)."""
        invalid = 0
        if not _plain_attributes(attributes):
            cleaned = BoundedAttributes(attributes=attributes)
            attributes, invalid = cleaned, cleaned.dropped
        with self._lock:
            if self._end_time is None:
                own = self._attributes
                self._dropped += invalid
                if not own.keys().isdisjoint(attributes):
                    # As the SDK's: keys set again become the newest.
                    for key in attributes:
                        own.pop(key, None)
                own.update(attributes)
                limit = self._factory.max_attributes
                if limit is not None and len(own) > limit:
                    self._trim(limit)
                return
        _LOGGER.warning("Setting attribute on ended span.")

    def _trim(self, limit: int) -> None:
        """Drop the attributes beyond `limit`, counting them: the oldest first, as the SDK does,
        but those that say what the span is (its event type, ids, status) last."""
        self._dropped += trim_attributes(self._attributes, limit)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        """Add an event (its attributes validated and capped as the SDK does)."""
        bounded = BoundedAttributes(self._factory.max_event_attributes, attributes, immutable=True)
        event = Event(name, bounded, time.time_ns() if timestamp is None else timestamp)
        with self._lock:
            if self._end_time is None:
                if self._events is None:
                    self._events = BoundedList(self._factory.max_events)
                self._events.append(event)
                return
        _LOGGER.warning(_ENDED, "_add_event")

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        """Add a link to another span (capped and counted as the SDK does).

        As the SDK's, a link to an invalid context is kept only with attributes or a trace state.
        """
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return
        bounded = BoundedAttributes(self._factory.max_link_attributes, attributes, immutable=True)
        link = Link(context, bounded)
        with self._lock:
            if self._end_time is None:
                if self._links is None:
                    self._links = BoundedList(self._factory.max_links)
                self._links.append(link)
                return
        _LOGGER.warning(_ENDED, "_add_link")

    def update_name(self, name: str) -> None:
        """Rename the span (ignored once it ended)."""
        with self._lock:
            if self._end_time is None:
                self._name = name
                return
        _LOGGER.warning(_ENDED, "update_name")

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status: OK is final and UNSET is ignored, as in the SDK (not once ended)."""
        with self._lock:
            if self._end_time is None:
                self._set_status_locked(status, description)
                return
        _LOGGER.warning(_ENDED, "set_status")

    def _set_status_locked(self, status: Status | StatusCode, description: str | None) -> None:
        if self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is StatusCode.UNSET:
                return
            if description is not None:
                _LOGGER.warning(
                    "Description %s ignored. Use either `Status` or `(StatusCode, Description)`",
                    description,
                )
            self._status = status
        elif isinstance(status, StatusCode) and status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Record `exception` as an `exception` event (the semantic conventions' attributes)."""
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        event: dict[str, types.AttributeValue] = {
            "exception.type": f"{module}.{qualname}"
            if module and module != "builtins"
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(
                traceback.format_exception(type(exception), exception, exception.__traceback__)
            ),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        """End the span once and hand it, finished, to the span processors' `on_end`."""
        with self._lock:
            if self._end_time is not None:
                _LOGGER.warning("Calling end() on an ended span.")
                return
            self._end_time = time.time_ns() if end_time is None else end_time
        _, _, endings, ends = self._factory.hooks()
        for on_ending in endings:
            # As the SDK's `Span` it stands for (no `cast` call: this is the hot path).
            on_ending(self)  # type: ignore[arg-type]
        finished = self._readable()
        for on_end in ends:
            on_end(finished)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """End the span; an exception is recorded and sets status ERROR, as the SDK does."""
        if exc_val is not None and self.is_recording():
            self.record_exception(exc_val, escaped=True)
            self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        super().__exit__(exc_type, exc_val, exc_tb)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name="{self._name}", context={self._context})'


def _plain_attributes(attributes: types.Attributes) -> bool:
    """Whether every attribute is one the SDK would keep unchanged (a scalar under a text key)."""
    if not attributes:
        return True
    return all(type(v) in _PLAIN_VALUES and type(k) is str and k for k, v in attributes.items())


def _cleaned(
    attributes: types.Attributes,
) -> tuple[dict[str, types.AttributeValue], int]:
    """`attributes` cleaned as the SDK's span cleans its start attributes (`BoundedAttributes`:
    a value of no attribute type becomes its text, or is dropped), and how many were dropped."""
    cleaned = BoundedAttributes(attributes=attributes, immutable=False)
    return dict(cleaned), cleaned.dropped


def _sdk_counts_spans() -> bool:
    """Whether the SDK keeps its internal span metrics, read as the SDK reads the variable."""
    return os.environ.get(_SDK_INTERNAL_METRICS, "").strip().lower() == "true"


class DirectTracer(Tracer):
    """A `Tracer` whose spans start through `DirectSpans` when nothing but that is asked for.

    Spans with links, an explicit start time, exception handling turned off, or attributes that
    are not plain scalars are started by the SDK tracer itself (they are rare; the SDK is exact).

    Args:
        tracer: the SDK tracer `direct` was made for.
        direct: the recorder's `DirectSpans`.
    """

    def __init__(self, tracer: Tracer, direct: DirectSpans) -> None:
        self._tracer = tracer
        self._direct = direct

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        """Start a span, as the SDK tracer would (see the class docstring)."""
        if (
            links
            or start_time is not None
            or not record_exception
            or not set_status_on_exception
            or not _plain_attributes(attributes)
        ):
            return self._tracer.start_span(
                name,
                context,
                kind,
                attributes,
                links,
                start_time,
                record_exception,
                set_status_on_exception,
            )
        return self._direct.start(name, context, kind, dict(attributes) if attributes else {})

    # The API types the result with its private context-manager class; this one does what that
    # one does: a `with` block, or a decorator of functions and coroutine functions.
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> CurrentSpan:
        """Start a span and make it current for the block (as the SDK tracer does).

        Used as a decorator, each call of the function (or each run of the coroutine) gets a
        new span.
        """
        return CurrentSpan(
            lambda: self.start_span(
                name,
                context,
                kind,
                attributes,
                links,
                start_time,
                record_exception,
                set_status_on_exception,
            ),
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        )


class CurrentSpan:
    """`DirectTracer.start_as_current_span`'s result: a span made current for a `with` block, or
    for each call of the function it decorates (awaited through, for a coroutine function).

    Args:
        start: starts the span (called once per block or call).
        end_on_exit, record_exception, set_status_on_exception: as `opentelemetry.trace.use_span`.
    """

    def __init__(
        self,
        start: Callable[[], Span],
        *,
        end_on_exit: bool,
        record_exception: bool,
        set_status_on_exception: bool,
    ) -> None:
        self._start = start
        self._options = (end_on_exit, record_exception, set_status_on_exception)
        self._blocks: list[AbstractContextManager[Span]] = []

    @contextmanager
    def _block(self) -> Iterator[Span]:
        end_on_exit, record_exception, set_status_on_exception = self._options
        with use_span(
            self._start(),
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current

    def __enter__(self) -> Span:
        """Start the span and make it current."""
        block = self._block()
        span = block.__enter__()
        self._blocks.append(block)
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        """Restore the previous context and end the span (recording an escaping exception)."""
        return self._blocks.pop().__exit__(exc_type, exc_val, exc_tb)

    def __call__(self, function: Callable[_P, _R]) -> Callable[_P, _R]:
        """Run each call of `function` (a coroutine function: each run) inside a new span."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: _P.args, **kwargs: _P.kwargs) -> object:
                with self._block():
                    return await function(*args, **kwargs)

            return cast(Callable[_P, _R], run_async)

        @functools.wraps(function)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with self._block():
                return function(*args, **kwargs)

        return run
