"""Credentials in the URL of a span another instrumentation starts never reach any exporter.

OTel's httpx instrumentation (zero code, or an application's own) starts its CLIENT span with the
URL as the request had it (`url.full`, or `http.url` on the old conventions). The scrubbing
processor redacts the values of its credential query parameters (`api_key`, `token`, ...,
and the configured `scrub_patterns`) as the span starts, so the application's own exporters on
the shared provider get the URL the platform gets; an OAuth fragment (`#access_token=...`) is
redacted like a query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent._url_redaction import safe_url
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, loads_exact
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent._scrubbing import Scrubber, ScrubbingProcessor

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="dev", default_tags=())
TRACE = "trc_" + "c" * 48


@pytest.fixture
def pipeline() -> Iterator[tuple[Scrubber, Tracer, InMemorySpanExporter]]:
    """A provider with the scrubbing processor and the application's own in-memory exporter."""
    scrubber = Scrubber()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(ScrubbingProcessor(scrubber))
    mine = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(mine))
    yield scrubber, provider.get_tracer("otel-httpx"), mine
    provider.shutdown()


def request_span(tracer: Tracer, url_attribute: str, url: str) -> None:
    """A CLIENT span started as OTel's httpx instrumentation starts one, inside a trace."""
    attributes = {A.HTTP_REQUEST_METHOD: "GET", url_attribute: url, A.TRACE_ID: TRACE}
    tracer.start_span("GET", kind=SpanKind.CLIENT, attributes=attributes).end()


def wire_urls(spans: Sequence[ReadableSpan]) -> list[object]:
    """The `url` of each event the platform receives for `spans`."""
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])
    urls: list[object] = []
    for request in batch.requests:
        decoded = loads_exact(request.json_array())
        assert isinstance(decoded, list)
        for event in decoded:
            assert isinstance(event, dict)
            attributes: JsonObject = event["attributes"]  # type: ignore[assignment]
            urls.append(attributes.get("url"))
    return urls


@pytest.mark.parametrize("url_attribute", [A.URL_FULL, A.HTTP_URL_OLD])
def test_query_credentials_are_redacted_for_the_applications_own_exporter(
    pipeline: tuple[Scrubber, Tracer, InMemorySpanExporter], url_attribute: str
) -> None:
    """The application's exporter never sees the api key, token or password of the query."""
    _, tracer, mine = pipeline
    url = "https://bob:pw@api.example.com/v1/x?api_key=sk-LEAK1&q=shoes&token=LEAK2&password=LEAK3"
    request_span(tracer, url_attribute, url)
    (span,) = mine.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[url_attribute] == (
        "https://api.example.com/v1/x?api_key=REDACTED&q=shoes&token=REDACTED&password=REDACTED"
    )


def test_a_server_spans_target_and_query_are_redacted(
    pipeline: tuple[Scrubber, Tracer, InMemorySpanExporter],
) -> None:
    """An ASGI server span (a webhook called with `?token=`) starts with the target (old
    conventions) or the query (current ones): neither keeps the token."""
    _, tracer, mine = pipeline
    attributes = {"http.target": "/hook?token=LEAK1&id=7", "url.query": "token=LEAK2&id=7"}
    tracer.start_span("POST /hook", kind=SpanKind.SERVER, attributes=attributes).end()
    (span,) = mine.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["http.target"] == "/hook?token=REDACTED&id=7"
    assert span.attributes["url.query"] == "token=REDACTED&id=7"


def test_configured_scrub_patterns_redact_query_values_on_the_wire_and_in_spans(
    pipeline: tuple[Scrubber, Tracer, InMemorySpanExporter],
) -> None:
    """A name the application told the scrubber to mask (`*iban*`) is a secret in any URL, as in
    a tracked client's: neither its exporter nor the platform gets the value."""
    scrubber, tracer, mine = pipeline
    scrubber.tighten(patterns=["*iban*"])
    request_span(tracer, A.URL_FULL, "https://bank.example.com/pay?iban=DE00LEAK&amount=5")
    (span,) = mine.get_finished_spans()
    expected = "https://bank.example.com/pay?iban=REDACTED&amount=5"
    assert span.attributes is not None
    assert span.attributes[A.URL_FULL] == expected
    assert wire_urls([span]) == [expected]


def test_a_url_that_cannot_be_split_is_masked(
    pipeline: tuple[Scrubber, Tracer, InMemorySpanExporter],
) -> None:
    """A URL that cannot be parsed cannot be redacted either: its value is masked."""
    _, tracer, mine = pipeline
    request_span(tracer, A.URL_FULL, "http://[::1/x?token=LEAK")
    (span,) = mine.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[A.URL_FULL] == MASK_TOKEN


def test_a_url_without_credentials_is_kept_as_written(
    pipeline: tuple[Scrubber, Tracer, InMemorySpanExporter],
) -> None:
    """Nothing to redact: the URL stays byte for byte."""
    _, tracer, mine = pipeline
    url = "https://api.example.com/v1/search?q=red%20shoes&page=2#top"
    request_span(tracer, A.URL_FULL, url)
    (span,) = mine.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[A.URL_FULL] == url


def test_credentials_in_the_fragment_are_redacted() -> None:
    """An OAuth implicit-flow fragment carries the token as `name=value` pairs: redacted like a
    query's; any other fragment stays as written."""
    url = "https://app.example.com/cb?state=1#access_token=LEAK&token_type=bearer&expires_in=3600"
    assert safe_url(url).url == (
        "https://app.example.com/cb?state=1#access_token=REDACTED&token_type=bearer&expires_in=3600"
    )
    assert safe_url("https://app.example.com/docs#section-2").url == (
        "https://app.example.com/docs#section-2"
    )
