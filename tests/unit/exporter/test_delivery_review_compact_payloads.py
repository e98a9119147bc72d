"""Payload text written with spaces or indentation still makes a compact request body.

The wire contract asks for compact JSON bodies. A payload attribute written by `json.dumps`
(`", "` and `": "`) or indented goes into the event as written, only the whitespace between its
tokens removed: numbers keep their spelling, strings their spaces and escapes.
"""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._payloads import compact_json_text
from opentelemetry.exporter.tracengent._translate import SpanTranslator, TranslationSettings
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import SpanMaker

SETTINGS = TranslationSettings(agent_id="billing-agent", environment="staging", default_tags=())


def is_compact(body: bytes) -> bool:
    """True when `body` is JSON without whitespace between its tokens (a character scan, string
    escapes followed, independent of the code under test)."""
    json.loads(body)
    in_string = escaped = False
    for char in body.decode():
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in " \t\r\n":
            return False
    return True


def translated_body(spans: list[ReadableSpan]) -> bytes:
    """The JSON array of the one request `spans` translate to."""
    batch = SpanTranslator(SETTINGS).translate([(span, A.attributes_of(span)) for span in spans])
    assert batch.unserializable == 0
    (request,) = batch.requests
    return request.json_array()


def test_payloads_written_by_json_dumps_or_indented_are_sent_compact(make_span: SpanMaker) -> None:
    """`json.dumps` defaults, `indent=2` and surrounding blanks: the body is compact JSON."""
    span = make_span(
        "refund",
        {
            A.EVENT_TYPE: "action",
            A.INPUT: json.dumps({"order": 42, "items": [1, 2], "note": "red shoes"}),
            A.OUTPUT: json.dumps({"ok": True, "lines": ["a", "b"]}, indent=2),
            A.ATTRIBUTES: ' \t{ "k" : "v" }\r\n',
        },
    )
    body = translated_body([span])
    assert is_compact(body)
    assert b'"input":{"order":42,"items":[1,2],"note":"red shoes"}' in body
    assert b'"output":{"ok":true,"lines":["a","b"]}' in body
    assert b'"attributes":{"k":"v"}' in body


def test_compaction_keeps_every_token_as_written(make_span: SpanMaker) -> None:
    """A huge integer, `1E-7`, escapes and spaces inside strings reach the body unchanged."""
    text = '{ "n": 123456789012345678901234567890, "f": 1E-7, "s": "x  \\" y\\n", "e": "\\u00e9" }'
    span = make_span("a", {A.EVENT_TYPE: "action", A.INPUT: text})
    body = translated_body([span])
    assert (
        b'"input":{"n":123456789012345678901234567890,"f":1E-7,"s":"x  \\" y\\n","e":"\\u00e9"}'
        in body
    )


def test_compact_text_is_returned_as_it_is() -> None:
    """Text already compact, spaces inside its strings included, is handed back unchanged."""
    for text in ('{"a":[1,2],"b":"x y"}', '"a b"', "1E-7", '{"k":"\\" \\\\"}'):
        assert compact_json_text(text) == text
    plain = '{"a":1}'
    assert compact_json_text(plain) is plain


@pytest.mark.parametrize(
    ("text", "compacted"),
    [
        ('{"a": "x\\\\", "b" : 1}', '{"a":"x\\\\","b":1}'),
        ('[ "say \\"hi, there\\" " , 1 ]', '["say \\"hi, there\\" ",1]'),
        (' [ "\\\\\\"" , "a : b" ] ', '["\\\\\\"","a : b"]'),
        ('{\n  "k": [\n    1,\n    2\n  ]\n}', '{"k":[1,2]}'),
    ],
)
def test_blanks_inside_strings_survive_escaped_quotes_and_backslashes(
    text: str, compacted: str
) -> None:
    """A string ending in an escaped backslash, or holding escaped quotes, keeps its blanks."""
    assert compact_json_text(text) == compacted
    assert json.loads(compacted) == json.loads(text)


def test_the_request_body_sent_is_compact() -> None:
    """What reaches the platform over HTTP is compact, gzipped or not."""
    bodies: list[bytes] = []

    def platform(request: httpx.Request) -> httpx.Response:
        body = request.content
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        bodies.append(body)
        return httpx.Response(202, json={"accepted": 1})

    maker = SpanMaker()
    spaced = json.dumps({"query": "red shoes", "limit": 10}, indent=4)
    spans = [
        maker(f"search-{i}", {A.EVENT_TYPE: "action", A.INPUT: spaced, A.OUTPUT: "[1, 2]"})
        for i in range(3)
    ]
    for threshold in (10**9, 1):
        options = TracengentOptions(
            agent_id="billing-agent",
            ingest_key="agk_test",
            base_url="http://platform.test",
            gzip_threshold_bytes=threshold,
        )
        exporter = TracengentSpanExporter(options, transport=httpx.MockTransport(platform))
        try:
            exporter.export(spans)
        finally:
            exporter.shutdown()
    maker.provider.shutdown()
    assert len(bodies) == 2
    assert all(is_compact(body) for body in bodies)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_documents = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=json_documents, indent=st.sampled_from([None, 0, 2, "\t"]))
def test_any_payload_the_standard_library_writes_is_sent_compact(
    document: JsonValue, indent: int | str | None
) -> None:
    """Whatever `json.dumps` wrote, spaced or indented: a compact body holding the same value."""
    maker = SpanMaker()
    text = json.dumps(document, indent=indent)
    span = maker("a", {A.EVENT_TYPE: "action", A.INPUT: text, A.OUTPUT: '"not the input"'})
    body = translated_body([span])
    maker.provider.shutdown()
    assert is_compact(body)
    (event,) = json.loads(body)
    if document is not None:
        assert json.dumps(event["input"]) == json.dumps(document)
