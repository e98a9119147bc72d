"""Validation of ingest bodies (wire contract §2, §3): I/O-free, every problem named."""

from __future__ import annotations

import json
import zlib
from typing import Final, cast

from opentelemetry.exporter.tracengent.attributes import EventStatuses, EventTypes
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject

__all__ = ["MAX_BODY_BYTES", "IngestError", "decode_body", "validate_close", "validate_events"]

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""Largest body accepted, after decompression (a gzip bomb stops here)."""

_CLOSE_STATUSES: Final = ("completed", "failed")
_STRING_FIELDS: Final = ("eventId", "idempotencyKey", "agentId", "traceId", "parentEventId")


class IngestError(Exception):
    """A malformed body: `error` is a short reason (counted), `detail` says exactly what."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail


def decode_body(raw: bytes, content_encoding: str | None) -> object:
    """Gunzip (when `Content-Encoding: gzip`) and parse JSON.

    Raises:
        IngestError: bad gzip, too large, unsupported encoding, or not JSON.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error as exc:
            raise IngestError("bad gzip", f"body is not valid gzip: {exc}") from exc
        if len(raw) > MAX_BODY_BYTES:
            raise IngestError("too large", f"body exceeds {MAX_BODY_BYTES} bytes")
        if not inflater.eof:
            raise IngestError("bad gzip", "body is a truncated gzip stream")
    elif encoding != "identity":
        raise IngestError("bad encoding", f"unsupported Content-Encoding {encoding!r}")
    try:
        return cast(object, json.loads(raw))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IngestError("not json", f"body is not JSON: {exc}") from exc


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
            `status`, or an id field that is not a string (the detail names the event's index).
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
        for key in _STRING_FIELDS:
            if key in event and not isinstance(event[key], str):
                raise IngestError(f"invalid {key}", f"event {index}: {key!r} must be a string")
        events.append(event)
    return events


def validate_close(body: object) -> JsonObject:
    """The trace close object.

    Raises:
        IngestError: not an object, no `traceId`, `op` not `Close`, or a bad `status`.
    """
    if not isinstance(body, dict):
        raise IngestError("invalid close", "body must be a JSON object (a trace close)")
    if not isinstance(body.get("traceId"), str) or not body["traceId"]:
        raise IngestError("invalid traceId", "'traceId' must be a non-empty string")
    if body.get("op") != "Close":
        raise IngestError("invalid op", f"'op' must be 'Close', got {body.get('op')!r}")
    if body.get("status") not in _CLOSE_STATUSES:
        raise IngestError(
            "invalid status",
            f"'status' must be one of completed/failed, got {body.get('status')!r}",
        )
    return body
