"""An LLM call's token count given as a number type of its own (a float subclass such as
NumPy's `float64`, an `int` subclass, an integral type registered with `numbers.Integral` such
as NumPy's `int64`) is recorded as its integer value, not left out (text and `bool` still are)."""

from __future__ import annotations

import numbers

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import LlmCallResult
from tests.unit.traces.conftest import Harness


class _Float64(float):
    """Like NumPy's `float64`: a `float` subclass."""


class _Count(int):
    """An `int` subclass (an `IntEnum` member, a library's count type)."""


class _Int64:
    """Like NumPy's `int64`: no `int`, but an integral number (`numbers.Integral`)."""

    def __init__(self, value: int) -> None:
        self._value = value

    def __int__(self) -> int:
        return self._value

    def __index__(self) -> int:
        return self._value

    def __float__(self) -> float:
        return float(self._value)


numbers.Integral.register(_Int64)


@pytest.mark.parametrize("tokens", [_Float64(350.0), _Count(350), _Int64(350)])
def test_a_token_count_of_a_number_type_of_its_own_is_recorded(
    harness: Harness, tokens: object
) -> None:
    """The usage is the count's integer value; nothing counted as omitted."""
    with harness.begin() as trace:
        value = trace.track_llm_call(
            "answer",
            lambda: LlmCallResult("hi", tokens=tokens, model="m-1"),  # type: ignore[arg-type]
        )
    assert value == "hi"
    recorded = harness.attr("answer", A.USAGE_TOKENS)
    assert recorded == 350
    assert type(recorded) is int
    assert harness.recorder.payload_guard.failures == 0
