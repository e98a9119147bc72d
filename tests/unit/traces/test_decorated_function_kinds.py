"""A decorated function is still the kind of function it was for `inspect` (frameworks such as
FastAPI, pytest and LangChain branch on it): a generator function stays a generator function, an
async generator function an async generator function, a coroutine function a coroutine function,
through every decorator (`client.tool/action`, `trace.tool/action`, bare or named), on methods,
static and class methods, stacked, and under `functools.partial`; and it still behaves as one."""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator

import pytest
from opentelemetry.trace import StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import ClientHarness, Harness
from tracengent._decorators import client_decorator


def _decorators(client_harness: ClientHarness) -> list[Callable[[Callable[..., object]], object]]:
    """Every public decorator, bare and named, of a client and of one of its traces."""
    client = client_harness.client
    trace = client.begin_trace("kinds")
    return [
        client.tool,
        client.tool("named"),
        client.action,
        client.action("named", cost=None),
        trace.tool,
        trace.tool("named"),
        trace.action,
        trace.action("named"),
    ]


def _generator() -> Iterator[int]:
    yield 1


async def _async_generator() -> AsyncIterator[int]:
    yield 1


async def _coroutine() -> int:
    return 1


def _plain() -> int:
    return 1


def test_every_decorator_keeps_the_kind_of_function(client_harness: ClientHarness) -> None:
    """`isgeneratorfunction`, `isasyncgenfunction` and `iscoroutinefunction` answer for the
    decorated function as for the function itself."""
    for decorator in _decorators(client_harness):
        generator, async_generator = decorator(_generator), decorator(_async_generator)
        coroutine, plain = decorator(_coroutine), decorator(_plain)
        assert inspect.isgeneratorfunction(generator), decorator
        assert not inspect.isasyncgenfunction(generator)
        assert not inspect.iscoroutinefunction(generator)
        assert inspect.isasyncgenfunction(async_generator), decorator
        assert not inspect.isgeneratorfunction(async_generator)
        assert not inspect.iscoroutinefunction(async_generator)
        assert inspect.iscoroutinefunction(coroutine), decorator
        assert not inspect.isgeneratorfunction(coroutine)
        assert not inspect.isgeneratorfunction(plain)
        assert not inspect.isasyncgenfunction(plain)
        assert not inspect.iscoroutinefunction(plain)


def test_the_kind_holds_on_methods_partials_and_stacked_decorators(harness: Harness) -> None:
    """Bound and unbound methods, static and class methods, a `functools.partial` of the
    decorated function and two decorators stacked: still a generator function each, with the
    signature of the function itself."""
    track = client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, None, None)
    other = client_decorator(harness.recorder, A.EventTypes.ACTION, None, None)

    class Source:
        @track
        def lines(self, count: int) -> Iterator[int]:
            yield from range(count)

        @track
        async def chunks(self, count: int) -> AsyncIterator[int]:
            for index in range(count):
                yield index

        @track
        @staticmethod
        def static_lines(count: int) -> Iterator[int]:
            yield from range(count)

        @track
        @classmethod
        def class_lines(cls, count: int) -> Iterator[int]:
            yield from range(count)

    @other
    @track
    def stacked(count: int) -> Iterator[int]:
        yield from range(count)

    source = Source()
    for generator_function in (
        Source.lines,
        source.lines,
        Source.static_lines,
        source.static_lines,
        Source.class_lines,
        source.class_lines,
        stacked,
        functools.partial(stacked, 2),
    ):
        assert inspect.isgeneratorfunction(generator_function), generator_function
    assert inspect.isasyncgenfunction(Source.chunks)
    assert inspect.isasyncgenfunction(source.chunks)
    assert str(inspect.signature(source.lines)) == "(count: 'int') -> 'Iterator[int]'"
    assert str(inspect.signature(Source.class_lines)) == "(count: 'int') -> 'Iterator[int]'"
    assert list(source.lines(2)) == [0, 1]
    assert list(source.static_lines(2)) == [0, 1]
    assert list(Source.class_lines(2)) == [0, 1]
    assert list(stacked(2)) == [0, 1]
    # The decorated function copies as itself, as a function does.
    assert copy.copy(stacked) is stacked
    assert copy.deepcopy(stacked) is stacked


def test_a_decorated_generator_still_behaves_as_one(harness: Harness) -> None:
    """Values, `send()`, `throw()`, the return value and `close()` reach the caller and the
    generator as without the decorator; the iteration is one event, recorded once."""
    cleaned: list[str] = []
    with harness.begin() as trace:

        @trace.tool("echo")
        def echo(first: int) -> Generator[object, object, str]:
            try:
                received: object = first
                while received != "stop":
                    try:
                        received = yield received
                    except KeyError:
                        received = "recovered"
                return "finished"
            finally:
                cleaned.append("echo")

        @trace.tool("endless")
        def endless() -> Generator[int, None, None]:
            try:
                while True:
                    yield 0
            finally:
                cleaned.append("endless")

        assert inspect.isgeneratorfunction(echo)
        items = echo(1)
        made: object = items
        assert inspect.isgenerator(made)
        assert next(items) == 1
        assert items.send("hello") == "hello"
        assert items.throw(KeyError("k")) == "recovered"
        with pytest.raises(StopIteration) as stopped:
            items.send("stop")
        assert stopped.value.value == "finished"

        stream = endless()
        assert next(stream) == 0
        stream.close()
    assert cleaned == ["echo", "endless"]
    assert harness.attr("echo", A.OUTPUT) == '"finished"'
    assert harness.span("echo").status.status_code is not StatusCode.ERROR
    assert harness.span("endless").status.status_code is not StatusCode.ERROR
    assert [span.name for span in harness.spans()].count("echo") == 1


def test_a_decorated_async_generator_still_behaves_as_one(harness: Harness) -> None:
    """The async twin: `asend()`, `athrow()` and `aclose()` reach the generator; one event."""
    cleaned: list[str] = []

    async def run() -> None:
        with harness.begin() as trace:

            @trace.tool("echo")
            async def echo() -> AsyncGenerator[object, object]:
                try:
                    received: object = None
                    while True:
                        try:
                            received = yield received
                        except KeyError:
                            received = "recovered"
                finally:
                    cleaned.append("echo")

            assert inspect.isasyncgenfunction(echo)
            items = echo()
            made: object = items
            assert inspect.isasyncgen(made)
            assert await items.asend(None) is None
            assert await items.asend("hello") == "hello"
            assert await items.athrow(KeyError("k")) == "recovered"
            await items.aclose()

    asyncio.run(run())
    assert cleaned == ["echo"]
    assert harness.span("echo").end_time is not None
    assert [span.name for span in harness.spans()].count("echo") == 1


def test_an_exception_in_a_decorated_generator_is_recorded_once(harness: Harness) -> None:
    """A failure raised by the generator propagates unchanged and fails its one event."""
    with harness.begin() as trace:

        @trace.action("failing")
        def failing() -> Iterator[int]:
            yield 1
            raise ValueError("broken stream")

        with pytest.raises(ValueError, match="broken stream"):
            list(failing())
    assert harness.span("failing").status.status_code is StatusCode.ERROR
    assert [span.name for span in harness.spans()].count("failing") == 1
