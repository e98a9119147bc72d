"""Which finished spans matter to Tracengent: the cheap test `on_end` runs on every span.

Events are spans with `tracengent.event.type`, GenAI LLM and tool spans (except one nested in a
Tracengent event of its kind: `tracengent.event.absorbed`), and HTTP client spans inside a
decision trace or from a tracked client; decision-trace roots (`invoke_agent`) send the
trace close. Everything else (databases, frameworks, governance spans) is skipped at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.attributes import EventTypes

__all__ = [
    "EVENT",
    "NOT_EXPORTED",
    "ROOT",
    "Attributes",
    "classify",
    "classify_for_export",
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
