"""Query-string credentials never reach the platform in an HTTP event's `url`.

An HTTP span recorded by another instrumentation (OTel's httpx instrumentation, zero code) carries
its `url.full` as the request had it. The event sent for it has the userinfo left out and the
value of each sensitive query parameter (`access_token`, `api_key`, signatures, ...) replaced by
`REDACTED`, as a tracked client's URL has; the rest of the URL goes as it was written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.context import Context
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent._url_redaction import redact_query
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, loads_exact

from .conftest import SpanMaker

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())
TRACE = "trc_" + "c" * 48


def events_of(spans: Sequence[ReadableSpan]) -> list[JsonObject]:
    """The events of `spans` as the platform reads them (every span must become one)."""
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])
    assert batch.unserializable == 0
    events: list[JsonObject] = []
    for request in batch.requests:
        decoded = loads_exact(request.json_array())
        assert isinstance(decoded, list)
        events.extend(item for item in decoded if isinstance(item, dict))
    assert len(events) == len(spans)
    return events


def http_span(make_span: SpanMaker, attributes: Mapping[str, AttributeValue]) -> ReadableSpan:
    """A CLIENT span of an HTTP request made inside a decision trace."""
    return make_span(
        "GET", {A.HTTP_REQUEST_METHOD: "GET", A.TRACE_ID: TRACE, **attributes}, kind=SpanKind.CLIENT
    )


def sent_url(event: JsonObject) -> object:
    """The `url` an HTTP event carries."""
    attributes = event["attributes"]
    assert isinstance(attributes, dict)
    return attributes.get("url")


def test_sensitive_query_values_of_a_third_party_span_are_redacted(make_span: SpanMaker) -> None:
    """Tokens, keys, passwords and signatures become REDACTED; names, order, encoding, the other
    values and the fragment stay as written; the userinfo is left out."""
    url = (
        "https://bob:pw@api.example.com/v1/search?access_token=SECRET-AT&q=red%20shoes"
        "&Api-Key=SECRET-AK&page=2&X-Goog-Signature=SIG1&sig=SIG2&user_password=pw&flag#top"
    )
    (event,) = events_of([http_span(make_span, {A.URL_FULL: url})])
    assert sent_url(event) == (
        "https://api.example.com/v1/search?access_token=REDACTED&q=red%20shoes"
        "&Api-Key=REDACTED&page=2&X-Goog-Signature=REDACTED&sig=REDACTED"
        "&user_password=REDACTED&flag#top"
    )
    assert event["name"] == "GET api.example.com/v1/search"


def test_the_old_http_url_attribute_is_redacted_too(make_span: SpanMaker) -> None:
    """A span on the old HTTP conventions (`http.url`) gets the same treatment."""
    span = http_span(make_span, {A.HTTP_URL_OLD: "http://tool.test/a?api_key=SECRET&x=1"})
    (event,) = events_of([span])
    assert sent_url(event) == "http://tool.test/a?api_key=REDACTED&x=1"


def test_a_sensitive_name_written_percent_encoded_is_recognised(make_span: SpanMaker) -> None:
    """`api%5Fkey` is `api_key`: its value is redacted, its name kept as written."""
    span = http_span(make_span, {A.URL_FULL: "http://tool.test/a?api%5Fkey=SECRET"})
    (event,) = events_of([span])
    assert sent_url(event) == "http://tool.test/a?api%5Fkey=REDACTED"


def test_a_named_events_url_with_a_query_is_redacted_as_well(make_span: SpanMaker) -> None:
    """A tracked request's event (a name of its own) is not sent a query credential either."""
    span = make_span(
        "GET tool.test/a",
        {
            A.HTTP_REQUEST_METHOD: "GET",
            A.TRACKED: True,
            A.EVENT_NAME: "GET tool.test/a",
            A.URL_FULL: "http://tool.test/a?refresh_token=SECRET&x=1",
        },
        kind=SpanKind.CLIENT,
    )
    (event,) = events_of([span])
    assert sent_url(event) == "http://tool.test/a?refresh_token=REDACTED&x=1"
    assert event["name"] == "GET tool.test/a"


def test_a_url_without_credentials_goes_as_written(make_span: SpanMaker) -> None:
    """Nothing to remove: the URL is not rebuilt (`?` with an empty query kept, no lowercasing)."""
    for url in ("http://Tool.test/a?", "http://tool.test/a?q=1&token_count=3", "http://t/a"):
        (event,) = events_of([http_span(make_span, {A.URL_FULL: url})])
        assert sent_url(event) == url


def test_a_url_that_cannot_be_split_is_left_out_not_sent_raw(make_span: SpanMaker) -> None:
    """A URL urlsplit refuses cannot be redacted: the event goes without it."""
    span = http_span(
        make_span, {A.URL_FULL: "http://[::1/a?api_key=SECRET", A.SERVER_ADDRESS: "::1"}
    )
    (event,) = events_of([span])
    assert sent_url(event) is None
    assert event["name"] == "GET ::1"


def test_redact_query_keeps_parameters_without_a_value() -> None:
    """A bare name (`?api_key`) has no value to hide; an empty value is still marked."""
    assert redact_query("api_key&x=1") == "api_key&x=1"
    assert redact_query("api_key=&x=1") == "api_key=REDACTED&x=1"


class _StampTrace(SpanProcessor):
    """Marks every span as inside a decision trace, as Tracengent's context processor does."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span.set_attribute(A.TRACE_ID, TRACE)


@dataclass
class Instrumented:
    """An httpx client under OTel's own httpx instrumentation, and the spans it recorded."""

    client: httpx.Client
    memory: InMemorySpanExporter


@pytest.fixture
def instrumented() -> Iterator[Instrumented]:
    """OTel's httpx instrumentation on one client, on a provider of its own."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(_StampTrace())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
    yield Instrumented(client, memory)
    HTTPXClientInstrumentor.uninstrument_client(client)
    client.close()
    provider.shutdown()


def test_otel_httpx_instrumentation_spans_go_without_query_credentials(
    instrumented: Instrumented,
) -> None:
    """Zero code: OTel's httpx span of `?access_token=...&api_key=...` is sent redacted."""
    instrumented.client.get("http://tool.test/a?access_token=SECRET-AT&api_key=SECRET-AK&x=1")
    (span,) = instrumented.memory.get_finished_spans()
    recorded = A.attributes_of(span)
    assert "SECRET-AT" in str(recorded.get(A.URL_FULL) or recorded.get(A.HTTP_URL_OLD))
    (event,) = events_of([span])
    assert sent_url(event) == "http://tool.test/a?access_token=REDACTED&api_key=REDACTED&x=1"
    assert "SECRET" not in str(event)
