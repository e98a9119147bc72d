"""The JSON body of a governed HTTP request: read it for the platform, redact what is sent.

I/O-free and shared by the sync and async gates. A body is read only when it is in memory (an
`httpx.ByteStream`) and not content-encoded, and decoded with its declared charset (without one,
JSON's own UTF-8/16/32 detection). A JSON body the SDK cannot read or parse is *opaque*: when the
platform requires redactions of it, the request is denied (`redaction_unapplicable`), because the
unredacted body must not leave. A redacted body is re-encoded in the charset it was declared in,
so the bytes sent and the Content-Type header agree, with a matching Content-Length.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.redaction import redact_value
from opentelemetry.exporter.tracengent.wire import ToolDecision

__all__ = ["NO_JSON_BODY", "JsonBody", "enforce_redactions", "read_json_body", "with_body"]

REDACTION_UNAPPLICABLE: Final = "redaction_unapplicable"
"""The outcome of a deny because a required redaction cannot be applied to the body."""


@dataclass(frozen=True)
class JsonBody:
    """What egress knows of a request body.

    Attributes:
        is_json: the Content-Type is JSON (`application/json`, `application/*+json`).
        opaque: JSON bytes the SDK could not read or parse: streamed, content-encoded, in an
            unknown or wrong charset, malformed, or nested too deep.
        parsed: `value` holds the parsed document (False too for an empty body).
        value: the parsed document.
        charset: the declared charset the body was decoded with; None: none was declared.
    """

    is_json: bool = False
    opaque: bool = False
    parsed: bool = False
    value: JsonValue = None
    charset: str | None = None


NO_JSON_BODY: Final = JsonBody()


def _media_type_and_charset(content_type: str) -> tuple[str, str | None]:
    """`("application/json", "utf-8")` of `application/json; charset="UTF-8"` (lower-cased)."""
    media_type, _, parameters = content_type.partition(";")
    charset: str | None = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').strip().lower() or None
    return media_type.strip().lower(), charset


def read_json_body(request: httpx.Request, headers: Mapping[str, str]) -> JsonBody:
    """What the platform may see of `request`'s body (`headers`: by lower-case name).

    Never reads a stream the application still needs, and never raises for the body's content.
    """
    media_type, charset = _media_type_and_charset(headers.get("content-type", ""))
    is_json = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    if not is_json:
        return NO_JSON_BODY
    encoding = headers.get("content-encoding", "identity").strip().lower()
    # Only an in-memory body can be inspected without consuming a stream the app still needs.
    if not isinstance(request.stream, httpx.ByteStream) or encoding not in ("", "identity"):
        return JsonBody(is_json=True, opaque=True)
    # `read()`, not `.content`: the request httpx builds for a 307/308 redirect carries the first
    # hop's ByteStream unread, and `.content` would raise RequestNotRead. Joining a ByteStream
    # copies bytes already in memory (no I/O, nothing consumed), so this is safe in async too.
    content = request.read()
    if not content:
        return JsonBody(is_json=True)
    try:
        # `bytes.decode` refuses a codec that is not a text encoding (LookupError), and an
        # unknown charset is one we cannot read: opaque, never guessed.
        document: JsonValue = json.loads(content if charset is None else content.decode(charset))
    except (LookupError, ValueError, RecursionError):
        return JsonBody(is_json=True, opaque=True)
    return JsonBody(is_json=True, parsed=True, value=document, charset=charset)


def _encoded(document: JsonValue, charset: str | None) -> bytes:
    """`document` as compact JSON in `charset` (UTF-8 without one, JSON's default).

    Characters the charset cannot hold are written as `\\u` escapes, which every charset can.

    Raises:
        ValueError: not even the escaped text can be encoded (a charset without ASCII).
        RecursionError: the document is nested too deep to encode.
    """
    codec = charset or "utf-8"
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        return json.dumps(document, separators=(",", ":")).encode(codec)


def enforce_redactions(decision: ToolDecision, body: JsonBody) -> tuple[ToolDecision, bytes | None]:
    """The decision to enforce, and the redacted body to send (None: send the body as it is).

    An allow that requires redactions of a JSON body the SDK cannot read, or whose redacted body
    cannot be encoded, becomes a deny: the unredacted body must not leave.
    """
    if not (decision.allowed and decision.redactions and body.is_json):
        return decision, None
    if body.opaque:
        return _unapplicable("the JSON body is streamed, encoded or could not be parsed"), None
    if not body.parsed:
        return decision, None  # an empty body: nothing to redact
    try:
        redacted = redact_value(body.value, decision.redactions)
        if redacted == body.value:
            return decision, None
        return decision, _encoded(redacted, body.charset)
    except (ValueError, RecursionError) as error:
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
