"""Payload attributes as wire values: JSON text decoded, other attribute values mapped.

`tracengent.input` / `.output` / `.attributes` (and the GenAI tool arguments and result) hold JSON
text; text that is not JSON is sent as a JSON string, NaN and infinities are refused.

Two decoders give the same values except in one place: orjson turns an integer beyond 64 bits
into a float, where the standard library keeps it exact. Such an integer is a run of 19 or more
digits, so `json_or_raw` (the exact routing) sends text holding such a run to the standard
decoder and everything else to orjson first. Scanning each text for that run with a regular
expression costs more than decoding it, so the exporter decodes a whole batch with orjson
(`decode_payload` with a list, which remembers each text orjson decoded) and scans all those
texts at once, at C speed (`any_long_digit_run`); only when one holds such a run is the batch
translated again with `json_or_raw`. Either way the bytes sent are the same.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Final

import orjson
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue, has_long_digit_run

__all__ = [
    "NonFiniteNumberError",
    "any_long_digit_run",
    "decode_payload",
    "finite_number",
    "has_long_digit_run",
    "json_or_raw",
]


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
_orjson_loads: Final = orjson.loads
_JSONDecodeError: Final = orjson.JSONDecodeError


def _strict(text: str) -> JsonValue:
    """The standard decoder's value of `text`, or `text` itself when it is not JSON.

    Raises:
        NonFiniteNumberError: the text holds NaN, an infinity or a number that overflows.
    """
    try:
        decoded: JsonValue = _STRICT_DECODER.decode(text)
    except json.JSONDecodeError:
        return text
    return decoded


def finite_number(value: AttributeValue | None) -> int | float | None:
    """An int or finite float; None for other types (bools included).

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


def json_or_raw(value: AttributeValue | None) -> JsonValue:
    """A payload attribute as a wire value: JSON text decoded, text that is not JSON kept as is.

    Numbers stay numbers (NaN refused), a sequence becomes a list of its JSON-able items, and
    anything else is None (no payload).

    Raises:
        NonFiniteNumberError: the payload holds NaN or an infinity.
    """
    if isinstance(value, str):
        if _LONG_DIGITS.search(value) is None:
            # orjson refuses NaN, infinities and overflowing numbers: the standard decoder then
            # says which (or keeps the text).
            try:
                fast: JsonValue = _orjson_loads(value)
            except _JSONDecodeError:
                pass
            else:
                return fast
        return _strict(value)
    if isinstance(value, float):
        return finite_number(value)
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [
            finite_number(item) if isinstance(item, float) else item
            for item in value
            if isinstance(item, (str, bool, int, float))
        ]
    return None


def decode_payload(value: AttributeValue, decoded_texts: list[str] | None) -> JsonValue:
    """`json_or_raw(value)`, or with a list: text decoded by orjson without the digit scan.

    Text orjson decoded is appended to `decoded_texts`; the caller then owes
    `any_long_digit_run(decoded_texts)` before trusting the values: when it is True, one of them
    may differ from `json_or_raw`'s.

    Raises:
        NonFiniteNumberError: as `json_or_raw`.
    """
    if decoded_texts is None or value.__class__ is not str:
        return json_or_raw(value)
    try:
        fast: JsonValue = _orjson_loads(value)
    except _JSONDecodeError:
        # What orjson refuses goes to the standard decoder on either routing.
        return _strict(value)
    decoded_texts.append(value)
    return fast


def any_long_digit_run(texts: list[str]) -> bool:
    """True when one of `texts` holds a run of 19 or more ASCII digits (a cheap C-speed scan).

    Only ASCII digits make JSON numbers; a run that `json_or_raw`'s Unicode-aware scan would also
    see through other digits lies inside a JSON string, which both decoders read alike.
    """
    if not texts:
        return False
    # A newline is not a digit, so no run spans two texts; lone surrogates (which orjson
    # refuses anyway) must not make the scan raise.
    return has_long_digit_run("\n".join(texts).encode("utf-8", "surrogatepass"))
