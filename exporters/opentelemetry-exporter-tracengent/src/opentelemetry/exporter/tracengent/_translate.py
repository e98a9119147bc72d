"""Finished spans → wire events (§2) and trace closes (§3); I/O-free, called on the export thread.

The exporter hands a whole batch to `SpanTranslator.translate`. Each event span becomes a dict
built directly in `AgentEvent.to_wire()` order, nulls omitted, then its compact JSON (orjson), so
the bytes equal what the wire model would produce without building dataclasses. The per-span
code is kept lean (translation is most of the exporter's CPU): each attribute is read once,
attributes few spans carry are read only when the span has one, and what repeats across a batch
is done once: the event id part of a trace, the timestamp prefix of a second, and the digit scan
of the payloads (see `_payloads`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

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
    any_long_digit_run,
    decode_payload,
    finite_number,
)
from opentelemetry.exporter.tracengent.attributes import EventStatuses, TraceStatuses
from opentelemetry.exporter.tracengent.ids import event_id_for, trace_id_for
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, dumps_compact
from opentelemetry.exporter.tracengent.wire import merge_tags

__all__ = [
    "NonFiniteNumberError",
    "SpanTranslator",
    "TimestampFormatter",
    "TranslatedBatch",
    "TranslationSettings",
    "encode_event",
    "span_to_event",
    "span_to_trace_close",
]

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
        events: the wire events.
        encodings: each event's compact JSON (the bytes sent), in the same order.
        closes: the trace closes of the decision-trace roots.
        unserializable: spans whose event cannot be sent (NaN, a value JSON cannot hold).
        internal_errors: unexpected exceptions met (each one's span is in `unserializable`).
    """

    events: list[JsonObject] = field(default_factory=list)
    encodings: list[bytes] = field(default_factory=list)
    closes: list[JsonObject] = field(default_factory=list)
    unserializable: int = 0
    internal_errors: list[Exception] = field(default_factory=list)


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
    ) -> TranslatedBatch:
        """Translate and encode `entries` (`(span, attributes_of(span))`). Never raises.

        Args:
            entries: the spans, in the order they ended, with their attributes copied.
            own_agent: when set, spans stamped with another agent's id are skipped (another
                agent's client on the same provider exports them with its credentials).
        """
        decoded_texts: list[str] = []
        batch = self._translate(entries, own_agent, decoded_texts)
        if any_long_digit_run(decoded_texts):
            # Rare: a payload may hold an integer beyond 64 bits; translate again exactly.
            batch = self._translate(entries, own_agent, None)
        return batch

    def _translate(
        self,
        entries: Sequence[tuple[ReadableSpan, Attributes]],
        own_agent: str | None,
        decoded_texts: list[str] | None,
    ) -> TranslatedBatch:
        batch = TranslatedBatch()
        events, encodings = batch.events, batch.encodings
        for span, attrs in entries:
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
                event = self._event(span, attrs, event_type, is_http, decoded_texts)
                encoded = encode_event(event)
                events.append(event)
                encodings.append(encoded)
            except Exception as exc:  # noqa: BLE001 - one bad span must not sink its batch-mates
                batch.unserializable += 1
                if not isinstance(exc, _EXPECTED_ERRORS):
                    batch.internal_errors.append(exc)
        return batch

    def event(self, span: ReadableSpan, attrs: Attributes) -> JsonObject | None:
        """The wire event of one span, or None when it is not an event.

        Raises:
            ValueError: no span context, or a NaN/infinite number.
        """
        kind, event_type, is_http = classify_for_export(attrs, span.kind)
        if kind != EVENT:
            return None
        return self._event(span, attrs, event_type, is_http, None)

    def _event(
        self,
        span: ReadableSpan,
        attrs: Attributes,
        event_type: str,
        is_http: bool,
        decoded_texts: list[str] | None,
    ) -> JsonObject:
        """The wire event (`decoded_texts`: see `_payloads.decode_payload`)."""
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
        if rare and (value := get(_IDEMPOTENCY_KEY)) is not None and isinstance(value, str):
            wire["idempotencyKey"] = value
        value = get(_AGENT_ID)
        wire["agentId"] = value if isinstance(value, str) and value else self._agent_id
        if isinstance(value := get(_TRACE_ID), str):
            wire["traceId"] = value
            if (value := get(_PARENT_ID)) is not None and isinstance(value, str):
                wire["parentEventId"] = value
        wire["type"] = event_type
        http_attributes: JsonObject | None = None
        http_failed = False
        name = get(_EVENT_NAME) if rare else None
        if not isinstance(name, str) or not name:
            name = None
        operation = get(_OPERATION)
        if is_http:
            http_name, http_attributes, http_failed = http_details(attrs, span.name)
            name = name or http_name
        elif name is None and operation == _EXECUTE_TOOL:
            name = text(get(A.GEN_AI_TOOL_NAME))
        wire["name"] = name or span.name
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
        if (value := get(_ACTOR)) is not None and isinstance(value, str):
            wire["actor"] = {"userId": value}
        raw = get(_INPUT)
        if raw is None and operation == _EXECUTE_TOOL:
            raw = get(A.GEN_AI_TOOL_CALL_ARGUMENTS)
        if raw is not None and (decoded := decode_payload(raw, decoded_texts)) is not None:
            wire["input"] = decoded
        raw = get(_OUTPUT)
        if raw is None and operation == _EXECUTE_TOOL:
            raw = get(A.GEN_AI_TOOL_CALL_RESULT)
        if raw is not None and (decoded := decode_payload(raw, decoded_texts)) is not None:
            wire["output"] = decoded
        raw = get(_ATTRIBUTES)
        if raw is not None and (decoded := decode_payload(raw, decoded_texts)) is not None:
            wire["attributes"] = decoded
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
        tags = (
            self._base_tags.copy()
            if value is None
            else merged_tags(value, settings.environment, settings.default_tags)
        )
        wire["tags"] = tags  # type: ignore[assignment]  # list[str] is a JSON list
        if (value := get(_ROOT_REQUEST)) is not None and isinstance(value, str):
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
