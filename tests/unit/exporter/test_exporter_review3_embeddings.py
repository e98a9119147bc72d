"""An `embeddings` span is an LLM call (review 3), as `chat`, `text_completion` and
`generate_content` are: an `llm_call` event with its usage, and the SDK HTTP request under it no event."""

from __future__ import annotations

from typing import cast

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, loads_exact
from tracengent._processors import ContextProcessor

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())


def test_an_embeddings_call_is_one_llm_call_not_a_tool_call() -> None:
    """An `embeddings` span (an LLM SDK's embeddings call) inside a decision trace is an
    `llm_call` event with its usage, and the SDK's own HTTP request under it is not an event,
    as for a `chat` span: before, the embeddings span was skipped and its HTTP request went as
    a `tool_call` (`POST api.openai.com/v1/embeddings`)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ContextProcessor(capture_payloads=True))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("review3")
    with (
        tracer.start_as_current_span(
            "invoke_agent search-bot", attributes={A.GEN_AI_OPERATION_NAME: "invoke_agent"}
        ),
        tracer.start_as_current_span(
            "embeddings text-embedding-3-small",
            kind=SpanKind.CLIENT,
            attributes={
                A.GEN_AI_OPERATION_NAME: "embeddings",
                A.GEN_AI_REQUEST_MODEL: "text-embedding-3-small",
                A.GEN_AI_USAGE_INPUT_TOKENS: 9,
            },
        ),
        tracer.start_as_current_span(
            "POST",
            kind=SpanKind.CLIENT,
            attributes={
                A.HTTP_REQUEST_METHOD: "POST",
                A.URL_FULL: "https://api.openai.com/v1/embeddings",
                A.HTTP_RESPONSE_STATUS_CODE: 200,
            },
        ),
    ):
        pass
    provider.shutdown()
    spans = exporter.get_finished_spans()
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])
    events = [
        event
        for request in batch.requests
        for event in cast(list[JsonObject], loads_exact(request.json_array()))
    ]
    assert [(event["type"], event["name"]) for event in events] == [
        ("llm_call", "embeddings text-embedding-3-small")
    ]
    assert events[0]["usage"] == {"tokens": 9, "model": "text-embedding-3-small"}
    assert len(batch.closes) == 1
