"""`ContextProcessor`: stamps decision-trace context on spans as they start.

A decision trace is opened by an `invoke_agent` span (its root). For every span starting inside
one, the processor stamps the Tracengent trace id; on an *event* span it also stamps the event it
follows (`tracengent.event.parent_id`: the nearest enclosing event, else the trace's previous
top-level event), the agent and actor of the root, and on the trace's first event only the root
request. HTTP client spans under an LLM or tool event are absorbed (stamped with nothing): the
event already stands for them. The exporter reads these attributes when the spans end.

`on_start` is O(1) and does no I/O and takes no lock: a dict of open spans (span id → record) is
consulted for the parent and updated. Under concurrency, dict operations and `next()` on a
counter are atomic in CPython; two top-level events of one trace starting at the same instant in
two threads may both follow the same predecessor, which the contract tolerates.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import Mapping
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.ids import event_id_for, trace_id_for

__all__ = ["ContextProcessor"]

_LOGGER = logging.getLogger("tracengent.context")
_LOG_INTERVAL_S: Final = 60.0
_NO_ATTRIBUTES: Final[Mapping[str, AttributeValue]] = {}
_ABSORBING_TYPES: Final = frozenset({A.EventTypes.LLM_CALL, A.EventTypes.TOOL_CALL})


class _TraceState:
    """One open decision trace, shared by the records of its spans."""

    __slots__ = (
        "_order",
        "actor_user_id",
        "agent_id",
        "last_top_level",
        "root_request",
        "trace_id",
    )

    def __init__(
        self,
        trace_id: str,
        agent_id: AttributeValue | None,
        actor_user_id: AttributeValue | None,
        root_request: AttributeValue | None,
    ) -> None:
        self.trace_id = trace_id
        self.agent_id = agent_id
        self.actor_user_id = actor_user_id
        self.root_request = root_request
        self.last_top_level: str | None = None
        self._order = itertools.count()

    def claim_first_event(self) -> bool:
        """True exactly once: for the trace's first event."""
        return next(self._order) == 0


class _OpenSpan:
    """What a child needs of its open parent: the trace and the nearest enclosing event."""

    __slots__ = ("event_id", "event_type", "trace")

    def __init__(
        self, trace: _TraceState | None, event_id: str | None, event_type: str | None
    ) -> None:
        self.trace = trace
        self.event_id = event_id
        self.event_type = event_type


class ContextProcessor(SpanProcessor):
    """Stamps trace ids, event parents, agent, actor and root request on starting spans.

    Never raises: a failure is counted in `failures` and logged at most once a minute on the
    `tracengent.context` logger. Never blocks.
    """

    def __init__(self) -> None:
        self._open: dict[int, _OpenSpan] = {}
        self.failures = 0
        self._last_log = -math.inf

    @property
    def open_span_count(self) -> int:
        """Spans started and not yet ended that the processor keeps a record of."""
        return len(self._open)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Stamp the span (see the module docstring)."""
        try:
            self._stamp(span)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._failed(exc)

    def on_end(self, span: ReadableSpan) -> None:
        """Forget the span's record."""
        context = span.context
        if context is not None:
            self._open.pop(context.span_id, None)

    def shutdown(self) -> None:
        """Forget every record."""
        self._open.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True

    def _stamp(self, span: Span) -> None:
        context = span.context
        attrs: Mapping[str, AttributeValue] = span.attributes or _NO_ATTRIBUTES
        parent_ctx = span.parent
        parent = self._open.get(parent_ctx.span_id) if parent_ctx is not None else None
        operation = attrs.get(A.GEN_AI_OPERATION_NAME)
        if operation == A.OPERATION_INVOKE_AGENT:
            # A nested invoke_agent opens its own trace; the root itself is not an event.
            root_request = attrs.get(A.TRACE_ROOT_REQUEST)
            root_stamps: dict[str, AttributeValue] = {}
            if root_request is None:
                # An agent framework's root carries the request as GenAI input messages.
                root_request = root_request_from_messages(attrs.get(A.GEN_AI_INPUT_MESSAGES))
                if root_request is not None:
                    root_stamps[A.TRACE_ROOT_REQUEST] = root_request
            state = _TraceState(
                trace_id_for(context.trace_id, context.span_id),
                attrs.get(A.GEN_AI_AGENT_ID),
                attrs.get(A.ACTOR_USER_ID),
                root_request,
            )
            self._open[context.span_id] = _OpenSpan(state, None, None)
            root_stamps[A.TRACE_ID] = state.trace_id
            span.set_attributes(root_stamps)
            return
        trace = parent.trace if parent is not None else None
        enclosing_id = parent.event_id if parent is not None else None
        enclosing_type = parent.event_type if parent is not None else None
        event_type = None if A.GOVERNANCE_KIND in attrs else _event_type(span, attrs)
        if event_type is _ABSORBED:
            if parent is not None and enclosing_type in _ABSORBING_TYPES:
                self._open[context.span_id] = parent
                return
            event_type = A.EventTypes.TOOL_CALL if trace is not None else None
        if event_type is None:
            if parent is not None:
                self._open[context.span_id] = parent
                if trace is not None:
                    span.set_attribute(A.TRACE_ID, trace.trace_id)
            return
        explicit_id = attrs.get(A.EVENT_ID)
        event_id = (
            explicit_id
            if isinstance(explicit_id, str) and explicit_id
            else event_id_for(context.trace_id, context.span_id)
        )
        self._open[context.span_id] = _OpenSpan(trace, event_id, event_type)
        if trace is None:
            return
        stamps: dict[str, AttributeValue] = {A.TRACE_ID: trace.trace_id}
        if enclosing_id is None:
            # A top-level event follows the previous top-level event of its trace.
            follows = trace.last_top_level
            trace.last_top_level = event_id
        else:
            follows = enclosing_id
        if follows is not None and A.EVENT_PARENT_ID not in attrs:
            stamps[A.EVENT_PARENT_ID] = follows
        if (
            trace.claim_first_event()
            and trace.root_request is not None
            and A.TRACE_ROOT_REQUEST not in attrs
        ):
            stamps[A.TRACE_ROOT_REQUEST] = trace.root_request
        if trace.agent_id is not None and A.GEN_AI_AGENT_ID not in attrs:
            stamps[A.GEN_AI_AGENT_ID] = trace.agent_id
        if trace.actor_user_id is not None and A.ACTOR_USER_ID not in attrs:
            stamps[A.ACTOR_USER_ID] = trace.actor_user_id
        span.set_attributes(stamps)

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


def _event_type(span: Span, attrs: Mapping[str, AttributeValue]) -> str | None:
    """The event type a starting span has, `_ABSORBED` for a plain HTTP client span, or None."""
    explicit = attrs.get(A.EVENT_TYPE)
    if isinstance(explicit, str):
        return explicit
    operation = attrs.get(A.GEN_AI_OPERATION_NAME)
    if operation in A.LLM_OPERATIONS:
        return A.EventTypes.LLM_CALL
    if operation == A.OPERATION_EXECUTE_TOOL:
        # A tool server's own span for a call is not a second event (the exporter agrees).
        return None if span.kind is SpanKind.SERVER else A.EventTypes.TOOL_CALL
    if span.kind is SpanKind.CLIENT and (
        A.HTTP_REQUEST_METHOD in attrs or A.HTTP_METHOD_OLD in attrs
    ):
        # A tracked client's span is the user's explicit choice: never absorbed.
        return A.EventTypes.TOOL_CALL if attrs.get(A.TRACKED) is True else _ABSORBED
    return None
