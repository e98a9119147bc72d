"""`ContextProcessor`: stamps decision-trace context on spans as they start.

A decision trace is opened by an `invoke_agent` span (its root). For every span starting inside
one, the processor stamps the Tracengent trace id; on an *event* span it also stamps the event it
follows (`tracengent.event.parent_id`: the nearest enclosing event, else the trace's previous
top-level event), the agent and actor of the root, and on the trace's first event only the root
request. HTTP client spans under an LLM or tool event are absorbed (stamped with nothing): the
event already stands for them. So are GenAI spans of the same call: a `chat` (any LLM operation)
or `execute_tool` span whose nearest enclosing event is a Tracengent event of its kind (an
`llm_call` / `tool_call` span with `tracengent.event.type`: `track_llm_call`, `track_tool_call`,
the decorators, our MCP span) is stamped `tracengent.event.absorbed` only, and the exporter sends
no event for it (a GenAI span is an event whatever its stamps, unlike an HTTP span). The
enclosing event takes nothing from it: its usage is the one the user reported (`LlmCallResult`
requires `tokens`), counted once against the budget. Its children are absorbed into the
enclosing event too. A GenAI span under no event, or under an event of another kind (an LLM call
a tool makes), is its own event as before. The exporter reads these attributes when the spans
end.

The root request is the root's `tracengent.trace.root_request` (the application's own field,
always kept), else the last user message of its `gen_ai.input.messages`: that message is payload
(`attributes.PAYLOAD_ATTRIBUTES`), so it is taken only while payload capture is on. This processor
runs before the scrubbing processor, so it must know the setting itself (`capture_payloads`), and
it scrubs the root request it keeps for the trace's first event itself (`scrub_text`, the
scrubber's `free_text`), once per root: the first event is often a span Tracengent records, which
the scrubbing processor does not look at again.

`on_start` is O(1) and does no I/O and never waits: a dict of open spans (span id → record) is
consulted for the parent and updated. Under concurrency, dict operations are atomic in CPython
and the trace's first event is claimed with a non-blocking lock acquire, so exactly one event of
a trace carries the root request; two top-level events of one trace starting at the same instant
in two threads may both follow the same predecessor, which the contract tolerates.

A span another instrumentation made may end trimmed: past the SDK's span attribute count limit
the SDK evicts its oldest attributes, on a GenAI span its `gen_ai.operation.name` and the stamps
set here as it started, and it would end as no event at all. So the record of a span this
processor stamped (`_StartedSpan`) keeps what it started with and what was stamped (references
only, no copy); when such a span ends with dropped attributes, `on_end` notes what it lost of
those that say what it is and where it belongs (`_RESTORED`: never masked by a name glob, so the
copy taken before the scrubbing processor ran is safe to give back; a stamped actor is not given
back, a name glob may mask it) for the export processor and router after it
(`_classify.note_trimmed`). The span itself is left as the SDK kept it. Our recorder's spans keep
those attributes when trimmed (`_direct_spans.trim_attributes`) and take no part in this.

A trace's events may outlive its root: recorded after `complete()` inside the `with` block, or
by a task that outlives `async with`. They still belong to the trace (wire contract §2: inside a
decision trace every event carries `traceId`). So when a root ends, its record is kept by weak
reference, keyed by the root's span id, for as long as something else holds it: the `AgentTrace`
does (`keep_trace`), and so do the still open children of the root. A span whose parent is such
an ended root is stamped as if the root were open.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext, SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import note_trimmed
from opentelemetry.exporter.tracengent.ids import event_id_for, trace_id_for

__all__ = ["STARTING", "ContextProcessor", "PreparedStart"]

_LOGGER = logging.getLogger("tracengent.context")
_LOG_INTERVAL_S: Final = 60.0
_ABSORBING_TYPES: Final = frozenset({A.EventTypes.LLM_CALL, A.EventTypes.TOOL_CALL})
_RESTORED: Final = (
    # What says what a span is and where its event belongs (never masked by a name glob), and
    # what makes a client span an HTTP one.
    *A.STRUCTURAL_ATTRIBUTES,
    A.HTTP_REQUEST_METHOD,
    A.HTTP_METHOD_OLD,
)
"""What a trimmed span is given back of the attributes it started with (see the module
docstring); of its stamps, all but the actor (the root request stamped is scrubbed already)."""

STARTING: ContextVar[object | None] = ContextVar("tracengent_starting", default=None)
"""Set while our recorder starts a span: its payloads are scrubbed already (the scrubbing
processor leaves them alone) and, when it is a `PreparedStart`, its decision-trace context is
stamped already (the context processor only remembers the span)."""

# What `_stamps` does besides computing the stamps.
_STARTING: Final = 0  # a live span starts: remember it (a possible parent) and advance its trace
_FINISHED: Final = 1  # a point event born ended: advance its trace, nothing to remember


class _TraceState:
    """One open decision trace, shared by the records of its spans."""

    __slots__ = (
        "actor_user_id",
        "agent_id",
        "first_event",
        "last_top_level",
        "root_request",
        "root_span_id",
        "trace_id",
    )

    def __init__(
        self,
        root_span_id: int,
        trace_id: str,
        agent_id: AttributeValue | None,
        actor_user_id: AttributeValue | None,
        root_request: AttributeValue | None,
    ) -> None:
        self.root_span_id = root_span_id
        self.trace_id = trace_id
        self.agent_id = agent_id
        self.actor_user_id = actor_user_id
        self.root_request = root_request
        self.last_top_level: str | None = None
        self.first_event = threading.Lock()
        """Held once an event claimed to be the trace's first (wire contract §2: only the first
        event carries the root request): `first_event.acquire(False)` is True exactly once,
        never blocks, and is one atomic step however threads interleave (a lock, not a flag);
        an event that claimed it and never started releases it. Called directly: the hot path."""


class _OpenSpan:
    """What a child needs of its open parent: the trace and the nearest enclosing event."""

    # Weakly referenceable: an ended root's record is kept only while something holds it.
    __slots__ = ("__weakref__", "absorbs", "event_id", "event_type", "trace")

    def __init__(
        self,
        trace: _TraceState | None,
        event_id: str | None,
        event_type: str | None,
        absorbs: str | None = None,
    ) -> None:
        self.trace = trace
        self.event_id = event_id
        self.event_type = event_type
        self.absorbs = absorbs
        """The event type of the GenAI spans nested in this event that are its own call: set on
        a Tracengent `llm_call` / `tool_call` event (explicit `tracengent.event.type`), else
        None (see the module docstring)."""


class _StartedSpan(_OpenSpan):
    """The record of a span `on_start` stamped itself (not one our recorder prepared): also what
    it started with and what was stamped, given back should the count limit evict them."""

    __slots__ = ("span_id", "stamps", "start")

    def __init__(
        self,
        trace: _TraceState | None,
        event_id: str | None,
        event_type: str | None,
        absorbs: str | None,
        span_id: int,
        start: Mapping[str, AttributeValue] | None,
        stamps: Mapping[str, AttributeValue] | None,
    ) -> None:
        super().__init__(trace, event_id, event_type, absorbs)
        self.span_id = span_id
        """The span this is the record of (a child that is no event shares its parent's)."""
        self.start = start
        """The span's attributes as it started (a copy `on_start` read; None once let go)."""
        self.stamps = stamps
        """What `on_start` stamped on the span (None: nothing)."""


class ContextProcessor(SpanProcessor):
    """Stamps trace ids, event parents, agent, actor and root request on starting spans.

    Never raises: a failure is counted in `failures` and logged at most once a minute on the
    `tracengent.context` logger. Never blocks.

    Args:
        capture_payloads: `TracengentOptions.capture_payloads`. When False, a root request is
            never taken from a root's `gen_ai.input.messages` (a payload); an explicit
            `tracengent.trace.root_request` still is.
        scrub_text: what the root request kept for the trace's first event goes through (the
            client's `Scrubber.free_text`): a third-party root's request, explicit or taken from
            its input messages, is stamped on the first event only as this returns it. None
            keeps it as given (the request is then scrubbed, if at all, where it was set).

    Attributes:
        capture_payloads: as the argument; read as each trace's root starts, so it may be
            turned off later (a provider shared by several clients: the strictest holds).
    """

    def __init__(
        self,
        *,
        capture_payloads: bool = True,
        scrub_text: Callable[[str], str] | None = None,
    ) -> None:
        self.capture_payloads = capture_payloads
        self._scrub_text = scrub_text
        self._open: dict[int, _OpenSpan] = {}
        # Ended roots (span id → their record) while something holds the record: a plain dict
        # read at C speed, each entry removed by its reference's callback.
        self._ended_roots: dict[int, weakref.ref[_OpenSpan]] = {}
        self.failures = 0
        self._last_log = -math.inf

    @property
    def open_span_count(self) -> int:
        """Spans started and not yet ended that the processor keeps a record of."""
        return len(self._open)

    @property
    def kept_trace_count(self) -> int:
        """Decision traces whose root ended and whose record is still held (see `keep_trace`)."""
        return len(self._ended_roots)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Stamp the span (see the module docstring)."""
        try:
            prepared = STARTING.get()
            if type(prepared) is PreparedStart and prepared.processor is self:
                self._start_prepared(span, prepared)
            else:
                self._stamp(span)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._failed(exc)

    def on_end(self, span: ReadableSpan) -> None:
        """Forget the span's record; a trace's root is kept while its record is held elsewhere.

        A span stamped here that ended trimmed by the attribute count limit has what it lost
        of its start and stamps noted for the processors after this one (see the module
        docstring)."""
        context = span.context
        if context is None:
            return
        span_id = context.span_id
        record = self._open.pop(span_id, None)
        if record.__class__ is not _StartedSpan or record.span_id != span_id:
            # None, our recorder's span, or one sharing its parent's record: nothing to do.
            return
        try:
            if span.dropped_attributes:
                self._note_lost(span, record)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._failed(exc)
        if record.event_type is None and record.trace is not None:
            # A root (nothing else stamped here has its own record and no event type); its
            # record may be kept long after (`keep_trace`): not its start.
            record.start = record.stamps = None
            self._keep_ended_root(span_id, record)

    def shutdown(self) -> None:
        """Forget every record."""
        self._open.clear()
        self._ended_roots.clear()

    def keep_trace(self, root: SpanContext) -> object | None:
        """A handle on the decision trace the open span `root` opened; None if it opened none.

        While the handle is held, spans started under `root` after it ended are still stamped
        as members of its trace (see the module docstring). Never raises.
        """
        record = self._open.get(root.span_id)
        if record is None or record.trace is None or record.trace.root_span_id != root.span_id:
            return None
        return record

    def _note_lost(self, span: ReadableSpan, record: _StartedSpan) -> None:
        """Note what trimmed `span` lost of what `_RESTORED` names in its start and of its
        stamps (see the module docstring). Never raises."""
        try:
            kept = A.attributes_of(span)
            lost: dict[str, AttributeValue] = {}
            start = record.start
            if start:
                for key in _RESTORED:
                    if key not in kept:
                        value = start.get(key)
                        if value is not None:
                            lost[key] = value
            if record.stamps:
                for key, value in record.stamps.items():
                    if key not in kept and key != A.ACTOR_USER_ID:
                        lost[key] = value
            if lost:
                note_trimmed(span, lost)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._failed(exc)

    def _keep_ended_root(self, span_id: int, record: _OpenSpan) -> None:
        ended = self._ended_roots

        def forget(_: weakref.ref[_OpenSpan]) -> None:
            ended.pop(span_id, None)

        ended[span_id] = weakref.ref(record, forget)

    def _record_of(self, span_id: int) -> _OpenSpan | None:
        """The record of span `span_id`: open, or an ended root still held; else None."""
        record = self._open.get(span_id)
        if record is None and self._ended_roots:
            kept = self._ended_roots.get(span_id)
            record = kept() if kept is not None else None
        return record

    def trace_agent_under(self, parent: SpanContext | None) -> AttributeValue | None:
        """The agent id of the decision trace a span under `parent` belongs to, if known: from
        the record of `parent` (an open span, or an ended root still held). Never raises."""
        if parent is None:
            return None
        record = self._record_of(parent.span_id)
        trace = record.trace if record is not None else None
        return trace.agent_id if trace is not None else None

    def agent_of_trace_of(self, span: SpanContext) -> tuple[bool, AttributeValue | None]:
        """`(known, agent)`: whether there is a record of span `span` (an open span, or an ended
        root still held), and the agent id of the decision trace it is in (the one its root
        named; None when the root named none or the span is in no decision trace). O(1), never
        raises."""
        record = self._record_of(span.span_id)
        if record is None:
            return False, None
        trace = record.trace
        return True, trace.agent_id if trace is not None else None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True

    def stamps_of_finished(
        self,
        context: SpanContext,
        parent: SpanContext | None,
        attrs: Mapping[str, AttributeValue],
    ) -> dict[str, AttributeValue] | None:
        """What `on_start` would stamp on an event span that is born ended (a point event).

        The recorder builds point events as finished spans and hands them straight to the span
        processors' `on_end` (they never start), so it asks for their stamps here and writes them
        with the span's other attributes, once. The span is not remembered: it has no children.
        Returns None when there is nothing to stamp. Never raises.
        """
        try:
            return self._stamps(context, parent, SpanKind.INTERNAL, attrs, _FINISHED)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._failed(exc)
            return None

    def prepare(
        self, parent: SpanContext | None, kind: SpanKind, attrs: Mapping[str, AttributeValue]
    ) -> PreparedStart | None:
        """Stamp an event span of a decision trace before it starts under `parent`.

        The recorder starts its live event spans with `PreparedStart.stamps` among their
        attributes, so each is written once, and sets `STARTING` to the result while the span
        starts: `on_start` then only remembers the span and advances its trace. An event outside
        any decision trace gets no stamps. `parent` None: the span is outside any decision trace
        whatever its OTel parent (a client's own event while another agent's trace is current),
        and so are the spans started under it. None when the span is not an explicit event
        (`on_start` then does all the work). If another event of the trace starts in between
        (two threads), the event parent read here may be the older one, which the wire contract
        tolerates.

        Nothing changes here but one thing: the trace's first event (the only one carrying the
        root request) is claimed here, atomically, so no other event prepared before this one
        starts can claim it too. A span that then never starts (the sampler dropped it, or
        starting failed) gives the claim back: the recorder calls
        `PreparedStart.give_back_unstarted` once the start returned. Never raises.
        """
        try:
            event_type = attrs.get(A.EVENT_TYPE)
            record: _OpenSpan | None = None
            if parent is None:
                # Kept out of the trace its OTel parent is in: never stamped by `on_start`.
                event_type = event_type if isinstance(event_type, str) else None
            elif (
                A.GOVERNANCE_KIND in attrs
                or A.GEN_AI_OPERATION_NAME in attrs
                or not isinstance(event_type, str)
            ):
                return None
            else:
                record = self._record_of(parent.span_id)
            explicit_id = attrs.get(A.EVENT_ID)
            explicit = explicit_id if isinstance(explicit_id, str) and explicit_id else None
            if record is None or record.trace is None:
                # An event outside any decision trace (a tracked request, a standalone call, or
                # one kept out of its parent's): nothing to stamp; `on_start` remembers it, as
                # outside any, for its children.
                return PreparedStart(self, None, event_type, None, explicit, {})
            trace = record.trace
            first = trace.first_event.acquire(False)
            stamps = _event_stamps(trace, record.event_id, attrs, first)
            prepared = PreparedStart(self, trace, event_type, record.event_id, explicit, stamps)
            prepared.claimed_first = first
            return prepared
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._failed(exc)
            return None

    def _start_prepared(self, span: Span, prepared: PreparedStart) -> None:
        context = span.context
        trace = prepared.trace
        # Only an event of a decision trace is ever followed (its id is a parent stamp): outside
        # one, no id is formatted on the agent's thread.
        event_id = prepared.explicit_id or (
            event_id_for(context.trace_id, context.span_id) if trace is not None else None
        )
        event_type = prepared.event_type
        self._open[context.span_id] = _OpenSpan(
            trace, event_id, event_type, event_type if event_type in _ABSORBING_TYPES else None
        )
        if prepared.claimed_first:
            # Started: the claim `prepare` made is this span's for good.
            prepared.claimed_first = False
        if trace is not None and prepared.enclosing_id is None:
            trace.last_top_level = event_id

    def _stamp(self, span: Span) -> None:
        # One copy into a plain dict (C speed) beats a dozen lookups through the span's proxy.
        stamps = self._stamps(
            span.context, span.parent, span.kind, A.attributes_of(span), _STARTING
        )
        if stamps:
            span.set_attributes(stamps)

    def _stamps(
        self,
        context: SpanContext,
        parent_ctx: SpanContext | None,
        kind: SpanKind,
        attrs: Mapping[str, AttributeValue],
        mode: int,
    ) -> dict[str, AttributeValue] | None:
        """The attributes to stamp on a span; `mode` says what else to do (see `_STARTING`)."""
        remember = mode == _STARTING
        parent = self._record_of(parent_ctx.span_id) if parent_ctx is not None else None
        operation = attrs.get(A.GEN_AI_OPERATION_NAME)
        if operation == A.OPERATION_INVOKE_AGENT:
            # A nested invoke_agent opens its own trace; the root itself is not an event.
            root_request = attrs.get(A.TRACE_ROOT_REQUEST)
            root_stamps: dict[str, AttributeValue] = {}
            if root_request is None and self.capture_payloads:
                # An agent framework's root carries the request as GenAI input messages (a
                # payload: with capture off it must not leave as the root request either).
                root_request = root_request_from_messages(attrs.get(A.GEN_AI_INPUT_MESSAGES))
                if root_request is not None:
                    root_stamps[A.TRACE_ROOT_REQUEST] = root_request
            if root_request.__class__ is str and self._scrub_text is not None:
                # Once per root: what the trace's first event carries, whoever records it.
                root_request = self._scrub_text(root_request)
                if A.TRACE_ROOT_REQUEST in root_stamps:
                    root_stamps[A.TRACE_ROOT_REQUEST] = root_request
            state = _TraceState(
                context.span_id,
                trace_id_for(context.trace_id, context.span_id),
                attrs.get(A.GEN_AI_AGENT_ID),
                attrs.get(A.ACTOR_USER_ID),
                root_request,
            )
            root_stamps[A.TRACE_ID] = state.trace_id
            if remember:
                self._open[context.span_id] = _StartedSpan(
                    state, None, None, None, context.span_id, attrs, root_stamps
                )
            return root_stamps
        trace = parent.trace if parent is not None else None
        enclosing_id = parent.event_id if parent is not None else None
        enclosing_type = parent.event_type if parent is not None else None
        event_type = None if A.GOVERNANCE_KIND in attrs else _event_type(kind, attrs)
        if event_type is _ABSORBED:
            if parent is not None and enclosing_type in _ABSORBING_TYPES:
                if remember:
                    self._open[context.span_id] = parent
                return None
            event_type = A.EventTypes.TOOL_CALL if trace is not None else None
        elif (
            parent is not None
            and parent.absorbs is not None
            and parent.absorbs == event_type
            and A.EVENT_TYPE not in attrs
        ):
            # A GenAI span of the call the enclosing Tracengent event stands for: not a second
            # event; its children are the enclosing event's too.
            if remember:
                self._open[context.span_id] = parent
            return {A.EVENT_ABSORBED: True}
        if event_type is None:
            if parent is not None:
                if remember:
                    self._open[context.span_id] = parent
                if trace is not None and attrs.get(A.TRACE_ID) != trace.trace_id:
                    return {A.TRACE_ID: trace.trace_id}
            return None
        explicit_id = attrs.get(A.EVENT_ID)
        if isinstance(explicit_id, str) and explicit_id:
            event_id: str | None = explicit_id
        elif trace is not None:
            event_id = event_id_for(context.trace_id, context.span_id)
        else:
            event_id = None  # outside a decision trace no event follows it: nothing to format
        stamps = (
            _event_stamps(trace, enclosing_id, attrs, trace.first_event.acquire(False))
            if trace is not None
            else None
        )
        if remember:
            explicit_type = A.EVENT_TYPE in attrs and event_type in _ABSORBING_TYPES
            self._open[context.span_id] = _StartedSpan(
                trace,
                event_id,
                event_type,
                event_type if explicit_type else None,
                context.span_id,
                attrs,
                stamps,
            )
        if trace is None:
            return None
        if enclosing_id is None:
            # A top-level event follows the previous top-level event of its trace.
            trace.last_top_level = event_id
        return stamps

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self._last_log >= _LOG_INTERVAL_S:
            self._last_log = now
            _LOGGER.warning(
                "stamping decision-trace context failed (%s failures so far): %s",
                self.failures,
                exc,
            )


class PreparedStart:
    """What `ContextProcessor.prepare` found for an event span the recorder is about to start."""

    __slots__ = (
        "claimed_first",
        "enclosing_id",
        "event_type",
        "explicit_id",
        "processor",
        "stamps",
        "trace",
    )

    def __init__(
        self,
        processor: ContextProcessor,
        trace: _TraceState | None,
        event_type: str | None,
        enclosing_id: str | None,
        explicit_id: str | None,
        stamps: dict[str, AttributeValue],
    ) -> None:
        self.processor = processor
        self.trace = trace
        self.event_type = event_type
        self.enclosing_id = enclosing_id
        self.explicit_id = explicit_id
        self.stamps = stamps
        """The decision-trace attributes to start the span with."""
        self.claimed_first = False
        """`prepare` claimed the trace's first event for this span (it carries the root
        request); cleared when the span starts."""

    def give_back_unstarted(self) -> None:
        """Give back the first-event claim of a span that never started. Never raises.

        The recorder calls it once the span's start returned (or raised): a span the sampler
        dropped never reaches `on_start`, and the trace's next event must then be the first.
        """
        trace = self.trace
        if self.claimed_first and trace is not None:
            self.claimed_first = False
            trace.first_event.release()


def _event_stamps(
    trace: _TraceState,
    enclosing_id: str | None,
    attrs: Mapping[str, AttributeValue],
    first: bool,
) -> dict[str, AttributeValue]:
    """An event's stamps: trace, the event it follows, root request (`first`), agent, actor.

    Only what `attrs` lacks. An event nested in another follows it; a top-level event follows
    the previous top-level event of its trace.
    """
    stamps: dict[str, AttributeValue] = {}
    if attrs.get(A.TRACE_ID) != trace.trace_id:
        stamps[A.TRACE_ID] = trace.trace_id
    follows = trace.last_top_level if enclosing_id is None else enclosing_id
    if follows is not None and A.EVENT_PARENT_ID not in attrs:
        stamps[A.EVENT_PARENT_ID] = follows
    if first and trace.root_request is not None and A.TRACE_ROOT_REQUEST not in attrs:
        stamps[A.TRACE_ROOT_REQUEST] = trace.root_request
    if trace.agent_id is not None and A.GEN_AI_AGENT_ID not in attrs:
        stamps[A.GEN_AI_AGENT_ID] = trace.agent_id
    if trace.actor_user_id is not None and A.ACTOR_USER_ID not in attrs:
        stamps[A.ACTOR_USER_ID] = trace.actor_user_id
    return stamps


def root_request_from_messages(messages: AttributeValue | None) -> str | None:
    """The text of the last user message in `gen_ai.input.messages` JSON, if there is one.

    Both shapes the GenAI conventions have used are read: `{"role", "parts": [{"type": "text",
    "content"}]}` and the older `{"role", "content"}`. Anything else gives None.
    """
    if not isinstance(messages, str):
        return None
    try:
        parsed = json.loads(messages)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, list):
        return None
    for message in reversed(parsed):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str) and content:
            return content
        parts = message.get("parts")
        if isinstance(parts, list):
            texts = [
                p["content"]
                for p in parts
                if isinstance(p, dict)
                and p.get("type") == "text"
                and isinstance(p.get("content"), str)
            ]
            if texts:
                return "\n".join(texts)
    return None


_ABSORBED: Final = "\x00http"
"""`_event_type` of a plain HTTP client span: absorbed under an LLM/tool event, else a tool call."""


def _event_type(kind: SpanKind, attrs: Mapping[str, AttributeValue]) -> str | None:
    """The event type a starting span has, `_ABSORBED` for a plain HTTP client span, or None."""
    explicit = attrs.get(A.EVENT_TYPE)
    if isinstance(explicit, str):
        return explicit
    operation = attrs.get(A.GEN_AI_OPERATION_NAME)
    if operation in A.LLM_OPERATIONS:
        return A.EventTypes.LLM_CALL
    if operation == A.OPERATION_EXECUTE_TOOL:
        # A tool server's own span for a call is not a second event (the exporter agrees).
        return None if kind is SpanKind.SERVER else A.EventTypes.TOOL_CALL
    if kind is SpanKind.CLIENT and (A.HTTP_REQUEST_METHOD in attrs or A.HTTP_METHOD_OLD in attrs):
        # A tracked client's span is the user's explicit choice: never absorbed.
        return A.EventTypes.TOOL_CALL if attrs.get(A.TRACKED) is True else _ABSORBED
    return None
