"""Decorated generator and async-generator functions: one event over the whole iteration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, get_tracer

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import Harness


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_a_generator_is_one_event_ending_when_its_iteration_does(harness: Harness) -> None:
    """The event's span covers the iteration: the generator's own spans are its children, the
    consumer's spans between items are not; the return value is the output."""
    tracer = get_tracer("app", tracer_provider=harness.provider)
    with harness.begin() as trace:

        @trace.tool("stream")
        def stream(count: int) -> Generator[int, None, str]:
            for index in range(count):
                with tracer.start_as_current_span(f"inside {index}"):
                    pass
                yield index
            return "done"

        items = []
        for item in stream(2):
            with tracer.start_as_current_span(f"consumer {item}"):
                items.append(item)
    assert items == [0, 1]
    event = harness.span("stream")
    assert event.attributes is not None
    assert event.attributes[A.EVENT_TYPE] == "tool_call"
    assert event.attributes[A.OUTPUT] == '"done"'
    assert event.status.status_code is not StatusCode.ERROR
    assert event.context is not None
    for index in (0, 1):
        assert _parent_id(harness.span(f"inside {index}")) == event.context.span_id
        assert _parent_id(harness.span(f"consumer {index}")) != event.context.span_id
    consumer = harness.span("consumer 1")
    assert event.end_time is not None
    assert consumer.end_time is not None
    assert event.end_time >= consumer.end_time


def test_an_exception_during_iteration_fails_the_event_and_propagates(harness: Harness) -> None:
    with harness.begin() as trace:

        @trace.tool("flaky")
        def flaky() -> Iterator[int]:
            yield 1
            raise ValueError("late failure")

        with pytest.raises(ValueError, match="late failure"):
            list(flaky())
    event = harness.span("flaky")
    assert event.status.status_code is StatusCode.ERROR
    assert (event.attributes or {})[A.EVENT_STATUS] == "failure"


def test_a_consumer_stopping_early_ends_the_event_without_failure(harness: Harness) -> None:
    """Closing a stream early is not a failure; the generator's `finally` still runs."""
    cleaned: list[bool] = []
    with harness.begin() as trace:

        @trace.tool("endless")
        def endless() -> Iterator[int]:
            try:
                index = 0
                while True:
                    yield index
                    index += 1
            finally:
                cleaned.append(True)

        for item in endless():
            if item == 2:
                break
    assert cleaned == [True]
    event = harness.span("endless")
    assert event.status.status_code is not StatusCode.ERROR
    assert harness.context.open_span_count == 0


def test_sent_values_and_thrown_exceptions_reach_the_generator(harness: Harness) -> None:
    with harness.begin() as trace:

        @trace.tool("echo")
        def echo() -> Generator[object, object, None]:
            received: object = None
            while True:
                try:
                    received = yield received
                except KeyError:
                    received = "caught"

        generator = echo()
        assert next(generator) is None
        assert generator.send("hello") == "hello"
        assert generator.throw(KeyError("x")) == "caught"
        generator.close()
    assert harness.span("echo").status.status_code is not StatusCode.ERROR


def test_an_async_generator_is_one_event_too(harness: Harness) -> None:
    async def run() -> list[int]:
        with harness.begin() as trace:

            @trace.tool("astream")
            async def astream() -> AsyncIterator[int]:
                yield 1
                yield 2

            @trace.tool("abroken")
            async def abroken() -> AsyncIterator[int]:
                yield 1
                raise RuntimeError("broken stream")

            items = [item async for item in astream()]
            with pytest.raises(RuntimeError, match="broken stream"):
                async for _ in abroken():
                    pass
            return items

    assert asyncio.run(run()) == [1, 2]
    assert harness.span("astream").status.status_code is not StatusCode.ERROR
    assert harness.span("abroken").status.status_code is StatusCode.ERROR
    assert harness.context.open_span_count == 0
