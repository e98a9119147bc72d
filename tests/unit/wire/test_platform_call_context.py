"""`platform_call()`: the context OTel's own suppression makes, plus the SDK's mark, and back."""

from __future__ import annotations

import pytest
from opentelemetry.context import get_current, get_value
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, suppress_instrumentation

from opentelemetry.exporter.tracengent._platform_calls import PLATFORM_CALL_KEY, platform_call


def test_inside_it_instrumentation_is_suppressed_as_otel_suppresses_it() -> None:
    with suppress_instrumentation():
        suppressed = dict(get_current())
    assert suppressed, "OTel's suppression sets at least one context entry"
    before = dict(get_current())
    with platform_call():
        inside = dict(get_current())
        assert not is_instrumentation_enabled()
        assert get_value(PLATFORM_CALL_KEY) is True
    # Every entry OTel's own suppression sets, with its value; ours on top; nothing else.
    assert inside == {**before, **suppressed, PLATFORM_CALL_KEY: True}
    assert dict(get_current()) == before
    assert is_instrumentation_enabled()
    assert get_value(PLATFORM_CALL_KEY) is None


def _nested_call_that_raises() -> None:
    with platform_call():
        with platform_call():
            assert get_value(PLATFORM_CALL_KEY) is True
        assert not is_instrumentation_enabled()
        raise RuntimeError("platform down")


def test_it_nests_and_restores_the_context_when_the_call_raises() -> None:
    before = dict(get_current())
    with pytest.raises(RuntimeError, match="platform down"):
        _nested_call_that_raises()
    assert dict(get_current()) == before
    assert is_instrumentation_enabled()


async def test_it_marks_awaited_calls_in_a_task() -> None:
    async def inner() -> bool:
        return get_value(PLATFORM_CALL_KEY) is True and not is_instrumentation_enabled()

    with platform_call():
        assert await inner()
    assert get_value(PLATFORM_CALL_KEY) is None
