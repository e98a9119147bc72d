"""The platform client's JSON runs through orjson, and must give what the standard library gives.

Request bodies: the same document as `dumps_compact` (NaN and infinities refused, integers beyond
64 bits kept exactly). Answers: the same value as `json.loads`, or the same refusal.
"""

from __future__ import annotations

import json
import math

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opentelemetry.exporter.tracengent._http_policy import encode_json_body, parse_json_object
from opentelemetry.exporter.tracengent.errors import MalformedResponseError
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue, dumps_compact

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
    | st.sampled_from(["null", "NaN", "\u2028", "\x00", "é", "😀"])
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _has_non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_non_finite(item) for item in value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    return False


@settings(max_examples=400, deadline=None)
@given(_DOCUMENTS)
def test_a_request_body_is_the_standard_encoders_document(value: JsonValue) -> None:
    if _has_non_finite(value):
        with pytest.raises(ValueError, match="JSON compliant"):
            dumps_compact(value)
        with pytest.raises(ValueError, match="JSON compliant"):
            encode_json_body(value, 1 << 30)
        return
    body = encode_json_body(value, 1 << 30)
    assert not body.gzipped
    assert json.loads(body.content) == json.loads(dumps_compact(value))


def _answer(content: bytes) -> httpx.Response:
    return httpx.Response(200, content=content)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _DOCUMENTS, max_size=4))
def test_an_answer_decodes_to_the_standard_decoders_value(value: dict[str, JsonValue]) -> None:
    # The standard encoder writes NaN and infinities as literals, which only it reads back.
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(MalformedResponseError):
            parse_json_object(_answer(text))
        return
    decoded = parse_json_object(_answer(text))
    assert json.dumps(decoded, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"n": NaN}', "nan"),
        (b'{"big": 123456789012345678901234567890}', 123456789012345678901234567890),
        ('{"utf16": 1}'.encode("utf-16"), 1),
    ],
)
def test_answers_orjson_refuses_are_read_by_the_standard_decoder(
    content: bytes, expected: object
) -> None:
    decoded = parse_json_object(_answer(content))
    value = next(iter(decoded.values()))
    if expected == "nan":
        assert isinstance(value, float)
        assert math.isnan(value)
    else:
        assert value == expected


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"{", b'"text"', b"\xff\xfe{"])
def test_what_is_no_json_object_is_malformed(content: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        parse_json_object(_answer(content))
