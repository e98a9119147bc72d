"""Payload attributes as wire values: JSON text embedded as it is, other attribute values mapped.

`tracengent.input` / `.output` / `.attributes` (and the GenAI tool arguments and result) hold JSON
text; text that is not JSON is sent as a JSON string, NaN and infinities are refused.

On the exporter's path (`_translate`) text that orjson reads as one JSON value is not decoded and
re-encoded: it goes into the event's JSON as it is written (an `orjson.Fragment`), only the
whitespace between its tokens removed (`compact_json_text`: request bodies are compact, wire
contract). orjson's reading is the validation: it accepts exactly RFC 8259 JSON (one value,
optional whitespace around it) and refuses NaN, infinities, numbers that overflow and invalid
UTF-8, so an embedded text can never reach beyond its own slot of the event, and the numbers in it
are sent as their author wrote them (an integer beyond 64 bits, which orjson would read as a
float, stays exact; so does `1E-7`). What orjson refuses goes to the standard decoder
(`strict_json`), which decides as `json_or_raw` does. `json_or_raw` gives the decoded value, for
callers that want the event as Python values.

UTF-8 cannot encode a lone surrogate (`"\\udce9"`, what `surrogateescape` makes of a file name's
odd byte), and a request body is UTF-8: `utf8_encodable` tells such text apart, and
`encodable_value` replaces each lone surrogate by U+FFFD (names, a root request) where leaving the
text out is not an option.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Final

import orjson
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue

__all__ = [
    "MAX_PAYLOAD_DEPTH",
    "NonFiniteNumberError",
    "compact_json_text",
    "decoded_deeper_than",
    "deeper_than",
    "encodable_text",
    "encodable_value",
    "finite_number",
    "json_or_raw",
    "refuse_overflowing_integers",
    "strict_json",
    "utf8_encodable",
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
MAX_PAYLOAD_DEPTH: Final = 1024
"""The deepest payload text sent as JSON: as deep as orjson reads (the platform stores deeper text
as text too); deeper text is sent as a JSON string."""
_orjson_loads: Final = orjson.loads
_JSONDecodeError: Final = orjson.JSONDecodeError
_LONE_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")
# A JSON string (escapes included), captured: `split` keeps it between the text around it.
_JSON_STRING: Final = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")')


def strict_json(text: str) -> JsonValue:
    """The standard decoder's value of `text`, or `text` itself when it is not JSON or is nested
    more than `MAX_PAYLOAD_DEPTH` levels (as orjson reads: how deep the standard decoder goes
    depends on the Python version, which must not decide what is sent).

    Raises:
        NonFiniteNumberError: the text holds NaN, an infinity or a number that overflows.
        RecursionError: the standard decoder gave up on its nesting first.
    """
    try:
        decoded: JsonValue = _STRICT_DECODER.decode(text)
    except json.JSONDecodeError:
        return text
    return text if decoded_deeper_than(text, decoded, MAX_PAYLOAD_DEPTH) else decoded


def decoded_deeper_than(text: str, value: JsonValue, limit: int) -> bool:
    """Whether `value`, decoded from the JSON `text`, nests more than `limit` levels: the
    brackets of `text` are counted first (at C speed), so only text with enough of them is
    walked (`deeper_than`)."""
    return text.count("[") + text.count("{") > limit and deeper_than(value, limit)


def deeper_than(value: JsonValue, limit: int) -> bool:
    """Whether `value` nests lists and objects more than `limit` levels (a scalar is level 0).

    Walked without recursion, and no further than one branch past `limit`.
    """
    pending: list[tuple[JsonValue, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            depth += 1
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth) for child in children if isinstance(child, (list, dict)))
    return False


def compact_json_text(text: str) -> str:
    """`text`, one JSON document, with the whitespace between its tokens removed.

    Every token stays as written (numbers, escapes, key order): only what a compact encoder
    would not write goes. `text` itself when it holds no such whitespace, the common case,
    told apart without a scan for most texts: JSON forbids raw tabs and line breaks inside a
    string, so a text without them and without a space is compact.

    `text` must be JSON (as orjson read it): on other text the result is unspecified.
    """
    if " " not in text and "\n" not in text and "\r" not in text and "\t" not in text:
        return text
    if '\\"' in text:
        # A quote after a backslash may be inside a string: the strings are found by their
        # grammar (each kept whole, quotes included, between the pieces around it).
        pieces = _JSON_STRING.split(text)
        separator = ""
    else:
        # No quote is escaped: the quotes alternately open and close the strings.
        pieces = text.split('"')
        separator = '"'
    # The pieces between strings, as one text: NUL never appears raw in JSON, and JSON allows
    # only its four whitespace characters (all `str.split` separators) there.
    between = "\x00".join(pieces[::2])
    if " " not in between and "\n" not in between and "\r" not in between and "\t" not in between:
        return text
    pieces[::2] = "".join(between.split()).split("\x00")
    return separator.join(pieces)


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


def refuse_overflowing_integers(value: object) -> None:
    """Raise when `value` (a wire value: dicts, lists, scalars) holds an integer a JSON number
    cannot carry: one beyond the range of an IEEE double, as the platform reads numbers (other
    JSON parsers read it as infinity). The platform refuses a whole request for one such
    integer, so its event must go alone or not at all, as with NaN.

    Walked without recursion; for events orjson could not write (an integer beyond 64 bits),
    off the common path.

    Raises:
        NonFiniteNumberError: such an integer is in `value`.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, int):
            try:
                float(item)
            except OverflowError:
                raise NonFiniteNumberError(
                    f"an integer of {len(str(abs(item)))} digits overflows a JSON number"
                ) from None


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
        return strict_json(value)
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


def utf8_encodable(text: str) -> bool:
    """True when UTF-8 can encode `text` (it holds no lone surrogate); O(1) for ASCII text."""
    return text.isascii() or _LONE_SURROGATE.search(text) is None


def encodable_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD; `text` itself when it holds none."""
    return text if utf8_encodable(text) else _LONE_SURROGATE.sub("\ufffd", text)


def encodable_value(value: JsonValue) -> JsonValue:
    """`value` with each lone surrogate in its text, dict keys included, replaced by U+FFFD.

    Lists and dicts are copied; other values are returned as they are.
    """
    if isinstance(value, str):
        return encodable_text(value)
    if isinstance(value, list):
        return [encodable_value(item) for item in value]
    if isinstance(value, dict):
        return {encodable_text(key): encodable_value(item) for key, item in value.items()}
    return value
