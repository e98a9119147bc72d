"""Which finished spans matter to Tracengent: the cheap test `on_end` runs on every span.

Events are spans with `tracengent.event.type`, GenAI LLM and tool spans (except one nested in a
Tracengent event of its kind: `tracengent.event.absorbed`), and HTTP client spans inside a
decision trace or from a tracked client; decision-trace roots (`invoke_agent`) send the
trace close. Everything else (databases, frameworks, governance spans) is skipped at once.

A span another instrumentation made may end with fewer attributes than it had: past the SDK's
span attribute count limit (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, 128 by default) the SDK evicts
the oldest ones, on a GenAI span its `gen_ai.operation.name` and the decision-trace stamps the
context processor set as it started. The context processor remembers those from the start and,
as such a span ends (it runs first), notes what the span lost here (`note_trimmed`); the export
processor and the router, reading that only while something is noted (`TRIMMED` is not empty)
and only for a span that dropped attributes, classify and send the span with them
(`restore_trimmed`). The span itself is left as the SDK kept it: other exporters see no change.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Final

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.attributes import EventTypes

__all__ = [
    "EVENT",
    "NOT_EXPORTED",
    "ROOT",
    "TRIMMED",
    "Attributes",
    "classify",
    "classify_for_export",
    "lost_by",
    "note_trimmed",
    "restore_trimmed",
]

Attributes = dict[str, AttributeValue]
"""A span's attributes, copied once into a plain dict."""

NOT_EXPORTED: Final = 0
"""`classify`: the span is neither an event nor a decision-trace root (db, framework, governance)."""
EVENT: Final = 1
"""`classify`: the span becomes a wire event."""
ROOT: Final = 2
"""`classify`: the span is a decision-trace root; its end sends the trace close."""

# Module constants: reading an Enum member through its class, or a name through a module, is a
# lookup per span.
_CLIENT: Final = SpanKind.CLIENT
_SERVER: Final = SpanKind.SERVER
_GOVERNANCE_KIND: Final = A.GOVERNANCE_KIND
_OPERATION: Final = A.GEN_AI_OPERATION_NAME
_INVOKE_AGENT: Final = A.OPERATION_INVOKE_AGENT
_EXECUTE_TOOL: Final = A.OPERATION_EXECUTE_TOOL
_LLM_OPERATIONS: Final = A.LLM_OPERATIONS
_EVENT_TYPE: Final = A.EVENT_TYPE
_HTTP_METHOD: Final = A.HTTP_REQUEST_METHOD
_HTTP_METHOD_OLD: Final = A.HTTP_METHOD_OLD
_TRACE_ID: Final = A.TRACE_ID
_TRACKED: Final = A.TRACKED
_ABSORBED: Final = A.EVENT_ABSORBED
_LLM_CALL: Final = EventTypes.LLM_CALL
_TOOL_CALL: Final = EventTypes.TOOL_CALL


_NOT_EXPORTED: Final = (NOT_EXPORTED, "", False)
_ROOT: Final = (ROOT, "", False)


def classify_for_export(
    attrs: Mapping[str, AttributeValue], kind: SpanKind
) -> tuple[int, str, bool]:
    """`classify` and, for an EVENT, its type, in one pass: `(kind, event type, is HTTP client)`.

    `classify` is its first item; the exporter's translator inlines this rule in its per-span
    loop (`SpanTranslator._events`, held equal to it by a test). The type is
    `tracengent.event.type` when it is text, else `llm_call` for GenAI LLM operations and
    `tool_call` for tool and HTTP client spans; it is "" unless the kind is EVENT. A span whose
    `tracengent.event.type` is set but not text (`AgentEvent(type=None)`) and that is none of
    those is an EVENT of type "": the translator refuses a type outside the contract and counts
    it, so the event is never lost uncounted.
    """
    if _GOVERNANCE_KIND in attrs:
        return _NOT_EXPORTED
    get = attrs.get
    operation = get(_OPERATION)
    if operation == _INVOKE_AGENT:
        return _ROOT
    # A client span carrying an HTTP method (stable or pre-1.23 name).
    is_http = kind is _CLIENT and (_HTTP_METHOD in attrs or _HTTP_METHOD_OLD in attrs)
    event_type = get(_EVENT_TYPE)
    if isinstance(event_type, str):
        return EVENT, event_type, is_http
    if operation in _LLM_OPERATIONS:
        # Nested in our `llm_call` event of the same call (`tracengent.event.absorbed`): not two.
        if _ABSORBED in attrs:
            return _NOT_EXPORTED
        return EVENT, _LLM_CALL, is_http
    if operation == _EXECUTE_TOOL:
        # A tool server's own span for the call (an MCP server's `tools/call`) is the same call
        # the client's span already stands for: one event, not two; so is a span nested in our
        # `tool_call` event of the call (`tracengent.event.absorbed`).
        if kind is _SERVER or _ABSORBED in attrs:
            return _NOT_EXPORTED
        return EVENT, _TOOL_CALL, is_http
    if is_http and (_TRACE_ID in attrs or get(_TRACKED) is True):
        # HTTP spans nested under an LLM/tool event carry neither, so they are not counted twice.
        return EVENT, _TOOL_CALL, True
    if event_type is not None or _EVENT_TYPE in attrs:
        return EVENT, "", is_http
    return _NOT_EXPORTED


def classify(attrs: Mapping[str, AttributeValue], kind: SpanKind) -> int:
    """`EVENT`, `ROOT` or `NOT_EXPORTED`: a few dict lookups, cheap enough for `on_end`."""
    return classify_for_export(attrs, kind)[0]


TRIMMED: Final[dict[weakref.ref[ReadableSpan], Attributes]] = {}
"""Finished spans that lost attributes the context processor remembered (see the module
docstring) → those attributes. An entry goes with its span: only its weak reference is kept. A
plain dict, so the processors' `if TRIMMED` costs a global read while it is empty (always, but
while a trimmed span is around); never rebound."""


def _forget(ref: weakref.ref[ReadableSpan]) -> None:
    # A dead reference keeps the hash it had and equals only itself: this pops its own entry.
    TRIMMED.pop(ref, None)


def note_trimmed(span: ReadableSpan, lost: Attributes) -> None:
    """Note that `span`, ending, lost `lost` to the attribute count limit (the context
    processor calls it from `on_end`, before the processors after it read the span). Raises
    TypeError for a span that cannot be weakly referenced (the caller counts it)."""
    TRIMMED[weakref.ref(span, _forget)] = lost


def lost_by(span: ReadableSpan) -> Attributes | None:
    """What `note_trimmed` noted for `span`; None when nothing was. Never raises."""
    try:
        return TRIMMED.get(weakref.ref(span))
    except TypeError:  # not weakly referenceable: never noted
        return None


def restore_trimmed(span: ReadableSpan, attrs: Attributes) -> tuple[ReadableSpan, Attributes]:
    """`(span, attrs)` with what `span` lost to the attribute count limit restored: a copy of
    the span with its attributes and, under them, the lost ones (the same dropped count), and
    those attributes; `(span, attrs)` themselves when nothing was noted for it. For a span
    that dropped attributes while `TRIMMED` is not empty only: the export processor queues the
    copy (the export thread reads a queued span's attributes again). Never raises."""
    lost = lost_by(span)
    if not lost:
        return span, attrs
    merged = {**lost, **attrs}
    try:
        kept = BoundedAttributes(None, merged, immutable=True)
        kept.dropped = span.dropped_attributes
        copy = ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=kept,
            events=span.events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
    except Exception:  # noqa: BLE001 - an odd span: classified with the attributes it kept
        return span, attrs
    return copy, merged
