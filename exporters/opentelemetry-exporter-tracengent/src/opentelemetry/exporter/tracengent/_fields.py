"""Wire fields that take more than a look-up: timestamps, HTTP details, usage, tags.

Helpers of `_translate`; I/O-free. Each reads the span's attributes as `attributes_of` gives them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._classify import Attributes
from opentelemetry.exporter.tracengent._payloads import finite_number
from opentelemetry.exporter.tracengent._url_redaction import SafeUrl, safe_url
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.wire import merge_tags

__all__ = ["TimestampFormatter", "http_details", "merged_tags", "text", "usage"]


class TimestampFormatter:
    """Formats span times (ns since the epoch) like `wire.format_timestamp`, caching per second.

    Safe to share between threads: the cached second and its prefix are replaced as one tuple.
    """

    def __init__(self) -> None:
        self.cached: tuple[int, int, str] = (0, 0, "")
        """(first microsecond of the cached second, first of the next, `YYYY-MM-DDTHH:MM:SS.`).

        A cached second is never the epoch's first: every microsecond count in it has at least
        seven digits, its last six being the microseconds within the second (the translator's
        inlined fast case relies on that).
        """

    def __call__(self, time_ns: int) -> str:
        """`2026-11-24T10:15:02.123456+00:00` (microseconds truncated, as `datetime` keeps them)."""
        micros = time_ns // 1000
        low, high, prefix = self.cached
        if low <= micros < high:
            return f"{prefix}{str(micros)[-6:]}+00:00"
        second = micros // 1_000_000
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        low = second * 1_000_000
        if second >= 1:
            self.cached = (low, low + 1_000_000, prefix)
        return f"{prefix}{micros - low:06d}+00:00"


_INPUT_TOKENS: Final = A.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT_TOKENS: Final = A.GEN_AI_USAGE_OUTPUT_TOKENS
_PROMPT_TOKENS: Final = A.GEN_AI_USAGE_PROMPT_TOKENS
_COMPLETION_TOKENS: Final = A.GEN_AI_USAGE_COMPLETION_TOKENS
_USAGE_TOKENS: Final = A.USAGE_TOKENS
_MODEL_KEYS: Final = (A.GEN_AI_RESPONSE_MODEL, A.GEN_AI_REQUEST_MODEL, A.USAGE_MODEL)


def text(value: AttributeValue | None) -> str | None:
    """A non-empty string attribute, else None."""
    return value if isinstance(value, str) and value else None


def http_details(
    attrs: Attributes, span_name: str, *, named: bool = False
) -> tuple[str, JsonObject, bool]:
    """`(name, attributes, failed)` of an HTTP client span: `"GET host/path"`, method/url/status.

    Credentials are left out of both: the URL's userinfo, and the values of sensitive query
    parameters (`_url_redaction.safe_url`: `api_key`, `access_token`, signatures, ...), which
    become `REDACTED`. A URL that cannot be split is left out (the name is then the server's).
    With `named` (the event has a name of its own, as a tracked request's has), the name
    returned is the span's and the URL is parsed only when it can hold credentials (an `@`, a
    `?` or a `#`).
    """
    method = text(attrs.get(A.HTTP_REQUEST_METHOD)) or text(attrs.get(A.HTTP_METHOD_OLD)) or "GET"
    url = text(attrs.get(A.URL_FULL)) or text(attrs.get(A.HTTP_URL_OLD))
    raw_code = attrs.get(A.HTTP_RESPONSE_STATUS_CODE, attrs.get(A.HTTP_STATUS_CODE_OLD))
    # An int status (the usual case; never a bool: its class is not int) without the call.
    status_code = raw_code if raw_code.__class__ is int else finite_number(raw_code)
    if status_code is None and isinstance(raw_code, str) and raw_code.isdigit():
        status_code = int(raw_code)
    details: JsonObject = {"method": method}
    if url is not None and named and "@" not in url and "?" not in url and "#" not in url:
        name = span_name
        details["url"] = url
    elif url is not None and (safe := _safe_url_or_none(url)) is not None:
        name = span_name if named else f"{method} {safe.host}{safe.path or '/'}"
        details["url"] = safe.url
    else:
        server = text(attrs.get(A.SERVER_ADDRESS))
        name = f"{method} {server}" if server else span_name
    if status_code is not None:
        details["statusCode"] = status_code
    return name, details, status_code is not None and status_code >= 400


def _safe_url_or_none(url: str) -> SafeUrl | None:
    # A URL that cannot be split cannot be redacted either: it is not sent.
    try:
        return safe_url(url)
    except ValueError:
        return None


def usage(attrs: Attributes) -> JsonObject | None:
    """`{"tokens", "model"?}`: GenAI input + output tokens, else `tracengent.usage.tokens`.

    Each GenAI count is read under its current name, else under its name before semantic
    conventions 1.27 (`gen_ai.usage.prompt_tokens` / `completion_tokens`), which
    instrumentations still emit.

    Raises:
        NonFiniteNumberError: a token count is NaN or infinite.
    """
    get = attrs.get
    input_tokens = get(_INPUT_TOKENS)
    if input_tokens is None:
        input_tokens = get(_PROMPT_TOKENS)
    output_tokens = get(_OUTPUT_TOKENS)
    if output_tokens is None:
        output_tokens = get(_COMPLETION_TOKENS)
    if input_tokens is not None or output_tokens is not None:
        input_tokens = finite_number(input_tokens)
        output_tokens = finite_number(output_tokens)
    if input_tokens is not None or output_tokens is not None:
        tokens: int | float | None = (input_tokens or 0) + (output_tokens or 0)
    else:
        count = get(_USAGE_TOKENS)
        # The recorder's case, an int (never a bool: its class is not int), without the call.
        tokens = count if count is None or count.__class__ is int else finite_number(count)
    if tokens is None:
        return None
    wire: JsonObject = {"tokens": tokens}
    # The first non-empty text of the three, as `text` decides, the recorder's last.
    for key in _MODEL_KEYS:
        model = get(key)
        if model and isinstance(model, str):
            wire["model"] = model
            break
    return wire


def merged_tags(own: AttributeValue, environment: str, default_tags: Sequence[str]) -> list[str]:
    """The tags of an event with `tracengent.event.tags` (one string or a sequence of them)."""
    if isinstance(own, str):
        own_tags = [own]
    elif isinstance(own, Sequence):
        own_tags = [tag for tag in own if isinstance(tag, str)]
    else:
        own_tags = []
    return merge_tags(environment, default_tags, own_tags)
