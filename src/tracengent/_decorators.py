"""Decorators that record each call of a function as an event: sync and async functions alike.

`AgentTrace.tool/action` record into that trace; `TracengentClient.tool/action` record into the
trace current at call time, or standalone outside one (or inside another agent's). The call's
arguments are the event's input (`self`/`cls` left out), its return value the output; both go
through the scrubber. An exception marks the event failed and propagates unchanged. A generator
or async-generator function's event spans its whole iteration (`_generators`); its input is built
and scrubbed when that starts; decorated, it is still one for `inspect` (`GeneratorFunction`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, overload

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import Money
from tracengent._generators import GeneratorFunction, track_async_generator, track_generator
from tracengent._recording import Attributes, Recorder, run_tracked, run_tracked_async
from tracengent._state import CURRENT_TRACE

if TYPE_CHECKING:
    from tracengent._trace import AgentTrace

__all__ = ["Decorated", "TrackDecorator", "client_decorator", "named_or_direct", "trace_decorator"]

F = TypeVar("F", bound=Callable[..., object])
M = TypeVar("M", bound="classmethod[Any, Any, Any] | staticmethod[Any, Any]")
Decorated = TypeVar("Decorated", bound="Callable[..., object] | classmethod[Any, Any, Any]")
"""What `tool`/`action` written without parentheses decorate: a function, a callable, a method."""


class TrackDecorator(Protocol):
    """What `tool(...)`/`action(...)` return: a decorator keeping the function's signature
    (above `@classmethod`/`@staticmethod` too: the method stays one)."""

    # A `staticmethod` is callable too: it matches both, and the first (itself back) holds.
    @overload
    def __call__(self, fn: M, /) -> M: ...  # type: ignore[overload-overlap]

    @overload
    def __call__(self, fn: F, /) -> F: ...

    def __call__(self, fn: M | F, /) -> M | F:
        """Wrap `fn` (sync or async) so that each call is recorded as an event."""
        ...


def named_or_direct(name: object, decorator: Callable[[str | None], TrackDecorator]) -> object:
    """What `tool(name)`/`action(name)` return: `decorator(name)`, or when `name` is the function
    to decorate (`@client.tool` written without parentheses) that function decorated, named
    after itself (not replaced by a decorator, whose every call would return a wrapper)."""
    if not isinstance(name, str) and (
        callable(name) or isinstance(name, (classmethod, staticmethod))
    ):
        return decorator(None)(name)
    return decorator(name if name is None or isinstance(name, str) else str(name))


_UNBOUND_NAMES = frozenset({"self", "cls"})


def _input_of(
    signature: inspect.Signature | None, args: tuple[object, ...], kwargs: dict[str, object]
) -> object:
    """The call's arguments by parameter name (None when they cannot be bound)."""
    if signature is None:
        return None
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return None
    return {k: v for k, v in bound.arguments.items() if k not in _UNBOUND_NAMES} or None


def _sendable_arguments(
    recorder: Recorder, attrs: Attributes, arguments: dict[str, object], redact: Sequence[str]
) -> None:
    """The input left out because one argument cannot be sent as JSON (a framework's context
    object, a client): record the others rather than none (the omission stays counted)."""
    scrubber = recorder.scrubber
    if not (recorder.recording and scrubber.capture_payloads):
        return
    try:
        kept = {k: v for k, v in arguments.items() if scrubber.payload_json(v)[0] is not None}
        if kept:
            recorder.payload(attrs, A.INPUT, kept, redact)
    except Exception as exc:  # noqa: BLE001 - the event is recorded without its input
        recorder.misuse_guard.failed("building attributes", exc)


def _unpartialed(fn: Callable[..., object]) -> object:
    """`fn`, or under a `functools.partial` (nested ones too) the callable it calls."""
    inner: object = fn
    while isinstance(inner, functools.partial):
        inner = inner.func
    return inner


def _call_kind_of(fn: Callable[..., object]) -> object:
    """What tells whether calling `fn` makes a coroutine or an (async) generator: `fn` itself,
    or for a callable object (a tool instance, also under `functools.partial`) its `__call__`,
    which `inspect` does not look at (our wrapper of a generator function, decorators stacked,
    is one it does)."""
    inner = _unpartialed(fn)
    if isinstance(inner, GeneratorFunction) or inspect.isroutine(inner) or inspect.isclass(inner):
        return fn
    call: object = type(inner).__call__  # what calling it runs (not an instance attribute)
    return call


def _default_name(fn: Callable[..., object]) -> str:
    """The event name of `fn` when none is given: its name, or for a `functools.partial` its
    function's, or for a callable object (which has none) its class's."""
    inner = _unpartialed(fn)
    name = getattr(inner, "__name__", None)
    return name if isinstance(name, str) and name else type(inner).__name__


def _decorate(
    fn: F,
    recorder: Recorder,
    event_type: str,
    name: str | None,
    cost: Money | None,
    resolve_trace: Callable[[], AgentTrace | None],
) -> F:
    if isinstance(fn, (classmethod, staticmethod)):
        # Written above `@classmethod`/`@staticmethod`: the function they hold is tracked, and
        # the result binds as the method did (a plain wrapper would be bound to the instance).
        tracked = _decorate(fn.__func__, recorder, event_type, name, cost, resolve_trace)
        return cast(F, type(fn)(tracked))
    event_name: str = name or _default_name(fn)
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None

    def attributes(
        trace: AgentTrace | None, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> Attributes:
        redact = trace.redact_fields if trace is not None else ()
        arguments = _input_of(signature, args, kwargs)
        attrs = recorder.tracked_attributes(event_type, arguments, cost, redact)
        if A.INPUT not in attrs and isinstance(arguments, dict) and len(arguments) > 1:
            _sendable_arguments(recorder, attrs, arguments, redact)
        if trace is None:
            recorder.standalone_attributes(attrs)
        return attrs

    kind = _call_kind_of(fn)
    if inspect.isasyncgenfunction(kind):
        async_gen_fn = cast(Callable[..., AsyncGenerator[object, object]], fn)

        def track_async(*args: object, **kwargs: object) -> AsyncGenerator[object, object]:
            trace = resolve_trace()
            # Made now (argument errors raise here, as without us); the attributes are built as
            # the span opens (first iteration), scrubbed as the provider then scrubs.
            return track_async_generator(
                recorder,
                event_name,
                lambda: attributes(trace, args, kwargs),
                async_gen_fn(*args, **kwargs),
                trace,
            )

        return cast(F, GeneratorFunction(fn, kind, event_name, track_async))

    if inspect.isgeneratorfunction(kind):
        gen_fn = cast(Callable[..., Generator[object, object, object]], fn)

        def track(*args: object, **kwargs: object) -> Generator[object, object, object]:
            trace = resolve_trace()
            # As for async generators above.
            return track_generator(
                recorder,
                event_name,
                lambda: attributes(trace, args, kwargs),
                gen_fn(*args, **kwargs),
                trace,
            )

        return cast(F, GeneratorFunction(fn, kind, event_name, track))

    if inspect.iscoroutinefunction(kind):
        async_fn = cast(Callable[..., Awaitable[object]], fn)

        @functools.wraps(fn)
        async def async_wrapper(*args: object, **kwargs: object) -> object:
            trace = resolve_trace()
            attrs = attributes(trace, args, kwargs)
            return await run_tracked_async(
                recorder,
                event_name,
                attrs,
                lambda: async_fn(*args, **kwargs),
                trace,
            )

        return cast(F, async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        trace = resolve_trace()
        attrs = attributes(trace, args, kwargs)
        return run_tracked(
            recorder,
            event_name,
            attrs,
            lambda: fn(*args, **kwargs),
            trace,
        )

    return cast(F, wrapper)


def trace_decorator(
    trace: AgentTrace, event_type: str, name: str | None, cost: Money | None
) -> TrackDecorator:
    """A decorator recording each call as an `event_type` event of `trace`."""

    def decorator(fn: F) -> F:
        return _decorate(fn, trace.recorder, event_type, name, cost, lambda: trace)

    return cast("TrackDecorator", decorator)  # `_decorate` takes the methods `M` too


def client_decorator(
    recorder: Recorder, event_type: str, name: str | None, cost: Money | None
) -> TrackDecorator:
    """A decorator recording each call in the trace current at call time, else standalone
    (in another agent's trace too: see `Recorder.foreign`)."""

    def own_trace() -> AgentTrace | None:
        trace = CURRENT_TRACE.get()
        if trace is None or trace.recorder is recorder:  # the usual cases: no more to check
            return trace
        return None if recorder.foreign(trace) else trace

    def decorator(fn: F) -> F:
        return _decorate(fn, recorder, event_type, name, cost, own_trace)

    return cast("TrackDecorator", decorator)  # `_decorate` takes the methods `M` too
