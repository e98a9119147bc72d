"""Finished spans → wire events (§2) and trace closes (§3); I/O-free, called on the export thread.

Each span's attributes are copied once (`_classify.attributes_of`) and every rule below reads
that copy.
The dicts are built directly in `AgentEvent.to_wire()` / `TraceClose.to_wire()` order, nulls
omitted, so the bytes equal what the wire model would produce without building dataclasses.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import urlsplit, urlunsplit

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import (
    EVENT,
    ROOT,
    Attributes,
    classify,
    is_http_client,
)
from opentelemetry.exporter.tracengent.attributes import EventStatuses, EventTypes, TraceStatuses
from opentelemetry.exporter.tracengent.ids import event_id_for, trace_id_for
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.wire import merge_tags

__all__ = [
    "NonFiniteNumberError",
    "TimestampFormatter",
    "TranslationSettings",
    "event_of_classified",
    "span_to_event",
    "span_to_trace_close",
]


class TimestampFormatter:
    """Formats span times (ns since the epoch) like `wire.format_timestamp`, caching per second.

    Safe to share between threads: the cached second and its prefix are replaced as one tuple.
    """

    def __init__(self) -> None:
        self._cached: tuple[int, str] = (-1, "")

    def __call__(self, time_ns: int) -> str:
        """`2026-11-24T10:15:02.123456+00:00` (microseconds truncated, as `datetime` keeps them)."""
        second, nanos = divmod(time_ns, 1_000_000_000)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cached = (second, prefix)
        return f"{prefix}.{nanos // 1000:06d}+00:00"


@dataclass(frozen=True)
class TranslationSettings:
    """What translation needs from the options, computed once per exporter."""

    agent_id: str
    environment: str
    default_tags: tuple[str, ...]

    @property
    def base_tags(self) -> list[str]:
        """The tags of an event that has none of its own."""
        return merge_tags(self.environment, self.default_tags, None)


class NonFiniteNumberError(ValueError):
    """A NaN or infinite number: JSON cannot carry it, so its event cannot be sent."""


def _reject_constant(literal: str) -> float:
    raise NonFiniteNumberError(f"{literal} is not a JSON number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise NonFiniteNumberError(f"{literal} overflows a JSON number")
    return number


# One decoder, built once: `json.loads` with hooks builds a new one per call.
_STRICT_DECODER: Final = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_finite_float
)
_LONG_DIGITS: Final = re.compile(r"\d{19}")


def _json_or_raw(value: AttributeValue | None) -> JsonValue:
    """A payload attribute decoded as JSON; text that is not JSON stays the raw string.

    Raises:
        NonFiniteNumberError: the payload holds NaN or an infinity.
    """
    if isinstance(value, str):
        if _LONG_DIGITS.search(value) is None:
            # orjson is several times faster; it refuses NaN, infinities and overflowing numbers
            # (the standard decoder below then says which). A run of 19+ digits may be an
            # integer beyond 64 bits, which orjson would turn into a float: the exact decoder
            # takes those.
            try:
                fast: JsonValue = orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
            else:
                return fast
        try:
            decoded: JsonValue = _STRICT_DECODER.decode(value)
        except json.JSONDecodeError:
            return value
        return decoded
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [
            _number(item) if isinstance(item, float) else item
            for item in value
            if isinstance(item, (str, bool, int, float))
        ]
    return None


def _number(value: AttributeValue | None) -> int | float | None:
    """An int or finite float; None for other types.

    Raises:
        NonFiniteNumberError: for NaN and infinities.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NonFiniteNumberError(f"{value} is not a JSON number")
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _text(value: AttributeValue | None) -> str | None:
    return value if isinstance(value, str) and value else None


def _http_details(attrs: Attributes, span_name: str) -> tuple[str, JsonObject, bool]:
    """`(name, attributes, failed)` of an HTTP client span: `"GET host/path"`, method/url/status."""
    method = _text(attrs.get(A.HTTP_REQUEST_METHOD)) or _text(attrs.get(A.HTTP_METHOD_OLD)) or "GET"
    url = _text(attrs.get(A.URL_FULL)) or _text(attrs.get(A.HTTP_URL_OLD))
    raw_code = attrs.get(A.HTTP_RESPONSE_STATUS_CODE, attrs.get(A.HTTP_STATUS_CODE_OLD))
    status_code = _number(raw_code)
    if status_code is None and isinstance(raw_code, str) and raw_code.isdigit():
        status_code = int(raw_code)
    details: JsonObject = {"method": method}
    if url is not None:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        if host != parts.netloc:
            url = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
        name = f"{method} {host}{parts.path or '/'}"
        details["url"] = url
    else:
        server = _text(attrs.get(A.SERVER_ADDRESS))
        name = f"{method} {server}" if server else span_name
    if status_code is not None:
        details["statusCode"] = status_code
    return name, details, status_code is not None and status_code >= 400


def _event_type(attrs: Attributes, is_http: bool) -> str | None:
    explicit = attrs.get(A.EVENT_TYPE)
    if isinstance(explicit, str):
        return explicit
    operation = attrs.get(A.GEN_AI_OPERATION_NAME)
    if operation in A.LLM_OPERATIONS:
        return EventTypes.LLM_CALL
    if operation == A.OPERATION_EXECUTE_TOOL or is_http:
        return EventTypes.TOOL_CALL
    return None


def _usage(attrs: Attributes) -> JsonObject | None:
    input_tokens = _number(attrs.get(A.GEN_AI_USAGE_INPUT_TOKENS))
    output_tokens = _number(attrs.get(A.GEN_AI_USAGE_OUTPUT_TOKENS))
    if input_tokens is not None or output_tokens is not None:
        tokens: int | float | None = (input_tokens or 0) + (output_tokens or 0)
    else:
        tokens = _number(attrs.get(A.USAGE_TOKENS))
    if tokens is None:
        return None
    usage: JsonObject = {"tokens": tokens}
    model = (
        _text(attrs.get(A.GEN_AI_RESPONSE_MODEL))
        or _text(attrs.get(A.GEN_AI_REQUEST_MODEL))
        or _text(attrs.get(A.USAGE_MODEL))
    )
    if model is not None:
        usage["model"] = model
    return usage


def _tags(attrs: Attributes, settings: TranslationSettings, base_tags: list[str]) -> list[str]:
    own = attrs.get(A.EVENT_TAGS)
    if own is None:
        return list(base_tags)
    if isinstance(own, str):
        own_tags = [own]
    elif isinstance(own, Sequence):
        own_tags = [tag for tag in own if isinstance(tag, str)]
    else:
        own_tags = []
    return merge_tags(settings.environment, settings.default_tags, own_tags)


def span_to_event(
    span: ReadableSpan,
    attrs: Attributes,
    settings: TranslationSettings,
    *,
    format_time: TimestampFormatter,
    base_tags: list[str] | None = None,
) -> JsonObject | None:
    """The wire event a span becomes, or None when it is not an event (see `classify`).

    `attrs` is `attributes_of(span)`; `base_tags` (`settings.base_tags`, precomputed) saves the
    merge for events without tags of their own.

    Raises:
        ValueError: the span has no context, or a number in it is NaN or infinite (such an event
            cannot be sent; the exporter drops it alone and counts it).
    """
    kind = span.kind
    if classify(attrs, kind) != EVENT:
        return None
    return event_of_classified(
        span,
        attrs,
        settings,
        kind,
        format_time=format_time,
        base_tags=settings.base_tags if base_tags is None else base_tags,
    )


def event_of_classified(
    span: ReadableSpan,
    attrs: Attributes,
    settings: TranslationSettings,
    kind: SpanKind,
    *,
    format_time: TimestampFormatter,
    base_tags: list[str],
) -> JsonObject | None:
    """`span_to_event` for a span `classify` already found to be an EVENT (the exporter's path).

    Most optional attributes are absent, so each is read once and handled only when present.
    """
    get = attrs.get
    is_http = is_http_client(attrs, kind)
    event_type = _event_type(attrs, is_http)
    if event_type is None:
        return None
    context = span.context
    if context is None:
        raise ValueError(f"span {span.name!r} has no span context")
    wire: JsonObject = {}
    value = get(A.EVENT_ID)
    wire["eventId"] = (
        value
        if isinstance(value, str) and value
        else event_id_for(context.trace_id, context.span_id)
    )
    if (value := get(A.EVENT_IDEMPOTENCY_KEY)) is not None and isinstance(value, str):
        wire["idempotencyKey"] = value
    value = get(A.GEN_AI_AGENT_ID)
    wire["agentId"] = value if isinstance(value, str) and value else settings.agent_id
    if (trace_id := get(A.TRACE_ID)) is not None and isinstance(trace_id, str):
        wire["traceId"] = trace_id
        if (value := get(A.EVENT_PARENT_ID)) is not None and isinstance(value, str):
            wire["parentEventId"] = value
    http_attributes: JsonObject | None = None
    http_failed = False
    operation = get(A.GEN_AI_OPERATION_NAME)
    name = get(A.EVENT_NAME)
    if not isinstance(name, str) or not name:
        name = None
    if is_http:
        http_name, http_attributes, http_failed = _http_details(attrs, span.name)
        name = name or http_name
    elif name is None and operation == A.OPERATION_EXECUTE_TOOL:
        name = _text(get(A.GEN_AI_TOOL_NAME))
    wire["type"] = event_type
    wire["name"] = name or span.name
    status = get(A.EVENT_STATUS)
    if not isinstance(status, str) or not status:
        failed = http_failed or span.status.status_code is StatusCode.ERROR
        status = EventStatuses.FAILURE if failed else EventStatuses.SUCCESS
    wire["status"] = status
    if (value := get(A.COST_AMOUNT)) is not None and (amount := _number(value)) is not None:
        wire["cost"] = {"amount": amount, "currency": _text(get(A.COST_CURRENCY)) or "USD"}
    if (
        A.GEN_AI_USAGE_INPUT_TOKENS in attrs
        or A.GEN_AI_USAGE_OUTPUT_TOKENS in attrs
        or A.USAGE_TOKENS in attrs
    ) and (usage := _usage(attrs)) is not None:
        wire["usage"] = usage
    if (value := get(A.ACTOR_USER_ID)) is not None and isinstance(value, str):
        wire["actor"] = {"userId": value}
    raw_input = get(A.INPUT)
    raw_output = get(A.OUTPUT)
    if operation == A.OPERATION_EXECUTE_TOOL:
        raw_input = raw_input if raw_input is not None else get(A.GEN_AI_TOOL_CALL_ARGUMENTS)
        raw_output = raw_output if raw_output is not None else get(A.GEN_AI_TOOL_CALL_RESULT)
    if raw_input is not None and (decoded := _json_or_raw(raw_input)) is not None:
        wire["input"] = decoded
    if raw_output is not None and (decoded := _json_or_raw(raw_output)) is not None:
        wire["output"] = decoded
    raw_attributes = get(A.ATTRIBUTES)
    if raw_attributes is not None and (decoded := _json_or_raw(raw_attributes)) is not None:
        wire["attributes"] = decoded
    elif http_attributes is not None:
        wire["attributes"] = http_attributes
    start = span.start_time
    occurred_at = get(A.EVENT_OCCURRED_AT)
    if isinstance(occurred_at, str) and occurred_at:
        wire["occurredAt"] = occurred_at
    elif start is not None:
        wire["occurredAt"] = format_time(start)
    if get(A.EVENT_INSTANT) is not True:
        value = get(A.EVENT_DURATION_MS)
        duration = None if value is None else _number(value)
        if duration is None and start is not None and (end := span.end_time) is not None:
            duration = (end - start) / 1e6
        if duration is not None:
            wire["durationMs"] = duration
    own_tags = get(A.EVENT_TAGS)
    tags = base_tags.copy() if own_tags is None else _tags(attrs, settings, base_tags)
    wire["tags"] = cast("list[JsonValue]", tags)
    if (value := get(A.TRACE_ROOT_REQUEST)) is not None and isinstance(value, str):
        wire["rootRequest"] = value
    return wire


def span_to_trace_close(
    span: ReadableSpan,
    attrs: Attributes,
    settings: TranslationSettings,
    *,
    format_time: TimestampFormatter,
) -> JsonObject | None:
    """The trace close (§3) a decision-trace root span sends when it ends; None for other spans.

    Status: `tracengent.trace.status` when it is `completed`/`failed`, else span status ERROR (the
    trace ended by an exception) → failed, else completed.
    """
    if classify(attrs, span.kind) != ROOT:
        return None
    context = span.context
    if context is None:
        raise ValueError(f"span {span.name!r} has no span context")
    trace_id = _text(attrs.get(A.TRACE_ID)) or trace_id_for(context.trace_id, context.span_id)
    wire: JsonObject = {
        "traceId": trace_id,
        "agentId": _text(attrs.get(A.GEN_AI_AGENT_ID)) or settings.agent_id,
    }
    if (root_request := _text(attrs.get(A.TRACE_ROOT_REQUEST))) is not None:
        wire["rootRequest"] = root_request
    wire["op"] = "Close"
    status = _text(attrs.get(A.TRACE_STATUS))
    if status not in TraceStatuses.ALL:
        failed = span.status.status_code is StatusCode.ERROR
        status = TraceStatuses.FAILED if failed else TraceStatuses.COMPLETED
    wire["status"] = status
    ended = span.end_time if span.end_time is not None else span.start_time
    wire["occurredAt"] = format_time(ended if ended is not None else time.time_ns())
    if (summary := _text(attrs.get(A.TRACE_SUMMARY))) is not None:
        wire["summary"] = summary
    return wire
