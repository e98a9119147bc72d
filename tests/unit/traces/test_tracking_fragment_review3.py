"""A token in a tracked request's URL fragment is redacted too (review 3).

An OAuth implicit-flow callback URL (`https://app/cb#access_token=...`) requested through a
tracked client kept its token: the tracked client redacted the query only, and the exporter
parsed a named HTTP span's URL only when it held an `@` or a `?`. Both now judge the fragment's
`name=value` pairs as the query's.
"""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._fields import http_details
from tracengent._scrubbing import Scrubber
from tracengent._tracking import request_event

URL = "https://app.example.com/cb#access_token=s3cret&state=xyz"


def test_the_tracked_client_records_the_fragment_redacted() -> None:
    _, attrs = request_event(httpx.Request("GET", URL), Scrubber())
    recorded = str(attrs[A.URL_FULL])
    assert "s3cret" not in recorded
    assert recorded.endswith("#access_token=REDACTED&state=xyz")


def test_the_exporter_redacts_a_named_spans_fragment() -> None:
    span = ReadableSpan(
        name="GET app.example.com/cb",
        context=SpanContext(1, 2, is_remote=False),
        kind=SpanKind.CLIENT,
        attributes={A.HTTP_REQUEST_METHOD: "GET", A.URL_FULL: URL},
    )
    assert span.attributes is not None
    _, details, _ = http_details(dict(span.attributes), span.name, named=True)
    assert "s3cret" not in str(details["url"])
