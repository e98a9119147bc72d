"""Review 8, against the real local platform: NaN and the infinities in payloads are stored as
`null`, and neither the payloads nor their events are lost."""

from __future__ import annotations

import json
import math

from opentelemetry.sdk.trace import TracerProvider

import tracengent
from opentelemetry.exporter.tracengent import attributes as A
from tracengent.testing import RunningPlatform


def test_nan_payloads_are_stored_as_null(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    """A tracked tool call returning `float("nan")`, one with NaN and infinities nested in its
    input and output, and a third-party tool span whose result (set after it started) is JSON
    text with a `NaN` literal: every event is stored, each non-finite number as `null`, nothing
    dropped or left out."""
    client = tracengent.TracengentClient(tracengent_platform.options())
    tracer = app_provider.get_tracer("some.genai.instrumentation")
    with client.begin_trace("score the leads") as trace:
        trace.track_tool_call("bare", lambda: math.nan)
        trace.track_tool_call(
            "nested", lambda: {"score": math.inf, "n": 1}, input={"x": -math.inf, "q": "a"}
        )
        with tracer.start_as_current_span(
            "execute_tool lookup",
            attributes={A.GEN_AI_OPERATION_NAME: "execute_tool", A.GEN_AI_TOOL_NAME: "lookup"},
        ) as span:
            span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, json.dumps({"v": math.nan, "w": 2}))
    assert client.close(timeout=10)
    assert client.dropped_count == 0
    assert client.delivery_stats["payloads_omitted"] == 0
    (stored,) = tracengent_platform.store.traces()
    events = {str(e.body["name"]): e.body for e in stored.events}
    assert set(events) == {"bare", "nested", "lookup"}
    assert "output" not in events["bare"]  # JSON null: no payload, as `output=None` sends
    assert events["nested"]["input"] == {"x": None, "q": "a"}
    assert events["nested"]["output"] == {"score": None, "n": 1}
    assert events["lookup"]["output"] == {"v": None, "w": 2}
