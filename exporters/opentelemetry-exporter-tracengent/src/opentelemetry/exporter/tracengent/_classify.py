"""Which finished spans matter to Tracengent: the cheap test `on_end` runs on every span.

Events are spans with `tracengent.event.type`, GenAI LLM and tool spans, and HTTP client spans
inside a decision trace or from a tracked client; decision-trace roots (`invoke_agent`) send the
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
    "is_http_client",
]

Attributes = dict[str, AttributeValue]
"""A span's attributes, copied once into a plain dict."""

NOT_EXPORTED: Final = 0
"""`classify`: the span is neither an event nor a decision-trace root (db, framework, governance)."""
EVENT: Final = 1
"""`classify`: the span becomes a wire event."""
ROOT: Final = 2
"""`classify`: the span is a decision-trace root; its end sends the trace close."""

# Module constants: reading an Enum member through its class is a lookup per span.
_CLIENT: Final = SpanKind.CLIENT
_SERVER: Final = SpanKind.SERVER


def is_http_client(attrs: Mapping[str, AttributeValue], kind: SpanKind) -> bool:
    """A client span carrying an HTTP method (stable or pre-1.23 name)."""
    return kind is _CLIENT and (A.HTTP_REQUEST_METHOD in attrs or A.HTTP_METHOD_OLD in attrs)


_NOT_EXPORTED: Final = (NOT_EXPORTED, "", False)
_ROOT: Final = (ROOT, "", False)


def classify_for_export(
    attrs: Mapping[str, AttributeValue], kind: SpanKind
) -> tuple[int, str, bool]:
    """`classify` and, for an EVENT, its type, in one pass: `(kind, event type, is HTTP client)`.

    The exporter's path; `classify` is its first item. The type is
    `tracengent.event.type` when set, else `llm_call` for GenAI LLM operations and `tool_call`
    for tool and HTTP client spans; it is "" unless the kind is EVENT.
    """
    if A.GOVERNANCE_KIND in attrs:
        return _NOT_EXPORTED
    get = attrs.get
    operation = get(A.GEN_AI_OPERATION_NAME)
    if operation == A.OPERATION_INVOKE_AGENT:
        return _ROOT
    is_http = is_http_client(attrs, kind)
    event_type = get(A.EVENT_TYPE)
    if isinstance(event_type, str):
        return EVENT, event_type, is_http
    if operation in A.LLM_OPERATIONS:
        return EVENT, EventTypes.LLM_CALL, is_http
    if operation == A.OPERATION_EXECUTE_TOOL:
        # A tool server's own span for the call (an MCP server's `tools/call`) is the same call
        # the client's span already stands for: one event, not two.
        if kind is _SERVER:
            return _NOT_EXPORTED
        return EVENT, EventTypes.TOOL_CALL, is_http
    if is_http and (A.TRACE_ID in attrs or get(A.TRACKED) is True):
        # HTTP spans nested under an LLM/tool event carry neither, so they are not counted twice.
        return EVENT, EventTypes.TOOL_CALL, True
    return _NOT_EXPORTED


def classify(attrs: Mapping[str, AttributeValue], kind: SpanKind) -> int:
    """`EVENT`, `ROOT` or `NOT_EXPORTED`: a few dict lookups, cheap enough for `on_end`."""
    return classify_for_export(attrs, kind)[0]
