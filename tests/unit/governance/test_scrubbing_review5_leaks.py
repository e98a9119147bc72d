"""Review 5: secrets that reached an exporter although the scrubbing rules say they are masked."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tests.unit.traces.conftest import FakePlatform, platform_options
from tracengent import TracengentClient, _state
from tracengent._scrubbing import Scrubber


def test_private_keys_are_masked_in_every_spelling() -> None:
    """`privateKey` and `private-key` are private keys as `private_key` is (API keys, tokens and
    card numbers were masked in each spelling, private keys only with an underscore)."""
    text = Scrubber().payload_text(
        {"privateKey": "k1", "private-key": "k2", "PRIVATE_KEY": "k3", "ssh": {"PrivateKey": "k4"}}
    )
    assert text is not None
    assert json.loads(text) == {
        "privateKey": MASK_TOKEN,
        "private-key": MASK_TOKEN,
        "PRIVATE_KEY": MASK_TOKEN,
        "ssh": {"PrivateKey": MASK_TOKEN},
    }


_TRUNCATED = '{"q": "a", "password": "hunter2-and-mo'
"""A third-party tool call's JSON arguments cut by an attribute length limit: no longer JSON."""


@pytest.mark.parametrize(
    "text",
    [
        _TRUNCATED,
        "{'city': 'Oslo', 'api_key': 'sk-live-1'}",  # a Python dict's repr, not JSON
        '  [{"user": {"Card_Number": "4111 1111',
        '{"pass\\u0077ord": "hunter2"',  # the name escaped
    ],
)
def test_payload_text_that_is_not_json_with_a_sensitive_key_is_dropped(text: str) -> None:
    """Text that is not one JSON document but names a sensitive key (a truncated document, a
    `repr`) cannot be masked key by key: it is dropped at the start and on export, not kept."""
    scrubber = Scrubber()
    assert scrubber.scrub_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, text) is None
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, text) is None


def test_payload_text_that_is_not_json_naming_a_redacted_path_is_dropped() -> None:
    """A JSON path's key in such text (configured, or a trace's `redactFields`) drops it too."""
    text = '{"order": {"card": "4111 1111'
    assert Scrubber(patterns=["$.order.card"]).scrub_attribute(A.INPUT, text) is None
    assert Scrubber().scrub_attribute(A.INPUT, text, redact_paths=["$.order.card"]) is None
    assert Scrubber().scrub_attribute(A.INPUT, text) == text


@pytest.mark.parametrize(
    "text", ["plain words: no structure", '{"orderId": "ord_1', "it's 'quoted': fine?"]
)
def test_payload_text_that_is_not_json_without_a_sensitive_key_is_kept(text: str) -> None:
    """Plain text, and a cut document without sensitive keys, are still kept as they are."""
    assert Scrubber().scrub_attribute(A.OUTPUT, text) == text
    assert Scrubber().exported_payload(A.OUTPUT, text) == text


def test_a_payload_cut_by_the_attribute_length_limit_reaches_no_exporter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a span attribute length limit the SDK cuts a third-party tool call's JSON payload
    where it is set, before any processor sees it: the password it held reached the
    application's exporter (arguments the span started with) and the platform (a result set
    after the start), since text that is not JSON was kept whole."""
    provider = TracerProvider(span_limits=SpanLimits(max_span_attribute_length=40))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    mine = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(mine))
    platform = FakePlatform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    secret = {"q": "a", "password": "hunter2-and-more-and-more-to-be-cut"}
    try:
        with (
            client.begin_trace("look it up"),
            provider.get_tracer("framework").start_as_current_span(
                "execute_tool lookup",
                attributes={
                    A.GEN_AI_OPERATION_NAME: A.OPERATION_EXECUTE_TOOL,
                    A.GEN_AI_TOOL_NAME: "lookup",
                    A.GEN_AI_TOOL_CALL_ARGUMENTS: json.dumps(secret),
                },
            ) as span,
        ):
            span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, json.dumps(secret))
        assert client.close(timeout=10)
    finally:
        provider.shutdown()
        _state.reset_for_tests()
    (tool,) = [s for s in mine.get_finished_spans() if s.name == "execute_tool lookup"]
    assert (tool.attributes or {})[A.GEN_AI_TOOL_CALL_ARGUMENTS] == MASK_TOKEN
    (event,) = [e for e in platform.events() if e["name"] == "lookup"]
    assert "hunter2" not in json.dumps(event)
    assert "output" not in event


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("token info: password=hunter2", f"token info: password={MASK_TOKEN}"),
        ('{"Api-Key": "k-1", "n": 2}', f'{{"Api-Key": "{MASK_TOKEN}", "n": 2}}'),
        ("x-secret: 'cut-off", f"x-secret: '{MASK_TOKEN}'"),
        (
            "see http://u:p@h/x?sig=1#access_token=t",
            "see http://h/x?sig=REDACTED#access_token=REDACTED",
        ),
        ("KeyError: 'city': Oslo, n=3", "KeyError: 'city': Oslo, n=3"),
    ],
)
def test_free_text_loses_named_credentials_and_keeps_the_rest(text: str, told: str) -> None:
    """What `free_text` does to an exception's message: URLs lose their credentials, a named
    secret's value is masked, everything else is kept."""
    assert Scrubber().free_text(text) == told


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000 + " see http://u:p@h/x",  # a long word before a URL: quadratic
        ('"' + "a" * 127) * 800,  # each letter of each long word tried as a name
        "f" * 100_000 + " password=hunter2",
    ],
)
def test_free_text_of_a_long_message_is_linear(text: str) -> None:
    """An exception message holding a long run of letters (a hex dump, a response body) took
    seconds in the agent's thread: the URL scheme was tried from each letter to the end of
    the run, and each letter started a name scanned 128 characters on."""
    started = time.perf_counter()
    told = Scrubber().free_text(text)
    assert time.perf_counter() - started < 0.5
    assert "hunter2" not in told
    assert "u:p@" not in told


def test_payload_text_that_is_not_json_is_searched_in_linear_time() -> None:
    """A cut document holding a JSON string of JSON (`\\"` at every key) was searched from each
    escaped quote 256 characters on: 500 KB took over a second on the recorder's hot path."""
    text = '{"result": "' + '{\\"a\\": \\"' * 50_000
    started = time.perf_counter()
    assert Scrubber().scrub_attribute(A.OUTPUT, text) == text
    assert time.perf_counter() - started < 0.3
