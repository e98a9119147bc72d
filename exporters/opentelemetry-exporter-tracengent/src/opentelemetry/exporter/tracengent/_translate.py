"""Finished spans → wire events (§2) and trace closes (§3); I/O-free, called on the export thread.

The exporter hands a whole batch to `SpanTranslator.translate`. Each event span becomes a dict
built directly in `AgentEvent.to_wire()` order, nulls omitted, its payload text embedded as it is
(`_payloads.payload_fragment`: validated by orjson, never decoded and re-encoded); the events are
then encoded by one orjson call per request, so the bytes are what the wire model would produce.
The per-span code is kept lean (translation is most of the exporter's CPU): each attribute is read
once, attributes few spans carry are read only when the span has one, and what repeats across a
batch is done once: the event id part of a trace and the timestamp prefix of a second. An event
orjson cannot encode (an integer beyond 64 bits outside a payload, a lone surrogate) is encoded
alone by the standard library, or dropped and counted when it has no JSON encoding at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import (
    EVENT,
    ROOT,
    Attributes,
    classify,
    classify_for_export,
)
from opentelemetry.exporter.tracengent._fields import (
    TimestampFormatter,
    http_details,
    merged_tags,
    text,
    usage,
)
from opentelemetry.exporter.tracengent._payloads import (
    NonFiniteNumberError,
    finite_number,
    json_or_raw,
    payload_fragment,
)
from opentelemetry.exporter.tracengent.attributes import EventStatuses, TraceStatuses
from opentelemetry.exporter.tracengent.ids import event_id_for, trace_id_for
from opentelemetry.exporter.tracengent.jsonvalue import (
    EncodedBatch,
    JsonObject,
    JsonValue,
    dumps_compact,
    json_array,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import merge_tags

__all__ = [
    "MAX_BODY_BYTES",
    "NonFiniteNumberError",
    "SpanTranslator",
    "TimestampFormatter",
    "TranslatedBatch",
    "TranslationSettings",
    "encode_event",
    "span_to_event",
    "span_to_trace_close",
]

MAX_BODY_BYTES: Final = 1024 * 1024
"""The largest JSON body of one ingest request (an event alone above it is still sent alone)."""

# How a payload attribute becomes a wire value: embedded as it is (the exporter's path), or decoded.
_PayloadRule: TypeAlias = Callable[[AttributeValue], "JsonValue | orjson.Fragment"]

# Module-level names: the per-span code reads them as globals, without an attribute look-up.
_AGENT_ID: Final = A.GEN_AI_AGENT_ID
_OPERATION: Final = A.GEN_AI_OPERATION_NAME
_EXECUTE_TOOL: Final = A.OPERATION_EXECUTE_TOOL
_EVENT_ID: Final = A.EVENT_ID
_IDEMPOTENCY_KEY: Final = A.EVENT_IDEMPOTENCY_KEY
_TRACE_ID: Final = A.TRACE_ID
_PARENT_ID: Final = A.EVENT_PARENT_ID
_EVENT_NAME: Final = A.EVENT_NAME
_EVENT_STATUS: Final = A.EVENT_STATUS
_COST_AMOUNT: Final = A.COST_AMOUNT
_COST_CURRENCY: Final = A.COST_CURRENCY
_ACTOR: Final = A.ACTOR_USER_ID
_INPUT: Final = A.INPUT
_OUTPUT: Final = A.OUTPUT
_ATTRIBUTES: Final = A.ATTRIBUTES
_OCCURRED_AT: Final = A.EVENT_OCCURRED_AT
_INSTANT: Final = A.EVENT_INSTANT
_DURATION_MS: Final = A.EVENT_DURATION_MS
_TAGS: Final = A.EVENT_TAGS
_ROOT_REQUEST: Final = A.TRACE_ROOT_REQUEST
_RARE_KEYS: Final = frozenset(
    {
        A.EVENT_ID,
        A.EVENT_IDEMPOTENCY_KEY,
        A.EVENT_NAME,
        A.GEN_AI_USAGE_INPUT_TOKENS,
        A.GEN_AI_USAGE_OUTPUT_TOKENS,
        A.USAGE_TOKENS,
        A.EVENT_OCCURRED_AT,
        A.EVENT_DURATION_MS,
        A.EVENT_TAGS,
    }
)
"""Attributes few event spans carry (usage is built only when a token count is among them)."""
_ERROR: Final = StatusCode.ERROR
_SUCCESS: Final = EventStatuses.SUCCESS
_FAILURE: Final = EventStatuses.FAILURE
_orjson_dumps: Final = orjson.dumps
# What makes one span's event unsendable (counted `unserializable`); any other exception is a
# bug of ours, also counted as an internal error.
_EXPECTED_ERRORS: Final = (ValueError, TypeError, RecursionError)


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


@dataclass
class TranslatedBatch:
    """What a batch of spans became, in the order the spans ended.

    Attributes:
        requests: the wire events, encoded, as the ingest requests that carry them (each within
            the batch size and body limit it was translated with).
        closes: the trace closes of the decision-trace roots.
        unserializable: spans whose event cannot be sent (NaN, a value JSON cannot hold).
        internal_errors: unexpected exceptions met (each one's span is in `unserializable`).
    """

    requests: list[EncodedBatch] = field(default_factory=list)
    closes: list[JsonObject] = field(default_factory=list)
    unserializable: int = 0
    internal_errors: list[Exception] = field(default_factory=list)

    def count_failure(self, exc: Exception) -> None:
        """Count one span whose event cannot be sent because of `exc`."""
        self.unserializable += 1
        if not isinstance(exc, _EXPECTED_ERRORS):
            self.internal_errors.append(exc)


def encode_event(event: JsonObject) -> bytes:
    """The event's compact JSON, made once: it isolates a bad event and sizes the batch.

    orjson is ~15x faster than `json` here; translation already refused NaN and infinities
    (which orjson would write as null). What orjson refuses (an int beyond 64 bits, nesting
    deeper than it goes) is written by `json`.

    Raises:
        ValueError, TypeError: the event has no JSON encoding.
    """
    try:
        return _orjson_dumps(event)
    except TypeError:
        return dumps_compact(event).encode()


def _array_of(encodings: list[bytes]) -> EncodedBatch:
    """A request of the events encoded as `encodings`."""
    return EncodedBatch.of_array(json_array(encodings), len(encodings))


class SpanTranslator:
    """Turns finished spans into encoded wire events and trace closes, for one exporter.

    Safe to share between threads: its caches (the last trace's event id prefix, the timestamp
    of the last second) are replaced as whole tuples.

    Args:
        settings: the agent id, environment and default tags.
        format_time: the timestamp formatter (a new one by default).
    """

    def __init__(
        self, settings: TranslationSettings, *, format_time: TimestampFormatter | None = None
    ) -> None:
        self._settings = settings
        self._agent_id = settings.agent_id
        self._base_tags = settings.base_tags
        self._format_time = format_time if format_time is not None else TimestampFormatter()
        # (trace id, `evt_<its hex>`) of the last trace seen, replaced as one tuple: formatting
        # 128 bits costs more than the rest of the id, and a batch holds few traces.
        self._id_prefix: tuple[int | None, str] = (None, "")

    def translate(
        self,
        entries: Sequence[tuple[ReadableSpan, Attributes]],
        *,
        own_agent: str | None = None,
        max_batch_size: int = TracengentOptions.max_batch_size,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> TranslatedBatch:
        """Translate and encode `entries` (`(span, attributes_of(span))`). Never raises.

        Args:
            entries: the spans, in the order they ended, with their attributes copied.
            own_agent: when set, spans stamped with another agent's id are skipped (another
                agent's client on the same provider exports them with its credentials).
            max_batch_size: the most events one request carries.
            max_body_bytes: the largest JSON array one request carries (an event alone above it
                still goes, alone).
        """
        batch = TranslatedBatch()
        events: list[JsonObject] = []
        origins: list[tuple[ReadableSpan, Attributes]] = []
        for entry in entries:
            span, attrs = entry
            try:
                kind, event_type, is_http = classify_for_export(attrs, span.kind)
                if kind != EVENT:
                    if kind == ROOT and (
                        own_agent is None or attrs.get(_AGENT_ID, own_agent) == own_agent
                    ):
                        close = self.trace_close(span, attrs)
                        if close is not None:
                            batch.closes.append(close)
                    continue
                if own_agent is not None and attrs.get(_AGENT_ID, own_agent) != own_agent:
                    continue
                events.append(self._event(span, attrs, event_type, is_http, payload_fragment))
                origins.append(entry)
            except Exception as exc:  # noqa: BLE001 - one bad span must not sink its batch-mates
                batch.count_failure(exc)
        size = max(1, max_batch_size)
        for start in range(0, len(events), size):
            chunk = events if len(events) <= size else events[start : start + size]
            try:
                array: bytes | None = _orjson_dumps(chunk)
            except TypeError:
                array = None  # orjson refuses one of them: each is encoded alone below
            if array is not None and len(array) <= max_body_bytes:
                batch.requests.append(EncodedBatch.of_array(array, len(chunk)))
            else:
                self._encode_each(chunk, origins[start : start + size], batch, max_body_bytes)
        return batch

    def _encode_each(
        self,
        events: list[JsonObject],
        origins: list[tuple[ReadableSpan, Attributes]],
        batch: TranslatedBatch,
        max_body_bytes: int,
    ) -> None:
        """Encode `events` one by one into requests of at most `max_body_bytes`; an event that
        has no JSON encoding is counted and left out."""
        encodings: list[bytes] = []
        size = 2  # the array's brackets
        for event, (span, attrs) in zip(events, origins, strict=True):
            try:
                encoded = self._encode_alone(event, span, attrs)
            except Exception as exc:  # noqa: BLE001 - counted; its batch-mates still go
                batch.count_failure(exc)
                continue
            if encodings and size + 1 + len(encoded) > max_body_bytes:
                batch.requests.append(_array_of(encodings))
                encodings = []
                size = 2
            size += len(encoded) + (1 if encodings else 0)
            encodings.append(encoded)
        if encodings:
            batch.requests.append(_array_of(encodings))

    def _encode_alone(self, event: JsonObject, span: ReadableSpan, attrs: Attributes) -> bytes:
        """`encode_event(event)`; when the event embeds payload text, which the standard
        library cannot write, from the event translated again as plain values.

        Raises:
            ValueError, TypeError: the event has no JSON encoding.
        """
        try:
            return encode_event(event)
        except TypeError:
            pass
        _, event_type, is_http = classify_for_export(attrs, span.kind)
        plain = self._event(span, attrs, event_type, is_http, json_or_raw)
        return dumps_compact(plain).encode()

    def event(self, span: ReadableSpan, attrs: Attributes) -> JsonObject | None:
        """The wire event of one span, or None when it is not an event.

        Raises:
            ValueError: no span context, or a NaN/infinite number.
        """
        kind, event_type, is_http = classify_for_export(attrs, span.kind)
        if kind != EVENT:
            return None
        event = self._event(span, attrs, event_type, is_http, json_or_raw)
        event["tags"] = list(event["tags"])  # type: ignore[arg-type]  # the caller's own list
        return event

    def _event(
        self,
        span: ReadableSpan,
        attrs: Attributes,
        event_type: str,
        is_http: bool,
        payload: _PayloadRule,
    ) -> JsonObject:
        """The wire event, its payloads made by `payload` (`payload_fragment` or `json_or_raw`)."""
        get = attrs.get
        rare = not _RARE_KEYS.isdisjoint(attrs)
        context = span.context
        if context is None:
            raise ValueError(f"span {span.name!r} has no span context")
        event_id = get(_EVENT_ID) if rare else None
        if not isinstance(event_id, str) or not event_id:
            # `ids.event_id_for`, its trace part formatted once per trace.
            trace_id = context.trace_id
            cached_trace, prefix = self._id_prefix
            if trace_id != cached_trace:
                prefix = f"evt_{trace_id:032x}"
                self._id_prefix = (trace_id, prefix)
            span_id = context.span_id
            try:
                # The same 16 lowercase hex digits as `:016x`, for any id that fits 64 bits.
                event_id = prefix + span_id.to_bytes(8, "big").hex()
            except OverflowError:
                event_id = event_id_for(trace_id, span_id)
        wire: JsonObject = {"eventId": event_id}
        if rare and isinstance(value := get(_IDEMPOTENCY_KEY), str):
            wire["idempotencyKey"] = value
        value = get(_AGENT_ID)
        wire["agentId"] = value if isinstance(value, str) and value else self._agent_id
        if isinstance(value := get(_TRACE_ID), str):
            wire["traceId"] = value
            if isinstance(value := get(_PARENT_ID), str):
                wire["parentEventId"] = value
        wire["type"] = event_type
        operation = get(_OPERATION)
        http_attributes: JsonObject | None = None
        http_failed = False
        if rare or is_http or operation is not None:
            name = get(_EVENT_NAME) if rare else None
            if not isinstance(name, str) or not name:
                name = None
            if is_http:
                http_name, http_attributes, http_failed = http_details(attrs, span.name)
                name = name or http_name
            elif name is None and operation == _EXECUTE_TOOL:
                name = text(get(A.GEN_AI_TOOL_NAME))
            wire["name"] = name or span.name
        else:
            wire["name"] = span.name
        status = get(_EVENT_STATUS)
        if not isinstance(status, str) or not status:
            failed = http_failed or span.status.status_code is _ERROR
            status = _FAILURE if failed else _SUCCESS
        wire["status"] = status
        if (value := get(_COST_AMOUNT)) is not None and (
            amount := finite_number(value)
        ) is not None:
            currency = get(_COST_CURRENCY)
            wire["cost"] = {
                "amount": amount,
                "currency": currency if isinstance(currency, str) and currency else "USD",
            }
        if rare and (event_usage := usage(attrs)) is not None:
            wire["usage"] = event_usage
        if isinstance(value := get(_ACTOR), str):
            wire["actor"] = {"userId": value}
        raw = get(_INPUT)
        if raw is None and operation == _EXECUTE_TOOL:
            raw = get(A.GEN_AI_TOOL_CALL_ARGUMENTS)
        if raw is not None and (decoded := payload(raw)) is not None:
            wire["input"] = decoded  # type: ignore[assignment]  # a JSON value or its text
        raw = get(_OUTPUT)
        if raw is None and operation == _EXECUTE_TOOL:
            raw = get(A.GEN_AI_TOOL_CALL_RESULT)
        if raw is not None and (decoded := payload(raw)) is not None:
            wire["output"] = decoded  # type: ignore[assignment]  # a JSON value or its text
        raw = get(_ATTRIBUTES)
        if raw is not None and (decoded := payload(raw)) is not None:
            wire["attributes"] = decoded  # type: ignore[assignment]  # a JSON value or its text
        elif http_attributes is not None:
            wire["attributes"] = http_attributes
        start = span.start_time
        value = get(_OCCURRED_AT) if rare else None
        if isinstance(value, str) and value:
            wire["occurredAt"] = value
        elif start is not None:
            micros = start // 1000
            low, high, prefix = self._format_time.cached
            if low <= micros < high:
                # `TimestampFormatter`'s cached-second case, without the call.
                wire["occurredAt"] = f"{prefix}{str(micros)[-6:]}+00:00"
            else:
                wire["occurredAt"] = self._format_time(start)
        if get(_INSTANT) is not True:
            value = get(_DURATION_MS) if rare else None
            duration = None if value is None else finite_number(value)
            if duration is None and start is not None and (end := span.end_time) is not None:
                duration = (end - start) / 1e6
            if duration is not None:
                wire["durationMs"] = duration
        value = get(_TAGS) if rare else None
        settings = self._settings
        # The base tags are one list shared by the events (they are encoded, never changed);
        # `event` hands out a copy.
        tags = (
            self._base_tags
            if value is None
            else merged_tags(value, settings.environment, settings.default_tags)
        )
        wire["tags"] = tags  # type: ignore[assignment]  # list[str] is a JSON list
        if isinstance(value := get(_ROOT_REQUEST), str):
            wire["rootRequest"] = value
        return wire

    def trace_close(self, span: ReadableSpan, attrs: Attributes) -> JsonObject | None:
        """`span_to_trace_close` with this translator's settings and clock.

        Raises:
            ValueError: the span has no span context.
        """
        return span_to_trace_close(span, attrs, self._settings, format_time=self._format_time)


def span_to_event(
    span: ReadableSpan,
    attrs: Attributes,
    settings: TranslationSettings,
    *,
    format_time: TimestampFormatter,
) -> JsonObject | None:
    """The wire event a span becomes, or None when it is not an event (see `classify`).

    `attrs` is `attributes_of(span)`. The exporter translates whole batches with
    `SpanTranslator.translate`, which builds each event the same way.

    Raises:
        ValueError: the span has no context, or a number in it is NaN or infinite (such an event
            cannot be sent; the exporter drops it alone and counts it).
    """
    return SpanTranslator(settings, format_time=format_time).event(span, attrs)


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
        "agentId": text(attrs.get(A.GEN_AI_AGENT_ID)) or settings.agent_id,
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
