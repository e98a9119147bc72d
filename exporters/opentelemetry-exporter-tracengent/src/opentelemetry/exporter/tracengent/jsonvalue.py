"""`JsonValue` (the type of payloads) and the compact JSON encoding the wire contract uses."""

from __future__ import annotations

import json
from typing import TypeAlias

__all__ = ["JsonObject", "JsonValue", "dumps_compact"]

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A JSON document as Python values."""

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object as a Python dict."""


def dumps_compact(value: object) -> str:
    """Compact JSON (no spaces), UTF-8 kept, NaN and infinities refused (`ValueError`).

    Raises:
        ValueError: for NaN/infinity or a circular structure.
        TypeError: for a value JSON cannot represent.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
