"""Tracked generator and async-generator functions: one event spanning the whole iteration.

A decorated generator function's event starts when iteration starts and ends when the generator
finishes: returning (success, its return value the output), raising (failure, the exception
recorded and re-raised unchanged), or closed early by its consumer (success: stopping a stream is
not a failure). Its start attributes (the input payload) are built then too, not when the
generator function is called: a client attached in between may have tightened the provider's
scrubbing (payload capture off, more patterns), and the input is scrubbed as the span opens.
The event's span is current only while the generator's own code runs: spans the
generator starts are its children, spans its consumer starts between items are not. What the
generator makes current itself stays current for it across its `yield`s (a span it holds open
around a `yield` still parents what it starts after resuming), never for its consumer. Values sent
and exceptions thrown into the wrapper reach the generator as they would without it.

The decorated function itself is a `GeneratorFunction`: a plain callable (calling it runs our code
at once: argument errors raise at the call, `client.tool` takes the trace current then), which
`inspect` nonetheless takes for the (async) generator function it wraps, as frameworks (FastAPI
dependencies, pytest fixtures) branch on `inspect.isgeneratorfunction`/`isasyncgenfunction`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from tracengent._recording import (
    Attributes,
    ContextTokens,
    Recorder,
    enter_context,
    reentered,
)
from tracengent._state import CURRENT_TRACE

if TYPE_CHECKING:
    from tracengent._trace import AgentTrace

__all__ = ["GeneratorFunction", "track_async_generator", "track_generator"]


def _leave(tokens: ContextTokens) -> Context:
    """Restore the consumer's context; returns the generator's own as its code left it (what
    it made current, such as a span held open around a `yield`), to enter at its next step."""
    own = otel_context.get_current()
    otel_token, trace_token = tokens
    if trace_token is not None:
        CURRENT_TRACE.reset(trace_token)
    otel_context.detach(otel_token)
    return own


def track_generator(
    recorder: Recorder,
    name: str,
    attributes: Callable[[], Attributes],
    inner: Generator[object, object, object],
    trace: AgentTrace | None,
) -> Generator[object, object, object]:
    """Iterate `inner` (just made: made at the call, as argument errors are raised there)
    inside one event span (see the module docstring); the span's start attributes are
    `attributes()`, built as it opens (see `_decorators`)."""
    if not recorder.recording:
        return (yield from inner)
    active = recorder.open(name, attributes(), trace)
    if active is None:
        return (yield from inner)
    # Current only while the generator's code runs, not while its consumer holds it.
    recorder.detach(active)
    own = active.context
    try:
        sent: object = None
        thrown: BaseException | None = None
        while True:
            tokens = enter_context(own, trace)
            try:
                item = inner.throw(thrown) if thrown is not None else inner.send(sent)
            finally:
                own = _leave(tokens)
            sent, thrown = None, None
            try:
                sent = yield item
            except GeneratorExit:
                tokens = enter_context(own, trace)
                try:
                    inner.close()
                finally:
                    _leave(tokens)
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the generator, as without us
                thrown = exc
    except StopIteration as stop:
        return recorder.close_ok(reentered(active, trace), stop.value, trace)
    except GeneratorExit:
        recorder.close_ok(reentered(active, trace), None, trace)
        raise
    except BaseException as exc:
        recorder.close_failed(reentered(active, trace), exc)
        raise


def track_async_generator(
    recorder: Recorder,
    name: str,
    attributes: Callable[[], Attributes],
    inner: AsyncGenerator[object, object],
    trace: AgentTrace | None,
) -> AsyncGenerator[object, object]:
    """Iterate `inner` (just made, as for `track_generator`) inside one event span (see the
    module docstring); async generators return nothing, so the event has no output. The span's
    start attributes are `attributes()`, built as it opens. Nothing recorded (the SDK
    disabled): `inner` itself."""
    if not recorder.recording:
        return inner
    return _tracked_async_generator(recorder, name, attributes, inner, trace)


async def _tracked_async_generator(
    recorder: Recorder,
    name: str,
    attributes: Callable[[], Attributes],
    inner: AsyncGenerator[object, object],
    trace: AgentTrace | None,
) -> AsyncGenerator[object, object]:
    # No `yield from` for async generators: without a span (it could not start), the same loop
    # forwards what is sent, thrown and closed, in the context the iteration started in.
    active = recorder.open(name, attributes(), trace)
    if active is not None:
        recorder.detach(active)
        own = active.context
    else:
        own, trace = otel_context.get_current(), None
    try:
        sent: object = None
        thrown: BaseException | None = None
        while True:
            tokens = enter_context(own, trace)
            try:
                item = await (inner.athrow(thrown) if thrown is not None else inner.asend(sent))
            finally:
                own = _leave(tokens)
            sent, thrown = None, None
            try:
                sent = yield item
            except GeneratorExit:
                tokens = enter_context(own, trace)
                try:
                    await inner.aclose()
                finally:
                    _leave(tokens)
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the generator, as without us
                thrown = exc
    except StopAsyncIteration:
        recorder.close_ok(reentered(active, trace), None, trace)
    except GeneratorExit:
        recorder.close_ok(reentered(active, trace), None, trace)
        raise
    except BaseException as exc:
        recorder.close_failed(reentered(active, trace), exc)
        raise


def _function_like(kind: object) -> Any:
    """What `inspect` reads the code flags of to take `kind` for an (async) generator function:
    under bound methods and `functools.partial`, a function or a function-like object (ours, a
    Cython function), with `__code__`, `__defaults__` and `__kwdefaults__`."""
    inner = kind
    while isinstance(inner, (types.MethodType, functools.partial)):
        inner = inner.__func__ if isinstance(inner, types.MethodType) else inner.func
    return inner


class GeneratorFunction:
    """Our wrapper of a generator or async-generator function `fn`: calling it calls `call`.

    `inspect.isgeneratorfunction`/`isasyncgenfunction` (and `signature`, through `__wrapped__`)
    answer for it as for `fn`: like a Cython function or `unittest.mock.AsyncMock`, it carries
    the `__code__` (whose flags `inspect` reads), `__defaults__` and `__kwdefaults__` of the
    function that `kind` (what tells `fn`'s call kind) runs. It binds as a method, as a function
    does, and copies and pickles as itself (by its qualified name).
    """

    __code__: types.CodeType
    __defaults__: tuple[Any, ...] | None
    __kwdefaults__: dict[str, Any] | None
    __name__: str
    __qualname__: str
    __wrapped__: Callable[..., object]

    def __init__(
        self, fn: Callable[..., object], kind: object, name: str, call: Callable[..., object]
    ) -> None:
        functools.update_wrapper(self, fn)
        runs = _function_like(kind)  # an (async) generator function for `inspect`: has these
        self.__code__ = runs.__code__
        self.__defaults__ = runs.__defaults__
        self.__kwdefaults__ = runs.__kwdefaults__
        if not isinstance(getattr(self, "__name__", None), str):  # a callable object has none
            self.__name__ = name
            self.__qualname__ = name
        self._call = call

    def __call__(self, *args: object, **kwargs: object) -> object:
        """The tracked (async) generator of `fn(*args, **kwargs)`."""
        return self._call(*args, **kwargs)

    def __get__(self, instance: object, owner: type | None = None) -> object:
        """Bound to `instance`, as a function is (itself, looked up on the class)."""
        return self if instance is None else types.MethodType(self, instance)

    def __reduce__(self) -> str:
        """Copied and pickled as a function is: by reference (its module's attribute)."""
        return self.__qualname__

    def __repr__(self) -> str:
        return f"<tracked generator function {self.__qualname__}>"
