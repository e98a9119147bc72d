"""`JsonValue` (the type of payloads) and the compact JSON encoding the wire contract uses."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias, overload

import orjson

__all__ = [
    "EncodedBatch",
    "JsonInput",
    "JsonObject",
    "JsonValue",
    "dumps_compact",
    "dumps_finite",
    "dumps_finite_by",
    "finite_float",
    "has_long_digit_run",
    "json_array",
    "loads_exact",
]

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A JSON document as Python values."""

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object as a Python dict."""

JsonInput: TypeAlias = (
    bool | int | float | str | Sequence["JsonInput"] | Mapping[str, "JsonInput"] | None
)
"""A JSON document as the agent hands it over (payloads, tool arguments, contexts).

`JsonValue` with read-only containers: `dict` and `list` are invariant, so a `dict[str, str]` or
`list[int]` held in a typed variable is no `JsonValue`, but it is a `JsonInput`.
"""


# Built once: `json.dumps` with any non-default option builds a new encoder on every call.
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def finite_float(value: object) -> float | None:
    """`value` as a float when it is a JSON number (not a bool) with a finite float value, else
    None: NaN, the infinities and integers beyond the float range (no `OverflowError`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def dumps_compact(value: object) -> str:
    """Compact JSON (no spaces), UTF-8 kept, NaN and infinities refused (`ValueError`).

    Raises:
        ValueError: for NaN/infinity or a circular structure.
        TypeError: for a value JSON cannot represent.
    """
    return _COMPACT.encode(value)


def dumps_finite(value: object) -> str:
    """`dumps_compact` for a document already known to hold no NaN or infinity: fast (orjson).

    The caller guarantees finiteness (orjson would write NaN as `null`); integers beyond 64 bits
    and other values orjson refuses go through `dumps_compact`.

    Raises:
        ValueError, TypeError: as `dumps_compact`, for what it refuses.
    """
    return dumps_finite_by(value)[0]


def dumps_finite_by(value: object) -> tuple[str, bool]:
    """`(dumps_finite(value), True when orjson wrote it, False when `json` did)`.

    Raises:
        ValueError, TypeError: as `dumps_compact`, for what it refuses.
    """
    try:
        return orjson.dumps(value).decode("utf-8"), True
    except TypeError:
        return dumps_compact(value), False


_DIGIT_RUN: Final = b"0" * 19
# Every ASCII digit becomes "0" and every other byte "x": a run of 19 digits becomes _DIGIT_RUN.
_DIGITS_AS_ZEROS: Final = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x78 for byte in range(256))


def has_long_digit_run(data: bytes) -> bool:
    """True when `data` holds a run of 19 or more ASCII digits (a C-speed scan): JSON orjson may
    not read exactly (it reads an integer beyond 64 bits as a float)."""
    return _DIGIT_RUN in data.translate(_DIGITS_AS_ZEROS)


def loads_exact(data: str | bytes) -> JsonValue:
    """`json.loads(data)`, decoded by orjson (in C) whenever that gives the same value.

    What orjson refuses (not UTF-8, NaN or infinity literals, nesting deeper than it goes) or may
    read inexactly (a run of 19+ digits) goes to the standard decoder, which decides.

    Raises:
        ValueError, RecursionError: as `json.loads`, for what is not JSON.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not has_long_digit_run(raw):
        with contextlib.suppress(orjson.JSONDecodeError):
            fast: JsonValue = orjson.loads(data)
            return fast
    value: JsonValue = json.loads(data)
    return value


def json_array(encoded: Sequence[bytes]) -> bytes:
    """The compact JSON array of items encoded as `encoded` (the list is left as it is)."""
    if len(encoded) < 2:
        return b"[" + b"".join(encoded) + b"]"
    # The brackets ride on the first and last items: the body is copied once, not thrice.
    parts = list(encoded)
    parts[0] = b"[" + parts[0]
    parts[-1] += b"]"
    return b",".join(parts)


class EncodedBatch(Sequence[JsonObject]):
    """A batch of JSON objects known by their compact JSON array, encoded once.

    The exporter encodes its events once (to isolate a bad one and to size requests); handing the
    platform client this batch lets it send those bytes instead of encoding the events again.
    The objects are decoded from the array (`loads_exact`) only if someone reads them.

    Args:
        array: the objects' compact JSON array.
        count: how many objects it holds (the caller guarantees it; reading checks it).
    """

    def __init__(self, array: bytes, count: int) -> None:
        self._array = array
        self._count = count
        self._items: list[JsonObject] | None = None

    def json_array(self) -> bytes:
        """The batch as one compact JSON array."""
        return self._array

    def _objects(self) -> list[JsonObject]:
        items = self._items
        if items is None:
            decoded = loads_exact(self.json_array())
            if not isinstance(decoded, list) or len(decoded) != self._count:
                raise ValueError("the encoded array does not hold the batch's objects")
            items = [item for item in decoded if isinstance(item, dict)]
            if len(items) != self._count:
                raise ValueError("the encoded array holds something other than objects")
            self._items = items
        return items

    @overload
    def __getitem__(self, index: int) -> JsonObject: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[JsonObject]: ...

    def __getitem__(self, index: int | slice) -> JsonObject | Sequence[JsonObject]:
        return self._objects()[index]

    def __len__(self) -> int:
        return self._count
