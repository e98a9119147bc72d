"""Reading the SDK's finished spans at the cost of a field, not of a property call.

Each `ReadableSpan` property (`name`, `context`, `kind`, `start_time`, `end_time`, `status`,
`attributes`) is a Python function returning one private field (`attributes` wraps it in a new
read-only proxy), and `SpanContext.trace_id`/`span_id` return items of
the tuple it is. On the exporter's per-span path those calls are a tenth of the translation's
time, so the translator reads the fields themselves, but only for spans of the exact classes
checked here, once, at import: the SDK's `ReadableSpan` (what its span processors hand over at
`on_end`), `RecordedSpan` (the recorder's finished spans, which add a field and override nothing),
`Status` and `SpanContext`, and only when a probe built with distinct values reads the same through
the fields as through the properties. Any other class (another subclass, another SDK), or an SDK
whose fields moved, is read through the public properties, unchanged. Nothing is written.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

__all__ = [
    "DIRECT_CONTEXT",
    "DIRECT_SPAN",
    "DIRECT_STATUS",
    "RECORDED_SPAN",
    "RecordedSpan",
    "fields_match_properties",
]


class RecordedSpan(ReadableSpan):
    """A finished span of Tracengent's recorder: a `ReadableSpan` naming the payload texts it
    wrote with orjson.

    Attributes:
        json_texts: texts orjson wrote for this span's payload attributes, each one JSON value
            other than `null` (none unless set after construction). The exporter embeds a payload
            attribute *equal* to one of them without reading it again (what changed it since, a
            processor masking it, makes it unequal, and it is read as any other text);
            everything else is `ReadableSpan`'s, constructor included.
    """

    json_texts: tuple[str, ...] = ()


class _NotDirect:
    """A class no span, status or context is: `x.__class__ is _NotDirect` is always false."""


def fields_match_properties(span_class: type[ReadableSpan] = ReadableSpan) -> bool:
    """Whether this SDK's `span_class`, `Status` and `SpanContext` fields hold what their
    properties return (each checked on a probe with a distinct value per field)."""
    try:
        context = SpanContext(trace_id=0x0123, span_id=0x0456, is_remote=False)
        status = Status(StatusCode.ERROR, "probe")
        span = span_class(
            name="probe",
            context=context,
            kind=SpanKind.CLIENT,
            start_time=11,
            end_time=13,
            status=status,
            attributes={"probe": 1},
            # Given, so the probe never runs the resource detectors `Resource.create` would.
            resource=Resource.get_empty(),
        )
        return (
            span._name is span.name
            and span._context is span.context is context
            and span._kind is span.kind is SpanKind.CLIENT
            and span._start_time == span.start_time == 11
            and span._end_time == span.end_time == 13
            and span._status is span.status is status
            and dict(span._attributes or {}) == dict(span.attributes or {}) == {"probe": 1}
            and status._status_code is status.status_code is StatusCode.ERROR
            and context[0] == context.trace_id == 0x0123
            and context[1] == context.span_id == 0x0456
        )
    except Exception:  # noqa: BLE001 - any surprise means: use the properties
        return False


_DIRECT: Final = fields_match_properties()
DIRECT_SPAN: Final[type] = ReadableSpan if _DIRECT else _NotDirect
"""The span class whose fields the translator reads directly (`_NotDirect` when none is)."""
RECORDED_SPAN: Final[type] = (
    RecordedSpan if _DIRECT and fields_match_properties(RecordedSpan) else _NotDirect
)
"""`RecordedSpan` when its fields are read directly too (`_NotDirect` when not)."""
DIRECT_STATUS: Final[type] = Status if _DIRECT else _NotDirect
"""The status class whose `_status_code` the translator reads directly."""
DIRECT_CONTEXT: Final[type] = SpanContext if _DIRECT else _NotDirect
"""The span context class whose ids the translator reads as tuple items."""
