"""GenAI spans of other instrumentations: token usage under the names semantic conventions
before 1.27 gave it, and the LLM operations the conventions name."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, loads_exact

from .conftest import START_NS

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())


def _span(attrs: dict[str, AttributeValue], kind: SpanKind = SpanKind.CLIENT) -> ReadableSpan:
    return ReadableSpan(
        name="chat gpt-test",
        context=SpanContext(0xABC, 0xDEF, is_remote=False),
        kind=kind,
        attributes=attrs,
        start_time=START_NS,
        end_time=START_NS + 1_000_000,
        status=Status(StatusCode.UNSET),
    )


def _sent(span: ReadableSpan) -> list[JsonObject]:
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span))])
    events: list[JsonObject] = []
    for request in batch.requests:
        decoded = loads_exact(request.json_array())
        assert isinstance(decoded, list)
        events.extend(item for item in decoded if isinstance(item, dict))
    return events


def test_usage_under_the_pre_1_27_token_names_is_sent() -> None:
    """An LLM span counting its tokens as `gen_ai.usage.prompt_tokens` / `completion_tokens`
    (instrumentations on semantic conventions before 1.27) sends their sum and its model."""
    span = _span(
        {
            A.GEN_AI_OPERATION_NAME: "chat",
            "gen_ai.usage.prompt_tokens": 11,
            "gen_ai.usage.completion_tokens": 7,
            A.GEN_AI_REQUEST_MODEL: "gpt-test",
        }
    )
    (event,) = _sent(span)
    assert event["type"] == "llm_call"
    assert event["usage"] == {"tokens": 18, "model": "gpt-test"}


def test_current_token_names_win_over_the_old_ones() -> None:
    """A span carrying both names (an instrumentation in transition) is counted once, by the
    current names."""
    span = _span(
        {
            A.GEN_AI_OPERATION_NAME: "chat",
            A.GEN_AI_USAGE_INPUT_TOKENS: 11,
            A.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
            "gen_ai.usage.prompt_tokens": 11,
            "gen_ai.usage.completion_tokens": 7,
        }
    )
    (event,) = _sent(span)
    assert event["usage"] == {"tokens": 18}
