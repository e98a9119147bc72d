"""Translated wire events → the encoded ingest requests that carry them; I/O-free.

The translator hands over a batch's events in the order their spans ended. Each request holds at
most `max_batch_size` events and `max_body_bytes` of JSON (an event alone above that still goes,
alone). A request's events are encoded by one orjson call; when orjson refuses one of them (an
integer beyond 64 bits outside a payload, a lone surrogate) or the array is too large, each event
is encoded alone (`encode_alone`), and one that has no JSON encoding at all is counted and left
out without its batch-mates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

import orjson

from opentelemetry.exporter.tracengent._payloads import refuse_overflowing_integers
from opentelemetry.exporter.tracengent.jsonvalue import (
    EncodedBatch,
    JsonObject,
    dumps_compact,
    json_array,
)

__all__ = ["MAX_BODY_BYTES", "TranslatedBatch", "add_requests", "encode_event", "json_encoding"]

MAX_BODY_BYTES: Final = 1024 * 1024
"""The largest JSON body of one ingest request (an event alone above it is still sent alone)."""

_orjson_dumps: Final = orjson.dumps
# What makes one span's event unsendable (counted `unserializable`); any other exception is a
# bug of ours, also counted as an internal error.
_EXPECTED_ERRORS: Final = (ValueError, TypeError, RecursionError)

_Origin = TypeVar("_Origin")


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
    deeper than it goes) is written by `json` (`json_encoding`).

    Raises:
        ValueError, TypeError: the event has no JSON encoding (`NonFiniteNumberError`: an
            integer beyond the range of a JSON number).
    """
    try:
        return _orjson_dumps(event)
    except TypeError:
        return json_encoding(event).encode()


def json_encoding(event: JsonObject) -> str:
    """The event's compact JSON as the standard library writes it: what orjson cannot write.

    Integers beyond 64 bits are written exactly, but one beyond the range of a JSON number
    (`refuse_overflowing_integers`) is refused: the platform would refuse the whole request.

    Raises:
        ValueError, TypeError: the event has no JSON encoding.
    """
    refuse_overflowing_integers(event)
    return dumps_compact(event)


def add_requests(
    batch: TranslatedBatch,
    events: list[JsonObject],
    origins: Sequence[_Origin],
    encode_alone: Callable[[JsonObject, _Origin], bytes],
    *,
    max_batch_size: int,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> None:
    """Encode `events` into `batch.requests`; never raises.

    Args:
        batch: where the requests go, and where an event with no encoding is counted.
        events: the wire events, in order.
        origins: what each event was translated from (handed to `encode_alone`).
        encode_alone: one event's JSON, for an event orjson refuses within its array.
        max_batch_size: the most events one request carries.
        max_body_bytes: the largest JSON array one request carries.
    """
    size = max(1, max_batch_size)
    for start in range(0, len(events), size):
        chunk = events if len(events) <= size else events[start : start + size]
        try:
            array: bytes | None = _orjson_dumps(chunk)
        except TypeError:
            array = None  # orjson refuses one of them: each is encoded alone below
        if array is not None and len(array) <= max_body_bytes:
            batch.requests.append(EncodedBatch(array, len(chunk)))
        else:
            _encode_each(batch, chunk, origins[start : start + size], encode_alone, max_body_bytes)


def _encode_each(
    batch: TranslatedBatch,
    events: list[JsonObject],
    origins: Sequence[_Origin],
    encode_alone: Callable[[JsonObject, _Origin], bytes],
    max_body_bytes: int,
) -> None:
    """Encode `events` one by one into requests of at most `max_body_bytes`; an event that has
    no JSON encoding is counted and left out."""
    encodings: list[bytes] = []
    size = 2  # the array's brackets
    for event, origin in zip(events, origins, strict=True):
        try:
            encoded = encode_alone(event, origin)
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


def _array_of(encodings: list[bytes]) -> EncodedBatch:
    """A request of the events encoded as `encodings`."""
    return EncodedBatch(json_array(encodings), len(encodings))
