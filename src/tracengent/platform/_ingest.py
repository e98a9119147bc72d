"""Reading, decoding and validation of request bodies (wire contract §2, §3), every problem named.

Nothing here touches a socket or the store: the body arrives as an async iterable of chunks.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import AsyncIterable
from typing import Final, NoReturn, cast

import orjson

from opentelemetry.exporter.tracengent._payloads import decoded_deeper_than
from opentelemetry.exporter.tracengent.attributes import EventStatuses, EventTypes
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue

__all__ = [
    "MAX_BODY_BYTES",
    "IngestError",
    "decode_body",
    "decode_content",
    "read_limited",
    "validate_close",
    "validate_events",
]

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""Largest body accepted, as sent and after decompression (a gzip bomb stops here)."""

# Once the bytes are strictly decoded, only a \uD800-\uDFFF escape can put a surrogate into a
# parsed string, so a body without such an escape needs no surrogate check.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")

_TOO_DEEP: Final = ("too deep", "body nests arrays or objects too deeply")
_CLOSE_STATUSES: Final = ("completed", "failed")
_ID_FIELDS: Final = ("eventId", "idempotencyKey", "agentId", "traceId", "parentEventId")
"""An event's id fields: each optional, and when present a non-empty string. `""` is no id (ids
are prefixed opaque strings) nor the absence of one (an absent optional is left out): an event
filed under `traceId: ""` would open a trace no close can end (a close's `traceId` must be
non-empty)."""


class IngestError(Exception):
    """A malformed body: `error` is a short reason (counted), `detail` says exactly what."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail


async def read_limited(
    chunks: AsyncIterable[bytes], *, declared_length: str | None, limit: int
) -> bytes:
    """The whole body, refused as soon as its `Content-Length` or the bytes streamed so far
    exceed `limit` (a chunked upload has no length to check up front).

    Raises:
        IngestError: `too large`.
    """
    declared = (declared_length or "").strip()
    if declared.isdecimal():
        # More than 18 significant digits is beyond any limit (int() refuses thousands).
        digits = declared.lstrip("0") or "0"
        if len(digits) > 18 or int(digits) > limit:
            raise IngestError("too large", f"body exceeds {limit} bytes")
    received: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise IngestError("too large", f"body exceeds {limit} bytes")
        received.append(chunk)
    return b"".join(received)


def _refuse_constant(name: str) -> NoReturn:
    raise IngestError("invalid number", f"{name} is not a JSON number: send finite numbers only")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise IngestError("invalid number", f"number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    # Beyond the float range an integer cannot be compared with amounts or added to a clock,
    # and other JSON parsers read it as infinity. Any of 310 digits or more is beyond it.
    digits = len(text.lstrip("-"))
    if digits < 310:
        value = int(text)
        try:
            float(value)
        except OverflowError:
            pass
        else:
            return value
    raise IngestError("invalid number", f"integer of {digits} digits is out of range")


def _has_lone_surrogate(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except RecursionError as exc:
        raise IngestError(*_TOO_DEEP) from exc
    return False


# Built once: `json.loads` with hooks builds a new decoder on every call.
_STRICT_DECODER: Final = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
)


_FIRST_FEED_BYTES: Final = 32
_MAX_FEED_BYTES: Final = 64 * 1024


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Every member of a gzip body, concatenated (RFC 1952: a gzip file is a series of members,
    as `gzip -c a b` or a streaming compressor writes), inflated to at most `limit` bytes.

    Each member is fed from the body in slices that start small and double: at a member's end
    zlib copies what it was handed past it (`unused_data`), and handing it the whole rest of
    the body each time would copy a body of many tiny members once per member.

    Raises:
        IngestError: `bad gzip` (not gzip, a member cut short, bytes after a member that are not
            another member), `too large`.
    """
    pieces: list[bytes] = []
    size = 0
    view = memoryview(raw)
    position = 0
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        feed = _FIRST_FEED_BYTES
        while not inflater.eof:
            if position >= len(raw):
                raise IngestError("bad gzip", "body is a truncated gzip stream")
            data = view[position : position + feed]
            try:
                # At least 1: a max_length of 0 would mean no limit.
                piece = inflater.decompress(data, limit + 1 - size)
            except zlib.error as exc:
                raise IngestError("bad gzip", f"body is not valid gzip: {exc}") from exc
            size += len(piece)
            # Output beyond the limit is the only way input is left unconsumed (max_length).
            if size > limit:
                raise IngestError("too large", f"body exceeds {limit} bytes")
            pieces.append(piece)
            position += len(data) - len(inflater.unused_data)
            feed = min(2 * feed, _MAX_FEED_BYTES)
        if position >= len(raw):
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)


# A JSON string (escapes included), or a run of brackets opening or closing (one match for a
# run: a body of a million `[` is one token).
_DEPTH_TOKEN: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]+|[\]}]+')

MAX_NATIVE_PAYLOAD_DEPTH: Final = 900
"""In an events body too deep for the standard decoder, an event's field value nested more than
this many levels is stored as the JSON string of its text (`_deep_values_as_text`)."""

_EVENT_FIELD_LEVEL: Final = 3
"""The nesting level of an event's field value in an events body: array, event object, value."""

MAX_BODY_DEPTH: Final = MAX_NATIVE_PAYLOAD_DEPTH + _EVENT_FIELD_LEVEL
"""The deepest body decoded as it is: one whose event field values nest at most
`MAX_NATIVE_PAYLOAD_DEPTH` levels (within what the standard decoder reads at its default
recursion limit on every Python version)."""

_MAX_TEXT_PAYLOAD_DEPTH: Final = 1024
"""The deepest payload stored as text: as deep as orjson reads (and the SDK embeds) payload text."""


def _deep_values_as_text(text: str) -> str | None:
    """`text`, an array of event objects, with every event field value nested more than
    `MAX_NATIVE_PAYLOAD_DEPTH` levels replaced by the JSON string of its text (as sent); None when
    there is none, the body is not so shaped, or such a value is not one JSON value orjson reads
    (at most 1024 levels: the most the SDK embeds, as its encoder reads payload text).

    Off the common path: only for a body the standard decoder found too deep. One regex match
    per string or run of brackets, so a body of a million brackets is one step.
    """
    depth = 0
    opened = ["", ""]  # the brackets that opened levels 1 and 2 (`[`, then `{` for an event)
    start = deepest = 0
    spans: list[tuple[int, int]] = []
    level = _EVENT_FIELD_LEVEL
    for match in _DEPTH_TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        run = len(token)
        if token[0] in "[{":
            for index in range(depth, min(depth + run, level - 1)):
                opened[index] = token[index - depth]
            if depth < level <= depth + run:
                start = match.start() + level - 1 - depth
                deepest = 0
            depth += run
            if depth - level + 1 > _MAX_TEXT_PAYLOAD_DEPTH:
                return None  # deeper than any payload stored as text: no need to read on
            deepest = max(deepest, depth)
            continue
        closes_field = depth >= level > depth - run and opened == ["[", "{"]
        if closes_field and deepest - level + 1 > MAX_NATIVE_PAYLOAD_DEPTH:
            spans.append((start, match.start() + depth - level + 1))
        depth -= run
        if depth < 0:
            return None
    if depth != 0 or not spans:
        return None
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        value = text[start:end]
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        pieces += (text[position:start], json.dumps(value))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def decode_content(raw: bytes, content_encoding: str | None, *, limit: int) -> bytes:
    """`raw` decoded as its `Content-Encoding` says (`gzip`; none or `identity`: as it is), to
    at most `limit` bytes: the limit the body was read under holds after decompression too (a
    gzip bomb stops there).

    Raises:
        IngestError: `bad gzip` (not gzip, cut short, trailing bytes that are not another
            member), `too large` (decoded), `bad encoding` (any other `Content-Encoding`).
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(raw, limit)
    if encoding != "identity":
        raise IngestError("bad encoding", f"unsupported Content-Encoding {encoding!r}")
    return raw


def decode_body(
    raw: bytes, content_encoding: str | None, *, deep_payloads_as_text: bool = False
) -> object:
    """Gunzip (when `Content-Encoding: gzip`) and parse JSON that can be stored and answered.

    `deep_payloads_as_text` (an events body): when the body is too deep for the standard decoder,
    each event field value nested more than `MAX_NATIVE_PAYLOAD_DEPTH` levels (and at most 1024,
    as orjson reads it) is decoded as the JSON string of its text, so one deep payload does not
    cost its batch-mates their delivery. Governance bodies stay refused: their bodies are read,
    redacted and decided on, which text would escape.

    Raises:
        IngestError: bad gzip, too large, unsupported encoding, not JSON, nested too deep, a
            number that is NaN, infinite or beyond the float range (`invalid number`), or a
            string with an unpaired UTF-16 surrogate escape (`invalid string`).
    """
    raw = decode_content(raw, content_encoding, limit=MAX_BODY_BYTES)
    try:
        # Strictly: json.loads(bytes) would let encoded surrogates through (`surrogatepass`).
        text = raw.decode(json.detect_encoding(raw))
        value = _decode_strict(text, deep_payloads_as_text=deep_payloads_as_text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise IngestError("not json", f"body is not JSON: {exc}") from exc
    # sqlite3 and every JSON answer encode text as UTF-8, which a lone surrogate cannot be.
    if _SURROGATE_ESCAPE.search(text) is not None and _has_lone_surrogate(value):
        raise IngestError("invalid string", "body has a string with an unpaired \\u surrogate")
    return value


def _decode_strict(text: str, *, deep_payloads_as_text: bool) -> object:
    """`text` decoded; a body nested more than `MAX_BODY_DEPTH` levels is too deep (each event
    field value beyond `MAX_NATIVE_PAYLOAD_DEPTH` as text instead, with
    `deep_payloads_as_text`), whether or not the standard decoder reads it: how deep it goes
    depends on the Python version, which must not decide what is stored."""
    try:
        value = cast(object, _STRICT_DECODER.decode(text))
    except RecursionError as exc:
        too_deep: BaseException | None = exc
    else:
        if not _too_deep(text, value):
            return value
        too_deep = None
    shallower = _deep_values_as_text(text) if deep_payloads_as_text else None
    if shallower is None:
        raise IngestError(*_TOO_DEEP) from too_deep
    try:
        value = cast(object, _STRICT_DECODER.decode(shallower))
    except RecursionError as exc:
        raise IngestError(*_TOO_DEEP) from exc
    if _too_deep(shallower, value):
        raise IngestError(*_TOO_DEEP)
    return value


def _too_deep(text: str, value: object) -> bool:
    return decoded_deeper_than(text, cast("JsonValue", value), MAX_BODY_DEPTH)


def _one_of(index: int, event: JsonObject, key: str, allowed: frozenset[str]) -> None:
    value = event.get(key)
    if value not in allowed:
        choices = "/".join(sorted(allowed))
        raise IngestError(
            f"invalid {key}", f"event {index}: {key!r} must be one of {choices}, got {value!r}"
        )


def validate_events(batch: object) -> list[JsonObject]:
    """The batch as a list of event objects.

    Raises:
        IngestError: not an array, an element not an object, a missing/invalid `type`, `name` or
            `status`, or an id field (`_ID_FIELDS`) present but not a non-empty string (the
            detail names the event's index).
    """
    if not isinstance(batch, list):
        raise IngestError("not an array", "body must be a JSON array of events")
    events: list[JsonObject] = []
    for index, event in enumerate(batch):
        if not isinstance(event, dict):
            raise IngestError("invalid event", f"event {index}: expected a JSON object")
        _one_of(index, event, "type", EventTypes.ALL)
        name = event.get("name")
        if not isinstance(name, str) or not name:
            raise IngestError("invalid name", f"event {index}: 'name' must be a non-empty string")
        _one_of(index, event, "status", EventStatuses.ALL)
        for key in _ID_FIELDS:
            if key in event and (not isinstance(value := event[key], str) or not value):
                raise IngestError(
                    f"invalid {key}", f"event {index}: {key!r} must be a non-empty string"
                )
        events.append(event)
    return events


def validate_close(body: object) -> JsonObject:
    """The trace close object.

    Raises:
        IngestError: not an object, no `traceId`, an `agentId` present but not a non-empty
            string (as on an event), `op` not `Close`, or a bad `status`.
    """
    if not isinstance(body, dict):
        raise IngestError("invalid close", "body must be a JSON object (a trace close)")
    if not isinstance(body.get("traceId"), str) or not body["traceId"]:
        raise IngestError("invalid traceId", "'traceId' must be a non-empty string")
    if "agentId" in body and (not isinstance(agent := body["agentId"], str) or not agent):
        raise IngestError("invalid agentId", "'agentId' must be a non-empty string")
    if body.get("op") != "Close":
        raise IngestError("invalid op", f"'op' must be 'Close', got {body.get('op')!r}")
    if body.get("status") not in _CLOSE_STATUSES:
        raise IngestError(
            "invalid status",
            f"'status' must be one of completed/failed, got {body.get('status')!r}",
        )
    return body
