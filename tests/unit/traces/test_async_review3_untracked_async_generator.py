"""A decorated async generator that is not recorded (the SDK disabled, or its span could not be
started) still behaves as the generator itself: values sent and exceptions thrown reach it, and
closing it closes the generator at once."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

import pytest
from opentelemetry.trace import NoOpTracer

from tests.unit.traces.conftest import Harness
from tracengent._decorators import client_decorator
from tracengent._recording import Recorder
from tracengent._scrubbing import Scrubber


def _echo(log: list[object]) -> Callable[[], AsyncGenerator[object, object]]:
    async def echo() -> AsyncGenerator[object, object]:
        try:
            received: object = None
            while True:
                try:
                    received = yield received
                except KeyError:
                    received = "recovered"
        finally:
            log.append("cleaned up")

    return echo


async def _exercise(recorder: Recorder) -> list[object]:
    log: list[object] = []
    echo = client_decorator(recorder, "tool_call", "echo", None)(_echo(log))
    items = echo()
    assert await items.asend(None) is None
    assert await items.asend("hello") == "hello"
    assert await items.athrow(KeyError("k")) == "recovered"
    await items.aclose()
    return log


async def test_with_the_sdk_disabled_an_async_generator_is_the_generator_itself() -> None:
    recorder = Recorder(NoOpTracer(), Scrubber(), "agent")
    assert await _exercise(recorder) == ["cleaned up"]


async def test_an_async_generator_whose_span_failed_to_start_is_forwarded_whole(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness.recorder, "open", lambda *args, **kwargs: None)
    assert await _exercise(harness.recorder) == ["cleaned up"]


async def test_a_recorded_async_generator_behaves_the_same(harness: Harness) -> None:
    assert await _exercise(harness.recorder) == ["cleaned up"]
    assert harness.span("echo").end_time is not None
