"""The JSON body of a governed HTTP request: read it for the platform, redact what is sent.

I/O-free and shared by the sync and async gates. A body is read only when it is in memory (an
`httpx.ByteStream`) and not content-encoded. The platform must decide on the document the server
will read, and servers parse JSON bytes as RFC 8259 says (UTF-8/16/32, detected from the bytes),
most of them ignoring a declared charset. So the bytes are always parsed that way, and a declared
charset is honoured only when it is one of `ALLOWED_CHARSETS` *and* yields the same document (or
the bytes alone do not parse, e.g. Latin-1 text). A charset outside the list (`utf-7`,
`unicode_escape`, `utf8mb4`, ...) is ignored: the bytes are read as servers read them.

A body sent as JSON is one whose first Content-Type is JSON (`application/json`,
`application/*+json`), or that has no Content-Type and parses as JSON (FastAPI, among others,
parses such a body as JSON).

A body without a Content-Type that is streamed or content-encoded may be JSON to the server, so
it counts as an opaque JSON body.

A body that is not sent as JSON (a form, multipart, text) is never shown to the platform, so its
redactions cannot be applied to it either: when the platform requires some, such a body is denied
(`redaction_unapplicable`) unless it is empty; otherwise it is sent untouched.

A JSON body the SDK cannot read is either *opaque* (streamed or content-encoded: never read) or
*unreadable* (in memory, but parsed neither from its bytes nor with an allowed charset, malformed,
nested more than `MAX_BODY_DEPTH` levels, an object naming a key twice (parsers keep the first
or the last), a number no double holds (`1e400`: the platform is shown numbers as doubles) or
`NaN` / `Infinity` (not JSON, though some parsers take them), or read as two different documents
by its bytes and its declared charset). An unreadable body is denied (`body_unreadable`) even
without redactions: the platform would decide without the document the server acts on. An opaque or unreadable body the platform requires redactions of is denied
(`redaction_unapplicable`). A redacted body is re-encoded in the encoding it was read with, with a
matching Content-Length, its numbers written exactly as the value the app sent (re-read from its
text, not from the doubles the platform was shown).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import httpx

from opentelemetry.exporter.tracengent._payloads import decoded_deeper_than
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.redaction import redact_value
from opentelemetry.exporter.tracengent.wire import ToolDecision

__all__ = [
    "ALLOWED_CHARSETS",
    "BODY_UNREADABLE",
    "MAX_BODY_DEPTH",
    "NO_JSON_BODY",
    "REDACTION_UNAPPLICABLE",
    "JsonBody",
    "enforce_redactions",
    "read_json_body",
    "with_body",
]

REDACTION_UNAPPLICABLE: Final = "redaction_unapplicable"
"""The outcome of a deny because a required redaction cannot be applied to the body."""

BODY_UNREADABLE: Final = "body_unreadable"
"""The outcome of a deny because an in-memory JSON body could not be read unambiguously."""

ALLOWED_CHARSETS: Final = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-16": "utf-16",
    "utf16": "utf-16",
    "utf-16le": "utf-16-le",
    "utf-16-le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-16-be": "utf-16-be",
    "utf-32": "utf-32",
    "utf32": "utf-32",
    "utf-32le": "utf-32-le",
    "utf-32-le": "utf-32-le",
    "utf-32be": "utf-32-be",
    "utf-32-be": "utf-32-be",
    "ascii": "ascii",
    "us-ascii": "ascii",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
    "latin-1": "latin-1",
    "latin1": "latin-1",
}
"""Declared charsets honoured (lower-case, `_` read as `-`), each with the codec it decodes with."""


@dataclass(frozen=True)
class JsonBody:
    """What egress knows of a request body.

    Attributes:
        is_json: the body is sent as JSON (module docstring).
        opaque: why the SDK did not read the body (streamed or content-encoded JSON, or not
            JSON), so that no redaction can be applied to it; None: read, or known empty.
        unreadable: why the in-memory JSON body could not be read; None: it was (or is opaque).
        parsed: `value` holds the parsed document (False too for an empty body).
        value: the parsed document.
        charset: the codec the document was read with (and a redacted one is written in).
        text: the decoded text `value` was parsed from (a redacted body is re-read from it).
    """

    is_json: bool = False
    opaque: str | None = None
    unreadable: str | None = None
    parsed: bool = False
    value: JsonValue = None
    charset: str | None = None
    text: str | None = None


NO_JSON_BODY: Final = JsonBody()

# Never read, so the platform's redactions cannot be applied to them: a streamed or
# content-encoded body, declared JSON or without a Content-Type (which servers read as JSON), ...
_OPAQUE: Final = JsonBody(is_json=True, opaque="the JSON body is streamed or content-encoded")
# ... and a body that is not JSON (a form, as Stripe's API takes, multipart, text).
_NOT_JSON: Final = JsonBody(opaque="the body is not JSON (a form, multipart, text, ...)")


@dataclass(frozen=True)
class _Reading:
    """The body decoded with one codec, and parsed (`ok`) or not; `ambiguous`: why it is JSON
    that cannot be read one way (an object naming a key twice, a number no double holds, `NaN`
    or `Infinity`), else None."""

    codec: str
    text: str | None = None
    ok: bool = False
    value: JsonValue = None
    ambiguous: str | None = None


class _AmbiguousError(ValueError):
    """The document cannot be read one way (raised by the parser's hooks)."""


class _DuplicateKeyError(_AmbiguousError):
    """An object names a key twice."""


_SHOWN_DIGITS: Final = 40
"""How much of a number's text a reason quotes."""
MAX_BODY_DEPTH: Final = 900
"""The deepest JSON body shown to the platform (nested in its authorization request, and read
there as any governance body is); a deeper one is unreadable, and denied."""


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent as the double the platform is shown; refuses
    one beyond a double's range (`1e400` would be infinity, which no JSON request carries)."""
    number = float(text)
    if math.isinf(number):
        shown = text if len(text) <= _SHOWN_DIGITS else f"{text[:_SHOWN_DIGITS]}..."
        raise _AmbiguousError(f"it holds the number {shown}, beyond the range of a double")
    return number


def _no_constant(name: str) -> float:
    """Refuses `NaN`, `Infinity` and `-Infinity`: not JSON, though Python's parser takes them."""
    raise _AmbiguousError(f"it holds {name}, which is not JSON (servers read it differently)")


def _object(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    """A JSON object, refusing one that names a key twice: `json` keeps the last, other parsers
    the first, and RFC 8259 leaves it to the receiver, so the platform could be shown `5` of
    `{"amount": 5000, "amount": 5}` and a redaction miss the first `card`."""
    document = dict(pairs)
    if len(document) != len(pairs):
        twice = next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise _DuplicateKeyError(f"it names the key {twice!r} twice in one object")
    return document


def _read_with(content: bytes, codec: str) -> _Reading:
    """`content` decoded with `codec` and parsed; never raises for the content."""
    try:
        text = content.decode(codec, "surrogatepass")
    except (LookupError, ValueError):
        return _Reading(codec)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except _AmbiguousError as error:
        return _Reading(codec, text, ambiguous=str(error))
    except (ValueError, RecursionError):
        return _Reading(codec, text)
    if decoded_deeper_than(text, value, MAX_BODY_DEPTH):
        # Unreadable as one deeper than the decoder goes: how deep that is depends on the
        # Python version, which must not decide what leaves.
        return _Reading(codec, text)
    return _Reading(codec, text, True, value)


def _exact(text: str) -> JsonValue:
    """`text` (read as `_read_with` read it) with its non-integral numbers as the `Decimal`s they
    are written as: what a redacted body is written from."""
    return json.loads(text, parse_float=Decimal)  # type: ignore[no-any-return]


def _dumps(document: object, *, ensure_ascii: bool) -> str:
    """Compact JSON of `document`, a `Decimal` written as the number it is. Built without
    recursion (any nesting `json.loads` read is written).

    Raises:
        ValueError: a non-finite `Decimal` or float (never in a parsed body).
        TypeError: a value JSON cannot represent.
    """
    parts: list[str] = []
    # Each item is a value to write, or the text to write as it is (wrapped in a tuple).
    pending: list[object] = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, tuple):
            parts.append(item[0])
        elif isinstance(item, dict):
            members: list[object] = []
            for key, value in item.items():
                if not isinstance(key, str):
                    raise TypeError(f"keys must be str, not {type(key).__name__}")
                name = json.dumps(key, ensure_ascii=ensure_ascii)
                members += [(f",{name}:" if members else f"{name}:",), value]
            parts.append("{")
            pending.append(("}",))
            pending.extend(reversed(members))
        elif isinstance(item, list):
            elements: list[object] = []
            for value in item:
                elements += [(",",), value] if elements else [value]
            parts.append("[")
            pending.append(("]",))
            pending.extend(reversed(elements))
        elif isinstance(item, Decimal):
            if not item.is_finite():
                raise ValueError(f"{item} is not a JSON number")
            parts.append(str(item))
        else:
            parts.append(json.dumps(item, ensure_ascii=ensure_ascii, allow_nan=False))
    return "".join(parts)


def _read_as_servers_do(content: bytes) -> _Reading:
    """`content` read as `json.loads(bytes)` reads it (RFC 8259: UTF-8/16/32, BOM allowed)."""
    return _read_with(content, json.detect_encoding(content))


def _same_document(first: _Reading, second: _Reading) -> bool:
    if first.text == second.text:
        return True
    try:
        return json.dumps(first.value) == json.dumps(second.value)
    except (ValueError, RecursionError):
        return False


def _media_type_and_charset(content_type: str) -> tuple[str, str | None]:
    """`("application/json", "utf-8")` of `application/json; charset="UTF-8"` (lower-cased)."""
    media_type, _, parameters = content_type.partition(";")
    charset: str | None = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip().lower() or None
    return media_type.strip().lower(), charset


def _is_json_media_type(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _parsed(reading: _Reading) -> JsonBody:
    return JsonBody(
        is_json=True, parsed=True, value=reading.value, charset=reading.codec, text=reading.text
    )


def _unreadable(why: str) -> JsonBody:
    return JsonBody(is_json=True, unreadable=why)


def _read_declared(content: bytes, charset: str | None) -> JsonBody:
    """A JSON-declared in-memory `content` read as the server will read it (module docstring)."""
    by_bytes = _read_as_servers_do(content)
    if by_bytes.ambiguous is not None:
        return _unreadable(by_bytes.ambiguous)
    codec = None if charset is None else ALLOWED_CHARSETS.get(charset.replace("_", "-"))
    if codec is None:  # none declared, or a charset servers do not honour: the bytes decide
        if by_bytes.ok:
            return _parsed(by_bytes)
        if charset is not None:  # declared, and not one of ALLOWED_CHARSETS
            return _unreadable(
                f"it is not JSON (UTF-8/16/32) and its charset {charset!r} is not read"
            )
        return _unreadable("it is not valid JSON")
    # The usual case (`charset=utf-8` on UTF-8 bytes) is the reading already made.
    by_charset = by_bytes if codec == by_bytes.codec else _read_with(content, codec)
    if by_charset.ambiguous is not None:
        return _unreadable(by_charset.ambiguous)
    if not by_charset.ok:
        if by_bytes.ok:
            return _parsed(by_bytes)
        return _unreadable(f"it is valid JSON neither as UTF-8/16/32 nor as {charset}")
    if by_bytes.ok and not _same_document(by_charset, by_bytes):
        return _unreadable(
            f"its bytes read as JSON (UTF-8/16/32) and as its charset {charset} are two "
            "different documents"
        )
    return _parsed(by_charset)


def read_json_body(request: httpx.Request) -> JsonBody:
    """What the platform may see of `request`'s body (module docstring: which bodies, how read).

    Never reads a stream the application still needs, and never raises for the body's content.
    """
    content_types = request.headers.get_list("content-type")
    first = content_types[0].strip() if content_types else ""
    media_type, charset = _media_type_and_charset(first)
    if first and not _is_json_media_type(media_type):
        return _not_json(request)
    # Only an in-memory body can be inspected without consuming a stream the app still needs.
    if not isinstance(request.stream, httpx.ByteStream):
        return _OPAQUE
    # The stream's bytes, what the transport sends: not `.content`/`read()`, a copy kept when the
    # request was built, which a hook or auth flow assigning `request.stream` leaves stale (and
    # which a 307/308 redirect's request lacks). A ByteStream yields the bytes it holds (no I/O,
    # nothing consumed), so this is safe in async too.
    content = b"".join(request.stream)
    if not content:
        return JsonBody(is_json=True) if first else NO_JSON_BODY
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return _OPAQUE
    if not first:  # no Content-Type: JSON when it parses as JSON, as servers then read it
        by_bytes = _read_as_servers_do(content)
        if by_bytes.ambiguous is not None:  # JSON all the same: not sent as a non-JSON body
            return _unreadable(by_bytes.ambiguous)
        return _parsed(by_bytes) if by_bytes.ok else _NOT_JSON
    return _read_declared(content, charset)


def _not_json(request: httpx.Request) -> JsonBody:
    """`_NOT_JSON`, or `NO_JSON_BODY` for an empty in-memory body (nothing to redact)."""
    stream = request.stream
    if isinstance(stream, httpx.ByteStream) and not b"".join(stream):
        return NO_JSON_BODY
    return _NOT_JSON


def _encoded(document: JsonValue, charset: str | None) -> bytes:
    """`document` as compact JSON in `charset` (UTF-8 without one, JSON's default).

    Characters the charset cannot hold are written as `\\u` escapes, which every charset can.

    Raises:
        ValueError: not even the escaped text can be encoded (a charset without ASCII).
        TypeError: a value JSON cannot represent (never in a parsed body).
    """
    codec = charset or "utf-8"
    text = _dumps(document, ensure_ascii=False)
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        return _dumps(document, ensure_ascii=True).encode(codec)


def enforce_redactions(decision: ToolDecision, body: JsonBody) -> tuple[ToolDecision, bytes | None]:
    """The decision to enforce, and the redacted body to send (None: send the body as it is).

    An allow becomes a deny when it requires redactions of a body the SDK cannot read (opaque,
    unreadable or not JSON), or whose redacted body cannot be encoded (the unredacted body must
    not leave), and when the in-memory JSON body is unreadable (the platform decided without the
    document the server reads).
    """
    if not decision.allowed:
        return decision, None
    if decision.redactions and body.opaque is not None:
        return _unapplicable(body.opaque), None
    if not body.is_json:
        return decision, None
    if body.unreadable is not None:
        if decision.redactions:
            return _unapplicable(f"the JSON body cannot be read: {body.unreadable}"), None
        return ToolDecision.deny(
            f"the JSON body cannot be read unambiguously: {body.unreadable}", BODY_UNREADABLE
        ), None
    if not (decision.redactions and body.parsed):
        return decision, None  # nothing to redact (an empty or opaque body without redactions)
    try:
        redacted = redact_value(body.value, decision.redactions)
        if redacted == body.value:
            return decision, None
        # Written from the body's text, so every number is the one the app sent (the doubles
        # the platform was shown may round it); the same paths name the same values there.
        if body.text is not None:
            redacted = redact_value(_exact(body.text), decision.redactions)
        return decision, _encoded(redacted, body.charset)
    except (ValueError, TypeError, RecursionError) as error:
        return _unapplicable(f"the redacted JSON body cannot be encoded: {error}"), None


def _unapplicable(why: str) -> ToolDecision:
    return ToolDecision.deny(f"the platform requires redactions but {why}", REDACTION_UNAPPLICABLE)


def with_body(request: httpx.Request, content: bytes | None) -> httpx.Request:
    """`request` itself, its body replaced in place by `content` (None: unchanged).

    In place, not a copy: httpx builds a redirect (307/308 keep the body) and event hooks from
    the request it handed the transport, so a redacted copy would leave the unredacted body on
    the request a redirect to an ungoverned host sends again.
    """
    if content is None:
        return request
    request.stream = httpx.ByteStream(content)
    # What `request.content` returns (httpx keeps the body it read there).
    request._content = content
    request.headers["Content-Length"] = str(len(content))
    return request
