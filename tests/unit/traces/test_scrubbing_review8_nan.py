"""Review 8: NaN and the infinities in a payload are recorded as JSON `null` (as orjson writes
them), on every path a payload is serialized, and neither the payload nor its event is lost."""

from __future__ import annotations

import json
import math

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import make_harness
from tracengent._scrubbing import Scrubber

_NAN = math.nan
_INF = math.inf


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (_NAN, "null"),
        (_INF, "null"),
        (-_INF, "null"),
        (
            {"x": _NAN, "y": [1.5, _INF, -_INF], "z": "ok"},
            '{"x":null,"y":[1.5,null,null],"z":"ok"}',
        ),
        ({"password": "hunter2", "score": _NAN}, '{"password":"***REDACTED***","score":null}'),
        ((1, _NAN), "[1,null]"),
        ({"big": 2**70, "x": _NAN}, '{"big":1180591620717411303424,"x":null}'),
    ],
)
def test_a_non_finite_number_in_a_payload_is_written_null(value: object, expected: str) -> None:
    """`payload_text`: NaN and +/-Infinity, bare or nested, become `null`; the rest of the
    payload is kept and scrubbed as ever (with an integer only `json` can write beside it too)."""
    assert Scrubber().payload_text(value) == expected
    assert Scrubber(patterns=["$.nothing"]).payload_text(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NaN", "null"),
        ('{"v": Infinity, "w": [-Infinity, 2]}', '{"v":null,"w":[null,2]}'),
        ('{"api_key": "k", "v": NaN}', '{"api_key":"***REDACTED***","v":null}'),
    ],
)
def test_payload_text_holding_nan_is_rescrubbed_with_null(text: str, expected: str) -> None:
    """A payload attribute another instrumentation set as JSON text with `NaN`/`Infinity`
    literals (Python's `json.dumps` writes them): re-scrubbed as the span starts and as the
    exporter sends it, with `null` in their place rather than dropped."""
    scrubber = Scrubber()
    assert scrubber.scrub_attribute(A.OUTPUT, text) == expected
    assert scrubber.exported_payload(A.GEN_AI_TOOL_CALL_RESULT, text, None) == expected


def test_a_string_value_holding_json_text_with_nan_is_kept_as_written() -> None:
    """A string that holds JSON text with `NaN` in it is a string, which JSON carries: nothing
    in it is masked, so it stays byte for byte."""
    assert json.loads(Scrubber().payload_text({"raw": "[NaN, 1]"}) or "") == {"raw": "[NaN, 1]"}


def test_a_tracked_tool_calls_nan_result_and_input_are_recorded_as_null() -> None:
    """`track_tool_call("x", lambda: float("nan"))`, and NaN nested in an input or a step's
    attributes: each event is recorded with its payloads, NaN written `null`, and nothing is
    counted as a payload left out."""
    harness = make_harness()
    with harness.begin("r") as trace:
        assert math.isnan(trace.track_tool_call("bare", lambda: _NAN))
        trace.track_tool_call(
            "nested", lambda: {"temp": _INF, "ok": True}, input={"q": "x", "limit": _NAN}
        )
        trace.step("think", {"confidence": -_INF})
        trace.record(AgentEvent(name="user", type="decision", output=[_NAN, 2]))
    assert harness.attr("bare", A.OUTPUT) == "null"
    assert harness.attr("nested", A.INPUT) == '{"q":"x","limit":null}'
    assert harness.attr("nested", A.OUTPUT) == '{"temp":null,"ok":true}'
    assert harness.attr("think", A.ATTRIBUTES) == '{"confidence":null}'
    assert harness.attr("user", A.OUTPUT) == "[null,2]"
    assert harness.recorder.payload_guard.failures == 0
