"""Review 7: secrets that reached an exporter in payload shapes the scrubbing rules missed."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tracengent import _scrubbing
from tracengent._scrubbing import Scrubber, ScrubbingProcessor

# An LLM's tool call as OpenAI's API (and instrumentations that copy it) writes it: the
# arguments are JSON text inside the message's JSON.
_TOOL_CALL_MESSAGE = [
    {
        "role": "assistant",
        "tool_calls": [
            {"function": {"name": "login", "arguments": '{"user": "ann", "password": "hunter2"}'}}
        ],
    }
]


def test_json_text_inside_a_payload_string_has_its_sensitive_keys_masked() -> None:
    """A string value holding a JSON object (a tool call's arguments, a raw request body) had
    its `password` sent as written: the keys inside it are masked as any others are, and the
    text stays JSON text (re-encoded compactly)."""
    text = Scrubber().payload_text(
        {"body": '{"password": "hunter2", "n": 1}', "list": '[{"api_key": "sk-1"}]'}
    )
    assert text is not None
    assert "hunter2" not in text
    assert "sk-1" not in text
    document = json.loads(text)
    assert json.loads(document["body"]) == {"password": MASK_TOKEN, "n": 1}
    assert json.loads(document["list"]) == [{"api_key": MASK_TOKEN}]


def test_a_payload_that_is_json_text_itself_has_its_sensitive_keys_masked() -> None:
    """`input=request_body_text` (a JSON string, not a dict) is scrubbed like the dict."""
    text = Scrubber().payload_text('{"password": "hunter2"}')
    assert text is not None
    assert "hunter2" not in text
    assert json.loads(json.loads(text)) == {"password": MASK_TOKEN}


def test_nested_json_text_is_kept_as_written_when_nothing_in_it_is_masked() -> None:
    """Only text that held something masked is re-encoded; other strings stay byte for byte,
    brackets or not."""
    value = {"a": '{"x": 1,  "y": [2]}', "b": "[INFO] started", "c": "{not json}"}
    text = Scrubber().payload_text(value)
    assert text is not None
    assert json.loads(text) == value


def test_nested_text_that_is_not_json_but_names_a_sensitive_key_is_masked() -> None:
    """A dict's `repr` or a cut document in a string value is masked whole, as such text is
    when it is the whole payload."""
    text = Scrubber().payload_text({"kwargs": "{'api_key': 'sk-live-1', 'q': 'x'}"})
    assert text is not None
    assert json.loads(text) == {"kwargs": MASK_TOKEN}


def test_nested_json_text_with_nan_or_too_deep_does_not_drop_the_payload() -> None:
    """A string that only looks like JSON the walk refuses (NaN, too deep) is not the payload's
    problem: it stays (nothing sensitive named) or is masked (a sensitive key named)."""
    deep = "[" * 100 + "]" * 100
    deep_secret = "[" * 100 + '{"password": "hunter2"}' + "]" * 100
    text = Scrubber().payload_text({"nan": "[NaN]", "deep": deep, "secret": deep_secret})
    assert text is not None
    assert json.loads(text) == {"nan": "[NaN]", "deep": deep, "secret": MASK_TOKEN}


def test_json_text_inside_a_third_party_payload_attribute_is_masked() -> None:
    """GenAI input messages a third-party instrumentation starts its span with, holding a tool
    call's arguments as JSON text: the application's exporter gets the password masked, and
    so does the exporter's payload filter for such text set later."""
    provider = TracerProvider()
    scrubber = Scrubber()
    provider.add_span_processor(ScrubbingProcessor(scrubber))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    messages = json.dumps(_TOOL_CALL_MESSAGE)
    provider.get_tracer("other").start_span(
        "chat", attributes={A.GEN_AI_INPUT_MESSAGES: messages}
    ).end()
    (span,) = memory.get_finished_spans()
    recorded = (span.attributes or {})[A.GEN_AI_INPUT_MESSAGES]
    assert isinstance(recorded, str)
    assert "hunter2" not in recorded
    arguments = json.loads(recorded)[0]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"user": "ann", "password": MASK_TOKEN}
    exported = scrubber.exported_payload(A.GEN_AI_TOOL_CALL_RESULT, json.dumps({"r": messages}))
    assert exported is not None
    assert "hunter2" not in exported
    # Scrubbing the scrubbed text again changes nothing.
    assert scrubber.exported_payload(A.GEN_AI_INPUT_MESSAGES, recorded) == recorded


@pytest.mark.parametrize("depth", [1, 3])
def test_json_text_nested_in_json_text_is_masked(depth: int) -> None:
    """JSON text inside JSON text inside ... (each level a string) is masked at every level."""
    value: object = {"password": "hunter2"}
    for _ in range(depth):
        value = {"inner": json.dumps(value)}
    text = Scrubber().payload_text(value)
    assert text is not None
    assert "hunter2" not in text


def test_a_payload_attribute_holding_a_sequence_of_texts_is_scrubbed_item_by_item() -> None:
    """OTel attributes may be sequences of strings: a payload attribute set as one (each item a
    message's JSON) reached the application's exporters unscrubbed with capture on; each item
    is scrubbed as payload text, an item that cannot be made safe masked."""
    provider = TracerProvider()
    provider.add_span_processor(ScrubbingProcessor(Scrubber(patterns=["$.card"])))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    messages = [
        '{"role": "user", "password": "hunter2"}',
        '{"card": "4111"}',
        "{'api_key': 'sk-live-1'}",
        "plain text",
    ]
    provider.get_tracer("other").start_span(
        "chat", attributes={A.GEN_AI_INPUT_MESSAGES: messages, A.INPUT: [1, 2]}
    ).end()
    (span,) = memory.get_finished_spans()
    attributes = span.attributes or {}
    recorded = attributes[A.GEN_AI_INPUT_MESSAGES]
    assert isinstance(recorded, tuple)
    assert [json.loads(item) for item in recorded[:2]] == [
        {"role": "user", "password": MASK_TOKEN},
        {"card": MASK_TOKEN},
    ]
    assert list(recorded[2:]) == [MASK_TOKEN, "plain text"]
    assert attributes[A.INPUT] == (1, 2)


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No rule warned about yet in this process (the warning is given once a process)."""
    monkeypatch.setattr(_scrubbing, "_WARNED_RULES", set())


@pytest.mark.usefixtures("fresh_warnings")
@pytest.mark.parametrize(
    ("rule", "key"),
    [("$..card", "card"), ("$['cvv']", "cvv")],
)
def test_a_json_path_rule_outside_the_grammar_masks_its_name_and_warns(
    rule: str, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A `scrub_patterns` JSON path the grammar (`$.a.b[0].c`, wildcard steps included) cannot
    apply (JSONPath's recursive descent, a bracketed name) was ignored without a word, so the value
    it names was sent: its last name is masked at any depth instead, and a warning names the
    rule."""
    with caplog.at_level("WARNING", logger="tracengent.scrubbing"):
        scrubber = Scrubber(patterns=[rule])
    assert any(rule in record.getMessage() for record in caplog.records)
    text = scrubber.payload_text({"orders": [{key: "secret-1", "n": 1}], key: "secret-2"})
    assert text is not None
    assert json.loads(text) == {"orders": [{key: MASK_TOKEN, "n": 1}], key: MASK_TOKEN}


def test_valid_json_path_rules_stay_paths_and_warn_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`$.order.card` masks that path only, as before, without a warning."""
    with caplog.at_level("WARNING", logger="tracengent.scrubbing"):
        scrubber = Scrubber(patterns=["$.order.card", "$.cards[0]"])
        scrubber.tighten(patterns=["$.other"])
    assert not caplog.records
    text = scrubber.payload_text({"order": {"card": "1"}, "card": "2", "cards": ["3", "4"]})
    assert text is not None
    assert json.loads(text) == {
        "order": {"card": MASK_TOKEN},
        "card": "2",
        "cards": [MASK_TOKEN, "4"],
    }


@pytest.mark.usefixtures("fresh_warnings")
def test_a_json_path_rule_outside_the_grammar_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every client (and each tightening of a shared scrubber) reads the rules again: the
    warning is given once, the masking every time."""
    rule = "$..once"
    with caplog.at_level("WARNING", logger="tracengent.scrubbing"):
        first = Scrubber(patterns=[rule])
        second = Scrubber(patterns=[rule])
        second.tighten(patterns=["*other*"])
    assert sum(rule in record.getMessage() for record in caplog.records) == 1
    for scrubber in (first, second):
        assert scrubber.payload_text({"once": 1}) == f'{{"once":"{MASK_TOKEN}"}}'


_LONG_TOKEN = "eyJ" + "A" * 6000 + "TAIL-OF-THE-TOKEN"
"""A credential longer than 4 KB (an Azure AD token with its groups claim, a PEM chain)."""


@pytest.mark.parametrize(
    "text",
    [
        f'{{"access_token": "{_LONG_TOKEN}", "x": 1}}',
        f"{{'password': '{_LONG_TOKEN}'}}",
        f"GET /?access_token={_LONG_TOKEN}&x=1 failed",
        f"Authorization: Bearer {_LONG_TOKEN}\nnext line",
    ],
)
def test_free_text_masks_a_long_value_whole(text: str) -> None:
    """The value after a sensitive name in an exception message was masked for its first 4097
    characters only, and the rest of a longer credential was recorded after the mask."""
    masked = Scrubber().free_text(text)
    assert "TAIL-OF-THE-TOKEN" not in masked
    assert "A" * 100 not in masked
    assert MASK_TOKEN in masked


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("request failed\nCookie: theme=dark; sessionid=SECRET-1\nnext line", "SECRET-1"),
        ("Set-Cookie: a=1; Path=/, session=SECRET-2; HttpOnly\r\nnext line", "SECRET-2"),
        (
            'Authorization: Digest username="ann", nonce="n", response="SECRET-3"\nnext line',
            "SECRET-3",
        ),
    ],
)
def test_free_text_masks_a_cookie_or_authorization_header_to_its_line_end(
    text: str, secret: str
) -> None:
    """A header written `Cookie: a=1; session=...` holds several cookies (`;`) and a Digest
    `Authorization` several parameters (`,`): only what came before the first `;` or `,` was
    masked, and the session cookie or digest response after it was recorded."""
    masked = Scrubber().free_text(text)
    assert secret not in masked
    assert MASK_TOKEN in masked
    assert masked.endswith("next line")


def test_a_url_in_a_payload_value_loses_its_credentials() -> None:
    """A tool's input naming the URL it fetches (`{"url": "...?key=AIza..."}`) sent the API key
    as written, though the same URL recorded as `url.full` has it `REDACTED`: URLs in payload
    strings lose userinfo and credential query values, by the same rule."""
    scrubber = Scrubber(patterns=["*iban*"])
    text = scrubber.payload_text(
        {
            "url": "https://maps.example.com/geocode?address=Oslo&key=AIza-SECRET",
            "note": "retry https://ann:pw-SECRET@db.example.com/x?iban=DE-SECRET later",
            "plain": "https://example.com/a?b=1",
        }
    )
    assert text is not None
    assert "SECRET" not in text
    assert json.loads(text) == {
        "url": "https://maps.example.com/geocode?address=Oslo&key=REDACTED",
        "note": "retry https://db.example.com/x?iban=REDACTED later",
        "plain": "https://example.com/a?b=1",
    }


def test_a_url_in_third_party_payload_text_loses_its_credentials() -> None:
    """The same for payload text a span starts with or that is exported later, JSON or not."""
    scrubber = Scrubber()
    arguments = json.dumps({"url": "https://api.example.com/v1?api_key=sk-SECRET"})
    started = scrubber.scrub_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, arguments)
    assert isinstance(started, str)
    assert "SECRET" not in started
    assert json.loads(started) == {"url": "https://api.example.com/v1?api_key=REDACTED"}
    result = "fetched https://api.example.com/v1?access_token=SECRET and got 3 rows"
    exported = scrubber.exported_payload(A.GEN_AI_TOOL_CALL_RESULT, result)
    assert exported == "fetched https://api.example.com/v1?access_token=REDACTED and got 3 rows"
    # Scrubbing again changes nothing.
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_ARGUMENTS, started) == started
