"""A decision-trace root span → its trace close (§3); I/O-free, called on the export thread."""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import ROOT, Attributes, classify
from opentelemetry.exporter.tracengent._fields import text
from opentelemetry.exporter.tracengent.attributes import TraceStatuses
from opentelemetry.exporter.tracengent.ids import trace_id_for
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject

__all__ = ["trace_close_of"]


def trace_close_of(
    span: ReadableSpan,
    attrs: Attributes,
    agent_id: str,
    *,
    format_time: Callable[[int], str],
) -> JsonObject | None:
    """The trace close a decision-trace root span sends when it ends; None for other spans.

    The agent is the span's `gen_ai.agent.id`, else `agent_id`. Status:
    `tracengent.trace.status` when it is `completed`/`failed`, else span status ERROR (the trace
    ended by an exception) → failed, else completed.

    Raises:
        ValueError: the span has no span context.
    """
    if classify(attrs, span.kind) != ROOT:
        return None
    context = span.context
    if context is None:
        raise ValueError(f"span {span.name!r} has no span context")
    trace_id = text(attrs.get(A.TRACE_ID)) or trace_id_for(context.trace_id, context.span_id)
    wire: JsonObject = {
        "traceId": trace_id,
        "agentId": text(attrs.get(A.GEN_AI_AGENT_ID)) or agent_id,
    }
    if (root_request := text(attrs.get(A.TRACE_ROOT_REQUEST))) is not None:
        wire["rootRequest"] = root_request
    wire["op"] = "Close"
    status = text(attrs.get(A.TRACE_STATUS))
    if status not in TraceStatuses.ALL:
        failed = span.status.status_code is StatusCode.ERROR
        status = TraceStatuses.FAILED if failed else TraceStatuses.COMPLETED
    wire["status"] = status
    ended = span.end_time if span.end_time is not None else span.start_time
    wire["occurredAt"] = format_time(ended if ended is not None else time.time_ns())
    if (summary := text(attrs.get(A.TRACE_SUMMARY))) is not None:
        wire["summary"] = summary
    return wire
