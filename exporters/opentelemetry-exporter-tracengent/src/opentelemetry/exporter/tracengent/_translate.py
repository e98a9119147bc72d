"""Finished spans → wire events (§2) and trace closes (§3); I/O-free, called on the export thread.

The exporter hands a whole batch to `SpanTranslator.translate`. Each event span becomes a dict
built directly in `AgentEvent.to_wire()` order, nulls omitted, its payload text embedded as written
(an `orjson.Fragment` of text orjson reads as one JSON value: never decoded and re-encoded, only
the whitespace between its tokens removed: request bodies are compact); the events are then
encoded into requests by `_requests` (one orjson call per request), so the bytes are what the wire
model would produce. The per-span code is one loop over the batch, kept lean
(translation is most of the exporter's CPU): classification is inlined, and so is each payload
slot's common case (text the recorder wrote, embedded unread; any other payload goes through
`_fill_payload`), the common event's fixed fields are one dict display, the SDK's span fields are
read directly (`_span_reads`), each attribute is read once, attributes few spans carry are read
only when the span has one, and what repeats across a batch is done once: the event id part of a
trace and the timestamp prefix of a second. An id attribute that is empty text is no id.

The platform refuses a whole request for one event outside the contract (§2), so such an event is
left out alone and counted (`TranslatedBatch.unserializable`): a `type` that is not one of the
contract's event types (an explicit type that is not text included), an explicit
`tracengent.event.status` that is text but not a contract status (an absent, empty or non-text
status is read from the span's status, as always), a name that is not non-empty text, a NaN,
an infinity or an integer beyond the range of a JSON number (`_requests.json_encoding`). With
`capture_payloads` off no payload slot (input, output, payload attributes) is filled, whatever the
span carries; with a payload filter (`TranslationSettings.payload_filter`), payload text the
recorder did not write goes through it first (the recorder's own, scrubbed, costs one look-up),
and so does a root request an event or trace close sends, once per trace. Text UTF-8 cannot encode (a lone surrogate) is mended only when an event's encoding
fails, off the common path (`SpanTranslator._encode_alone`): a payload holding such text is left
out (`SpanTranslator.payloads_omitted`), any other text has each lone surrogate replaced by U+FFFD;
trace closes are mended the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import Attributes
from opentelemetry.exporter.tracengent._fields import (
    TimestampFormatter,
    http_details,
    merged_tags,
    text,
    usage,
)
from opentelemetry.exporter.tracengent._payloads import (
    NonFiniteNumberError,
    compact_json_text,
    encodable_text,
    encodable_value,
    finite_number,
    json_or_raw,
    strict_json,
)
from opentelemetry.exporter.tracengent._requests import (
    MAX_BODY_BYTES,
    TranslatedBatch,
    add_requests,
    encode_event,
    json_encoding,
)
from opentelemetry.exporter.tracengent._span_reads import (
    DIRECT_CONTEXT,
    DIRECT_SPAN,
    DIRECT_STATUS,
    RECORDED_SPAN,
)
from opentelemetry.exporter.tracengent._trace_close import trace_close_of
from opentelemetry.exporter.tracengent.attributes import EventStatuses, EventTypes
from opentelemetry.exporter.tracengent.ids import event_id_for
from opentelemetry.exporter.tracengent.jsonvalue import (
    JsonObject,
    JsonValue,
    dumps_compact,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import merge_tags

__all__ = [
    "MAX_BODY_BYTES",
    "NonFiniteNumberError",
    "OutOfContractEventError",
    "PayloadFilter",
    "SpanTranslator",
    "TimestampFormatter",
    "TranslatedBatch",
    "TranslationSettings",
    "encode_event",
    "span_to_event",
    "span_to_trace_close",
]

# Module-level names: the per-span code reads them as globals, without an attribute look-up.
_GOVERNANCE_KIND: Final = A.GOVERNANCE_KIND
_INVOKE_AGENT: Final = A.OPERATION_INVOKE_AGENT
_LLM_OPERATIONS: Final = A.LLM_OPERATIONS
_EVENT_TYPE: Final = A.EVENT_TYPE
_HTTP_METHOD: Final = A.HTTP_REQUEST_METHOD
_HTTP_METHOD_OLD: Final = A.HTTP_METHOD_OLD
_TRACKED: Final = A.TRACKED
_ABSORBED: Final = A.EVENT_ABSORBED
_CLIENT: Final = SpanKind.CLIENT
_SERVER: Final = SpanKind.SERVER
_LLM_CALL: Final = EventTypes.LLM_CALL
_TOOL_CALL: Final = EventTypes.TOOL_CALL
_TOOL_NAME: Final = A.GEN_AI_TOOL_NAME
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
_OCCURRED_AT: Final = A.EVENT_OCCURRED_AT
_INSTANT: Final = A.EVENT_INSTANT
_DURATION_MS: Final = A.EVENT_DURATION_MS
_TAGS: Final = A.EVENT_TAGS
_ROOT_REQUEST: Final = A.TRACE_ROOT_REQUEST
_PAYLOAD_SLOTS: Final = (
    (A.INPUT, "input", A.GEN_AI_TOOL_CALL_ARGUMENTS),
    (A.OUTPUT, "output", A.GEN_AI_TOOL_CALL_RESULT),
    (A.ATTRIBUTES, "attributes", None),
)
"""(attribute, wire field, the GenAI attribute a tool call's span may carry instead)."""
_INPUT_SLOT, _OUTPUT_SLOT, _ATTRIBUTES_SLOT = _PAYLOAD_SLOTS
_INPUT: Final = A.INPUT
_OUTPUT: Final = A.OUTPUT
_ATTRIBUTES: Final = A.ATTRIBUTES
_PAYLOAD_FIELDS: Final = frozenset(wire_key for _, wire_key, _ in _PAYLOAD_SLOTS)
_EVENT_TYPES: Final = EventTypes.ALL
_EVENT_STATUSES: Final = EventStatuses.ALL
_RARE_KEYS: Final = frozenset(
    {
        A.EVENT_ID,
        A.EVENT_IDEMPOTENCY_KEY,
        A.EVENT_NAME,
        A.GEN_AI_USAGE_INPUT_TOKENS,
        A.GEN_AI_USAGE_OUTPUT_TOKENS,
        A.GEN_AI_USAGE_PROMPT_TOKENS,
        A.GEN_AI_USAGE_COMPLETION_TOKENS,
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
_orjson_loads: Final = orjson.loads
_JSONDecodeError: Final = orjson.JSONDecodeError
_Fragment: Final = orjson.Fragment
_compact_json_text: Final = compact_json_text
_DIRECT_SPAN: Final = DIRECT_SPAN
_RECORDED_SPAN: Final = RECORDED_SPAN
_NO_TEXTS: Final[tuple[str, ...]] = ()
_DIRECT_STATUS: Final = DIRECT_STATUS
_DIRECT_CONTEXT: Final = DIRECT_CONTEXT
_NOT_SEEN: Final = object()


PayloadFilter = Callable[[str, str, "str | None"], "str | None"]
"""`(attribute name, payload text, the span's Tracengent trace id or None) -> the text to send,
or None to send no payload`: see `TranslationSettings.payload_filter`."""


class OutOfContractEventError(ValueError):
    """An event whose type, status or name the wire contract does not allow: the platform would
    refuse its whole request, so it is left out alone (and counted)."""


@dataclass(frozen=True)
class TranslationSettings:
    """What translation needs from the options, computed once per exporter.

    `capture_payloads` is `TracengentOptions.capture_payloads`: when False no event carries an
    input, output or payload attributes, whatever its span holds (attributes an instrumentation
    set after its span started included, which no span processor can scrub).

    `payload_filter`, when set, is given every payload text (`tracengent.input`/`output`/
    `attributes`, a tool call's `gen_ai.tool.call.arguments`/`result`) that the recorder did not
    write (`RecordedSpan.json_texts` names what it wrote, scrubbed already), with the attribute
    it came from and the decision trace the span belongs to (its `tracengent.trace.id`, None
    outside one: a trace's authorization obligations may redact more of its payloads); the
    event carries what it returns, or no such payload when it returns None. It is also given the
    root request an event or trace close sends (`tracengent.trace.root_request`, free text,
    whether payloads are captured or not: the trace's title, never withheld), which is sent as
    it returns it, or left out when it returns None.
    This is how payloads set after their span started (by a third-party instrumentation or
    `span.set_attribute`), which no span processor can scrub, are scrubbed on their way out. It
    must not raise (an event whose filter raises is left out and counted) and is called on the
    export thread.
    """

    agent_id: str
    environment: str
    default_tags: tuple[str, ...]
    capture_payloads: bool = True
    payload_filter: PayloadFilter | None = None

    @property
    def base_tags(self) -> list[str]:
        """The tags of an event that has none of its own."""
        return merge_tags(self.environment, self.default_tags, None)


class SpanTranslator:
    """Turns finished spans into encoded wire events and trace closes, for one exporter.

    Safe to share between threads: its caches (the last trace's event id prefix, the timestamp
    of the last second) are replaced as whole tuples.

    Attributes:
        payloads_omitted: payloads left out of sent events because UTF-8 cannot encode their
            text (a lone surrogate); the events themselves went.

    Args:
        settings: the agent id, environment, default tags and whether payloads are captured.
        format_time: the timestamp formatter (a new one by default).
    """

    def __init__(
        self, settings: TranslationSettings, *, format_time: TimestampFormatter | None = None
    ) -> None:
        self._settings = settings
        self._agent_id = settings.agent_id
        self._base_tags = settings.base_tags
        self._format_time = format_time if format_time is not None else TimestampFormatter()
        # Capture off: the per-span loop fills no payload slot.
        self._capture = settings.capture_payloads
        self._payload_filter = settings.payload_filter
        self.payloads_omitted = 0
        # (trace id, `evt_<its hex>`) of the last trace seen, replaced as one tuple: formatting
        # 128 bits costs more than the rest of the id, and a batch holds few traces.
        self._id_prefix: tuple[int | None, str] = (None, "")

    def withhold_payloads(self) -> None:
        """Fill no payload slot from now on, as with `capture_payloads` off (never undone).

        On a tracer provider several clients share, the strictest client's setting holds for
        every span: a client with capture off turns it off in every pipeline there. Batches
        translated from now on carry no input, output or payload attributes.
        """
        self._capture = False

    def set_payload_filter(self, payload_filter: PayloadFilter | None) -> None:
        """Pass payload text the recorder did not write through `payload_filter` from now on
        (`TranslationSettings.payload_filter`; None: embed it as it is). Batches translated from
        now on use it."""
        self._payload_filter = payload_filter

    def translate(
        self,
        entries: Sequence[tuple[ReadableSpan, Attributes]],
        *,
        max_batch_size: int = TracengentOptions.max_batch_size,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> TranslatedBatch:
        """Translate and encode `entries` (`(span, attributes_of(span))`). Never raises.

        Args:
            entries: the spans, in the order they ended, with their attributes copied; an
                event's own agent id (`gen_ai.agent.id`) is its `agentId`, else the settings'.
            max_batch_size: the most events one request carries.
            max_body_bytes: the largest JSON array one request carries (an event alone above it
                still goes, alone).
        """
        batch = TranslatedBatch()
        events, origins = self._events(entries, batch, embed=True)
        add_requests(
            batch,
            events,
            origins,
            self._encode_alone,
            max_batch_size=max_batch_size,
            max_body_bytes=max_body_bytes,
        )
        return batch

    def _encode_alone(self, event: JsonObject, origin: tuple[ReadableSpan, Attributes]) -> bytes:
        """`encode_event(event)`; when the event embeds payload text, which the standard
        library cannot write, from the event translated again as plain values; when UTF-8
        cannot encode its text, from `_encodable(event)`.

        Raises:
            ValueError, TypeError: the event has no JSON encoding.
        """
        try:
            return encode_event(event)
        except TypeError:
            event = self._events((origin,), None, embed=False)[0][0]
        except UnicodeEncodeError:
            pass  # a lone surrogate in the event's text (written by `json`: no payload embedded)
        text = json_encoding(event)
        try:
            return text.encode()
        except UnicodeEncodeError:
            return dumps_compact(self._encodable(event)).encode()

    def _encodable(self, event: JsonObject) -> JsonObject:
        """`event` as UTF-8 can encode it: a payload field (input, output, attributes) whose
        text holds a lone surrogate left out and counted in `payloads_omitted`, every other
        text with each lone surrogate replaced by U+FFFD (`encodable_value`).
        """
        encodable: JsonObject = {}
        for key, value in event.items():
            mended = encodable_value(value)
            if key in _PAYLOAD_FIELDS and mended != value:
                # A payload is sent as its author wrote it or not at all.
                self.payloads_omitted += 1
                continue
            encodable[key] = mended
        return encodable

    def event(self, span: ReadableSpan, attrs: Attributes) -> JsonObject | None:
        """The wire event of one span, or None when it is not an event.

        The event is as the exporter sends it: text UTF-8 cannot encode is mended
        (`_encodable`).

        Raises:
            ValueError: no span context, a NaN/infinite number, or a type, status or name
                outside the contract (`OutOfContractEventError`).
        """
        events = self._events(((span, attrs),), None, embed=False)[0]
        if not events:
            return None
        event = events[0]
        event["tags"] = list(event["tags"])  # type: ignore[arg-type]  # the caller's own list
        try:
            encode_event(event)
        except UnicodeEncodeError:
            return self._encodable(event)
        return event

    def _events(
        self,
        entries: Iterable[tuple[ReadableSpan, Attributes]],
        batch: TranslatedBatch | None,
        *,
        embed: bool,
    ) -> tuple[list[JsonObject], list[tuple[ReadableSpan, Attributes]]]:
        """The wire events of `entries`, and the entries they came from.

        Classification is `classify_for_export`'s, inlined (a test holds the two equal). With
        `embed`, payload text equal to one the recorder wrote with orjson (`RecordedSpan`) goes in
        unread, and payload text orjson reads as one JSON value other than `null` goes in as it is
        written, whitespace between tokens removed (an `orjson.Fragment`: orjson's reading is the
        check, `compact_json_text` the compaction); what orjson refuses, and any payload
        without `embed`, is `json_or_raw`'s value; with capture off, no payload at all.
        With `batch`, trace closes are added to it and a span whose event fails (NaN, a type,
        status or name outside the contract: `OutOfContractEventError`) is counted there;
        without, closes are skipped and the failure raises.

        This is the exporter's hot loop, written for CPython: one frame for the batch, the SDK's
        span fields read directly (`_span_reads`), `x.__class__ is str` tried before
        `isinstance`, and the look-ups that repeat across spans hoisted.

        Raises:
            ValueError, TypeError: only without `batch`, for an event that cannot be sent.
        """
        capture = self._capture
        payload_filter = self._payload_filter
        events: list[JsonObject] = []
        origins: list[tuple[ReadableSpan, Attributes]] = []
        add_event = events.append
        add_origin = origins.append
        agent_id = self._agent_id
        base_tags = self._base_tags
        format_time = self._format_time
        low, high, second = format_time.cached
        # A JSON object never changed once built: the events of one call may share it.
        last_actor: object = _NOT_SEEN
        actor: JsonObject = {}
        for entry in entries:
            span, attrs = entry
            try:
                if _GOVERNANCE_KIND in attrs:
                    continue
                span_class = span.__class__
                direct = span_class is _RECORDED_SPAN or span_class is _DIRECT_SPAN
                if direct:
                    kind = span._kind
                    context = span._context
                    span_name = span._name
                    start = span._start_time
                    end = span._end_time
                else:
                    kind = span.kind
                    context = span.context
                    span_name = span.name
                    start = span.start_time
                    end = span.end_time
                get = attrs.get
                operation = get(_OPERATION)
                if operation is not None and operation == _INVOKE_AGENT:
                    if batch is not None:
                        close = self.trace_close(span, attrs)
                        if close is not None:
                            batch.closes.append(close)
                    continue
                is_http = kind is _CLIENT and (_HTTP_METHOD in attrs or _HTTP_METHOD_OLD in attrs)
                event_type = get(_EVENT_TYPE)
                if event_type.__class__ is not str and not isinstance(event_type, str):
                    if operation in _LLM_OPERATIONS:
                        if _ABSORBED in attrs:
                            continue  # the same call as the `llm_call` event it is nested in
                        event_type = _LLM_CALL
                    elif operation == _EXECUTE_TOOL:
                        if kind is _SERVER or _ABSORBED in attrs:
                            # The tool server's side of a call its client reports, or the same
                            # call as the `tool_call` event it is nested in.
                            continue
                        event_type = _TOOL_CALL
                    elif is_http and (_TRACE_ID in attrs or get(_TRACKED) is True):
                        event_type = _TOOL_CALL
                    elif event_type is None and _EVENT_TYPE not in attrs:
                        continue
                    else:
                        # Set, but not text (`AgentEvent(type=None)`): an event, refused below.
                        event_type = None
                agent = get(_AGENT_ID)
                if context is None:
                    raise ValueError(f"span {span_name!r} has no span context")
                if event_type not in _EVENT_TYPES:
                    raise OutOfContractEventError(
                        f"span {span_name!r}: event type {event_type!r} is not in the contract"
                    )
                rare = not _RARE_KEYS.isdisjoint(attrs)
                if not (rare and (event_id := get(_EVENT_ID)) and isinstance(event_id, str)):
                    # `ids.event_id_for`, its trace part formatted once per trace.
                    if context.__class__ is _DIRECT_CONTEXT:
                        trace_id = context[0]
                        span_id = context[1]
                    else:
                        trace_id = context.trace_id
                        span_id = context.span_id
                    cached_trace, prefix = self._id_prefix
                    if trace_id != cached_trace:
                        prefix = f"evt_{trace_id:032x}"
                        self._id_prefix = (trace_id, prefix)
                    try:
                        # The same 16 lowercase hex digits as `:016x`, for any id of 64 bits.
                        event_id = prefix + span_id.to_bytes(8, "big").hex()
                    except OverflowError:
                        event_id = event_id_for(trace_id, span_id)
                http_attributes: JsonObject | None = None
                http_failed = False
                if rare or is_http or operation is not None:
                    name = get(_EVENT_NAME) if rare else None
                    if not isinstance(name, str) or not name:
                        name = None
                    if is_http:
                        http_name, http_attributes, http_failed = http_details(
                            attrs, span_name, named=name is not None
                        )
                        name = name or http_name
                    elif name is None and operation == _EXECUTE_TOOL:
                        name = text(get(_TOOL_NAME))
                    event_name: object = name or span_name
                else:
                    event_name = span_name
                if (
                    not (event_name.__class__ is str or isinstance(event_name, str))
                    or not event_name
                ):
                    raise OutOfContractEventError(
                        f"event name {event_name!r} is not a non-empty string"
                    )
                status = get(_EVENT_STATUS)
                if not status or not (status.__class__ is str or isinstance(status, str)):
                    span_status = span._status if direct else span.status
                    code = (
                        span_status._status_code
                        if span_status.__class__ is _DIRECT_STATUS
                        else span_status.status_code
                    )
                    status = _FAILURE if http_failed or code is _ERROR else _SUCCESS
                elif status not in _EVENT_STATUSES:
                    raise OutOfContractEventError(
                        f"span {span_name!r}: event status {status!r} is not in the contract"
                    )
                if not (agent and (agent.__class__ is str or isinstance(agent, str))):
                    agent = agent_id
                trace = get(_TRACE_ID)
                parent = get(_PARENT_ID)
                # The common event (in a trace, under a parent event, no idempotency key) is
                # one dict display; the others are built field by field, in the same order. An
                # id that is empty text is no id (the platform refuses a request holding one).
                if (
                    trace.__class__ is str
                    and trace
                    and parent.__class__ is str
                    and parent
                    and not (rare and _IDEMPOTENCY_KEY in attrs)
                ):
                    wire: JsonObject = {
                        "eventId": event_id,
                        "agentId": agent,
                        "traceId": trace,
                        "parentEventId": parent,
                        "type": event_type,
                        "name": event_name,
                        "status": status,
                    }
                else:
                    wire = {"eventId": event_id}
                    if rare and isinstance(value := get(_IDEMPOTENCY_KEY), str) and value:
                        wire["idempotencyKey"] = value
                    wire["agentId"] = agent
                    if isinstance(trace, str) and trace:
                        wire["traceId"] = trace
                        if isinstance(parent, str) and parent:
                            wire["parentEventId"] = parent
                    wire["type"] = event_type
                    wire["name"] = event_name
                    wire["status"] = status
                amount = get(_COST_AMOUNT)
                # `finite_number`, its common case (a finite float: x - x is 0.0) inlined.
                if amount is not None and (
                    (amount.__class__ is float and amount - amount == 0.0)
                    or (amount := finite_number(amount)) is not None
                ):
                    currency = get(_COST_CURRENCY)
                    wire["cost"] = {
                        "amount": amount,
                        "currency": currency if isinstance(currency, str) and currency else "USD",
                    }
                if rare and (event_usage := usage(attrs)) is not None:
                    wire["usage"] = event_usage
                value = get(_ACTOR)
                if value is last_actor:
                    # The batch's events mostly share one actor: one object, encoded each time.
                    wire["actor"] = actor
                elif value.__class__ is str or isinstance(value, str):
                    wire["actor"] = actor = {"userId": value}
                    last_actor = value
                # The texts the recorder wrote with orjson for this span (`RecordedSpan`).
                json_texts = span.json_texts if span_class is _RECORDED_SPAN else _NO_TEXTS  # type: ignore[attr-defined]
                if capture:
                    # Each slot's common case (text the recorder wrote, scrubbed and compact:
                    # orjson wrote it) is embedded unread, inline; `_fill_payload` does the rest.
                    raw = get(_INPUT)
                    if raw is not None and embed and raw in json_texts:
                        wire["input"] = _Fragment(raw)  # type: ignore[arg-type, assignment]  # a str
                    elif raw is not None or (operation is not None and operation == _EXECUTE_TOOL):
                        _fill_payload(
                            wire,
                            attrs,
                            _INPUT_SLOT,
                            raw,
                            operation,
                            json_texts,
                            embed,
                            payload_filter,
                        )
                    raw = get(_OUTPUT)
                    if raw is not None and embed and raw in json_texts:
                        wire["output"] = _Fragment(raw)  # type: ignore[arg-type, assignment]  # a str
                    elif raw is not None or (operation is not None and operation == _EXECUTE_TOOL):
                        _fill_payload(
                            wire,
                            attrs,
                            _OUTPUT_SLOT,
                            raw,
                            operation,
                            json_texts,
                            embed,
                            payload_filter,
                        )
                    raw = get(_ATTRIBUTES)
                    if raw is not None:
                        if embed and raw in json_texts:
                            wire["attributes"] = _Fragment(raw)  # type: ignore[arg-type, assignment]  # a str
                        else:
                            _fill_payload(
                                wire,
                                attrs,
                                _ATTRIBUTES_SLOT,
                                raw,
                                operation,
                                json_texts,
                                embed,
                                payload_filter,
                            )
                if http_attributes is not None and "attributes" not in wire:
                    wire["attributes"] = http_attributes
                if rare and (value := get(_OCCURRED_AT)) and isinstance(value, str):
                    wire["occurredAt"] = value
                elif start is not None:
                    micros = start // 1000
                    if low <= micros < high:
                        # `TimestampFormatter`'s cached-second case, without the call.
                        wire["occurredAt"] = f"{second}{str(micros)[-6:]}+00:00"
                    else:
                        wire["occurredAt"] = format_time(start)
                        low, high, second = format_time.cached
                if get(_INSTANT) is not True:
                    if (
                        rare
                        and (value := get(_DURATION_MS)) is not None
                        and (duration := finite_number(value)) is not None
                    ):
                        wire["durationMs"] = duration
                    elif start is not None and end is not None:
                        wire["durationMs"] = (end - start) / 1e6
                # The base tags are one list shared by the events (they are encoded, never
                # changed); `event` hands out a copy.
                tags = (
                    merged_tags(value, self._settings.environment, self._settings.default_tags)
                    if rare and (value := get(_TAGS)) is not None
                    else base_tags
                )
                wire["tags"] = tags  # type: ignore[assignment]  # list[str] is a JSON list
                value = get(_ROOT_REQUEST)
                # Absent on most events: None is ruled out before the type tests.
                if value is not None and (value.__class__ is str or isinstance(value, str)):
                    if payload_filter is not None:
                        # The trace's first event only: free text, scrubbed as it leaves.
                        in_trace = get(_TRACE_ID)
                        value = payload_filter(
                            _ROOT_REQUEST,
                            value,
                            in_trace if isinstance(in_trace, str) and in_trace else None,
                        )
                    if value is not None:
                        wire["rootRequest"] = value
                add_event(wire)
                add_origin(entry)
            except Exception as exc:  # one bad span must not sink its batch-mates (re-raised alone)
                if batch is None:
                    raise
                batch.count_failure(exc)
        return events, origins

    def trace_close(self, span: ReadableSpan, attrs: Attributes) -> JsonObject | None:
        """`span_to_trace_close` with this translator's settings and clock.

        Raises:
            ValueError: the span has no span context.
        """
        return _encodable_close(
            trace_close_of(span, attrs, self._agent_id, format_time=self._format_time),
            self._payload_filter,
        )


def _fill_payload(
    wire: JsonObject,
    attrs: Attributes,
    slot: tuple[str, str, str | None],
    raw: AttributeValue | None,
    operation: object,
    json_texts: tuple[str, ...],
    embed: bool,
    payload_filter: PayloadFilter | None,
) -> None:
    """Fill one payload slot of `wire` (`_PAYLOAD_SLOTS`) from `raw`, its attribute's value,
    in every case but the common one the per-span loop handles inline (text the recorder wrote,
    embedded): a tool call's GenAI attribute when `raw` is None, payload text the recorder did
    not write through `payload_filter`, text orjson reads embedded compacted, anything else as
    `json_or_raw` decodes it. Leaves the slot empty when there is nothing to send.

    Raises:
        NonFiniteNumberError: the payload holds NaN or an infinity.
    """
    key, wire_key, tool_key = slot
    get = attrs.get
    if raw is None:
        if tool_key is None or operation != _EXECUTE_TOOL:
            return
        raw = get(tool_key)
        if raw is None:
            return
    if raw.__class__ is str or isinstance(raw, str):
        if raw in json_texts:
            if embed:
                wire[wire_key] = _Fragment(raw)  # type: ignore[assignment]
                return
        elif payload_filter is not None:
            # Any other may have been set after its span started, unscrubbed (its trace's
            # obligations unapplied too: the trace id says which).
            in_trace = get(_TRACE_ID)
            raw = payload_filter(
                key if tool_key is None or key in attrs else tool_key,
                raw,
                in_trace if isinstance(in_trace, str) and in_trace else None,
            )
            if raw is None:
                return
    elif payload_filter is not None:
        # Not text (a sequence of texts, a number) set after its span started: filtered as the
        # JSON text of its wire value, as any other payload.
        in_trace = get(_TRACE_ID)
        raw = payload_filter(
            key if tool_key is None or key in attrs else tool_key,
            dumps_compact(json_or_raw(raw)),
            in_trace if isinstance(in_trace, str) and in_trace else None,
        )
        if raw is None:
            return
    if embed and raw.__class__ is str:
        try:
            # Once orjson has read it as one JSON value other than `null`, in with the
            # whitespace between its tokens removed.
            if _orjson_loads(raw) is not None:
                wire[wire_key] = _Fragment(_compact_json_text(raw))  # type: ignore[assignment]
            return
        except _JSONDecodeError:
            decoded = _decoded(strict_json, raw)
    else:
        try:
            decoded = json_or_raw(raw)
        except RecursionError:
            # Nested deeper than the standard decoder reads: sent as its text (see `_decoded`).
            decoded = raw if isinstance(raw, str) else None
    if decoded is not None:
        wire[wire_key] = decoded


def _decoded(decode: Callable[[Any], JsonValue], raw: object) -> JsonValue:
    """`decode(raw)` (`strict_json`, `json_or_raw`: what orjson did not read, and payloads
    translated without `embed`); text nested deeper than the standard decoder reads (a run of
    brackets, a cut-off document beyond orjson's 1024 levels) as the JSON string of its text, as
    other text that is not JSON: its event is not lost over it. Off the common path.

    Raises:
        NonFiniteNumberError: the payload holds NaN or an infinity.
    """
    try:
        return decode(raw)
    except RecursionError:
        return raw if isinstance(raw, str) else None


def _encodable_close(
    close: JsonObject | None, payload_filter: PayloadFilter | None
) -> JsonObject | None:
    """`close` with its root request through `payload_filter` (left out when that returns None)
    and each lone surrogate in its text replaced by U+FFFD: one odd character in a root request
    or summary must not cost the trace its close. O(1) per ASCII field."""
    if close is not None:
        root_request = close.get("rootRequest")
        if payload_filter is not None and isinstance(root_request, str):
            trace_id = close.get("traceId")
            filtered = payload_filter(
                _ROOT_REQUEST, root_request, trace_id if isinstance(trace_id, str) else None
            )
            if filtered is None:
                del close["rootRequest"]
            else:
                close["rootRequest"] = filtered
        for key, value in close.items():
            if value.__class__ is str:
                close[key] = encodable_text(value)
    return close


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
        ValueError: the span has no context, a number in it is NaN or infinite, or its type,
            status or name is outside the contract (`OutOfContractEventError`); such an event
            cannot be sent: the exporter drops it alone and counts it.
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

    See `_trace_close.trace_close_of` (the agent defaults to `settings.agent_id`); the root
    request goes through `settings.payload_filter`, if any; text UTF-8 cannot encode (a lone
    surrogate) has it replaced by U+FFFD.

    Raises:
        ValueError: the span has no span context.
    """
    return _encodable_close(
        trace_close_of(span, attrs, settings.agent_id, format_time=format_time),
        settings.payload_filter,
    )
