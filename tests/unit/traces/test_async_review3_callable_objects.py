"""Decorating a callable object whose `__call__` is a coroutine or (async) generator function
records its awaited outcome or whole iteration, as for the function itself."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Generator

import pytest
from opentelemetry.trace import StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import Harness


class Fetch:
    """A tool object, as frameworks build them: its call is a coroutine."""

    async def __call__(self, city: str) -> dict[str, str]:
        await asyncio.sleep(0)
        if city == "Atlantis":
            raise LookupError(city)
        return {"city": city}


class Stream:
    async def __call__(self, count: int) -> AsyncIterator[int]:
        for index in range(count):
            await asyncio.sleep(0)
            yield index


class Lines:
    def __call__(self, count: int) -> Generator[str, None, str]:
        for index in range(count):
            yield f"line {index}"
        return "done"


async def test_an_async_callable_objects_failure_is_recorded(harness: Harness) -> None:
    """It used to be recorded as a success the moment the coroutine was made (its output a
    coroutine object, left out), and its exception never."""
    async with harness.begin() as trace:
        fetch = trace.tool("fetch")(Fetch())
        with pytest.raises(LookupError):
            await fetch("Atlantis")
    event = harness.span("fetch")
    assert event.status.status_code is StatusCode.ERROR
    assert (event.attributes or {})[A.EVENT_STATUS] == "failure"
    assert harness.recorder.misuse_guard.failures == 0


async def test_an_async_callable_objects_result_is_the_output(harness: Harness) -> None:
    async with harness.begin() as trace:
        fetch = trace.tool("fetch")(functools.partial(Fetch(), "Lisbon"))
        assert await fetch() == {"city": "Lisbon"}
        stream = trace.tool("stream")(Stream())
        assert [item async for item in stream(2)] == [0, 1]
        lines = trace.tool("lines")(Lines())
        assert list(lines(2)) == ["line 0", "line 1"]
    assert harness.attr("fetch", A.OUTPUT) == '{"city":"Lisbon"}'
    # One event over the whole iteration (its input the call's; a generator's output what it
    # returned), not one ending as the generator object was made.
    assert harness.attr("stream", A.INPUT) == '{"count":2}'
    assert harness.attr("lines", A.OUTPUT) == '"done"'
    assert harness.recorder.misuse_guard.failures == 0
