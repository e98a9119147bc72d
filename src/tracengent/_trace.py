"""`AgentTrace`: a decision trace on OpenTelemetry spans, and `current_trace()`.

A decision trace is an OTel span with `gen_ai.operation.name = invoke_agent` (the root), started
by `TracengentClient.begin_trace`; its events are child spans. `with trace:` (or `async with`)
makes the root the current span and the trace the current trace; without `with`, the trace's
methods parent their spans to the root explicitly. Tracked callables run with their span
current, so whatever they record or call nests under them.

Events recorded after the trace ended (after `complete()` inside the `with` block, or by a task
that outlives `async with`) still belong to it: the trace holds its context processor's record
(`Recorder.keep_trace`), so they carry its `traceId`, actor and event chain.

Nothing here raises into the agent (telemetry failures are counted and logged, rate-limited);
the agent's own exceptions propagate unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar, cast, overload

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, set_span_in_context

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.ids import trace_id_for
from opentelemetry.exporter.tracengent.jsonvalue import JsonInput
from opentelemetry.exporter.tracengent.wire import Actor, AgentEvent, LlmCallResult, Money
from tracengent._direct_spans import RecordedAttributes
from tracengent._recording import (
    Attributes,
    Recorder,
    mark_failed,
    run_tracked,
    run_tracked_async,
)
from tracengent._state import CURRENT_TRACE, ENTERED_TRACES

if TYPE_CHECKING:
    from tracengent._decorators import Decorated, TrackDecorator

__all__ = ["AgentTrace", "begin_trace", "current_trace"]

T = TypeVar("T")

_TRACE_STATUS_ALIASES: Mapping[str, str] = {
    A.TraceStatuses.COMPLETED: A.TraceStatuses.COMPLETED,
    A.TraceStatuses.FAILED: A.TraceStatuses.FAILED,
    # 0.1.0 users sometimes pass event statuses; their meaning is unambiguous.
    A.EventStatuses.SUCCESS: A.TraceStatuses.COMPLETED,
    A.EventStatuses.FAILURE: A.TraceStatuses.FAILED,
}


def current_trace() -> AgentTrace | None:
    """The decision trace active in this context (`with` block or tracked callable), if any.

    It flows across `await` and into threads started with `contextvars.copy_context()`.
    Never blocks, never raises.
    """
    return CURRENT_TRACE.get()


def begin_trace(
    recorder: Recorder, root_request: str, actor_user_id: str | None = None
) -> AgentTrace:
    """Start a decision trace's root span (a child of the current span, if any). Never raises.

    The root request is free text (the user's words, a URL): it is recorded as
    `Scrubber.free_text` leaves it (URL credentials and the value after a sensitive name
    masked), payload capture on or off, so neither the root span nor the trace's first event
    carries what it masks, for any exporter.

    An `actor_user_id` that is a number (not a `bool`; `0` too) stands for its text, as in
    `Actor`; None or `""` is no actor; any other value that is not non-blank text (spaces, a
    `bool`, another object) is left out, logged and counted as misuse, as an event's `Actor` is
    (the wire's actor is a string `userId`; such a value would be dropped from every event,
    silently).
    """
    try:
        text = root_request if root_request.__class__ is str else str(root_request)
    except Exception as exc:  # noqa: BLE001 - an object whose `__str__` raises: its type stands in
        text = f"<{type(root_request).__name__}>"
        recorder.misuse_guard.failed("begin_trace", f"root_request has no text ({exc!r})")
    request = recorder.scrubber.free_text(text)
    attrs: Attributes = {
        A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT,
        A.GEN_AI_AGENT_ID: recorder.agent_id,
        A.TRACE_ROOT_REQUEST: request,
    }
    actor: object = actor_user_id
    # None and "" are no actor; anything else is one (a falsy number too: `0` is an id).
    if actor is not None and not (actor.__class__ is str and actor == ""):
        if actor.__class__ is not str:
            # What `Actor` converts: a number (an `int` database id) stands for its text.
            actor = cast("object", Actor(actor).user_id)  # type: ignore[arg-type]
        if isinstance(actor, str) and actor.strip():
            attrs[A.ACTOR_USER_ID] = actor
        else:
            # As an event's `Actor` is recorded: blank text is no user either.
            recorder.misuse_guard.failed(
                "begin_trace",
                f"actor_user_id must be non-blank text, got {type(actor).__name__}: "
                "the trace has no actor",
            )
    root: Span
    try:
        name = f"{A.OPERATION_INVOKE_AGENT} {recorder.agent_id}"
        root = recorder.tracer.start_span(name, attributes=attrs)
    except Exception as exc:  # noqa: BLE001 - the agent runs on with an unrecorded trace
        recorder.guard.failed("begin_trace", exc)
        root = INVALID_SPAN
    return AgentTrace(recorder, root, request)


class AgentTrace:
    """One decision trace: the agent's events answering one request, as one OTel span tree.

    Returned by `TracengentClient.begin_trace` (the root span starts then). Use it as a context
    manager (`with` or `async with`): leaving the block ends the trace (entered by several blocks
    at once, in worker threads or tasks too: when the last of them leaves), and an exception
    leaving one (but a generator's `GeneratorExit`: a stream stopped early) marks the trace
    failed and propagates unchanged. Without `with`, call `complete()` or `close()` when done. Events
    recorded after the end still belong to the trace (its id, actor and event chain); they reach
    the platform after the trace's close. No method raises (misuse is logged and counted) except
    that trackers re-raise the tracked callable's exception untouched. Nothing blocks.
    """

    def __init__(self, recorder: Recorder, root: Span, root_request: str) -> None:
        self._recorder = recorder
        self._root = root
        self._root_request = root_request
        span_context = root.get_span_context()
        self._trace_id = trace_id_for(span_context.trace_id, span_context.span_id)
        # Children of a trace used without `with` are parented to the root explicitly: the
        # root made current in the context current then (`_root_in_current`), built once per
        # context it is asked in (one tuple, read and replaced whole by any thread).
        base = otel_context.get_current()
        self._root_contexts: tuple[Context, Context] = (base, set_span_in_context(root, base))
        # Held for the trace's lifetime: events recorded after the root ended stay in the trace.
        self._kept = recorder.keep_trace(root) if root is not INVALID_SPAN else None
        self._redact_fields: tuple[str, ...] = ()
        self._closed = False
        self._close_lock = threading.Lock()
        # `with` blocks of this trace entered and not yet left, in any task or thread: the
        # last to leave ends the trace (a worker's block leaving first must not close it under
        # the agent's), failed when an exception left any of them.
        self._blocks = 0
        self._block_failed = False

    # --- identity ------------------------------------------------------------------------
    @property
    def trace_id(self) -> str:
        """The Tracengent trace id (`trc_<otel trace id><root span id>`)."""
        return self._trace_id

    @property
    def root_request(self) -> str:
        """The request the agent is acting on, as it was recorded: scrubbed as free text
        (`Scrubber.free_text`: a URL's credentials and the value after a sensitive name such as
        `password=` masked), the text every exporter and the platform received."""
        return self._root_request

    @property
    def recorder(self) -> Recorder:
        """The span builder this trace records with (shared with its client)."""
        return self._recorder

    @property
    def otel_span(self) -> Span:
        """The root span (to add attributes, or to correlate with other OTel data)."""
        return self._root

    @property
    def closed(self) -> bool:
        """True once the trace ended (`complete`, `close` or leaving `with`)."""
        return self._closed

    @property
    def redact_fields(self) -> tuple[str, ...]:
        """JSON paths masked in this trace's payloads (authorization `redactFields` obligations)."""
        return self._redact_fields

    def add_redact_fields(self, paths: Iterable[str]) -> None:
        """Mask these JSON paths in the payloads recorded from now on in this trace."""
        current = self._redact_fields
        added = tuple(p for p in dict.fromkeys(paths) if isinstance(p, str) and p not in current)
        if added:
            # One rebinding: readers on other threads see the old or the new tuple, both whole.
            self._redact_fields = current + added
            # Payloads set after their span started are scrubbed only as they are exported,
            # where no trace is current: the exporter's scrub finds the paths by trace id.
            self._recorder.scrubber.note_trace_paths(self._trace_id, self._redact_fields)

    # --- context management ----------------------------------------------------------------
    def __enter__(self) -> AgentTrace:
        """Make the root the current span and this the current trace (in this context: a task
        or thread leaving the block restores its own context, whoever else entered the trace)."""
        with self._close_lock:
            self._blocks += 1
        try:
            otel_token = otel_context.attach(self._root_in_current())
            entered = (self, otel_token, CURRENT_TRACE.set(self))
            ENTERED_TRACES.set((*ENTERED_TRACES.get(), entered))
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._recorder.misuse_guard.failed("entering a trace", exc)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Detach, mark the trace failed if an exception is leaving, and end it when this is
        the last of its `with` blocks still entered (in any task or thread). Never raises.

        A generator closed by its consumer (`GeneratorExit`: a stream stopped early) is not a
        failure, as for a tracked generator's event."""
        try:
            self._leave()
        except Exception as problem:  # noqa: BLE001 - e.g. exited in another context
            self._recorder.misuse_guard.failed("leaving a trace", problem)
        failed = exc is not None and not isinstance(exc, GeneratorExit)
        with self._close_lock:
            self._blocks = max(0, self._blocks - 1)
            last = self._blocks == 0
            first_failure = failed and not self._block_failed
            self._block_failed = self._block_failed or failed
            block_failed = self._block_failed
        if not last:
            if first_failure and exc is not None and not self._closed:
                # Recorded now, with this block's exception; the trace fails as it ends.
                try:
                    mark_failed(self._root, exc, self._recorder.scrubber)
                except Exception as problem:  # noqa: BLE001 - telemetry never raises
                    self._recorder.misuse_guard.failed("marking a trace failed", problem)
            return
        if failed:
            self._end(A.TraceStatuses.FAILED, None, exc)
        elif block_failed:
            self._end(A.TraceStatuses.FAILED, None, None)
        else:
            self.close()

    def _leave(self) -> None:
        """Undo this context's innermost `__enter__` of this trace (none: nothing to undo)."""
        entered = ENTERED_TRACES.get()
        for index in range(len(entered) - 1, -1, -1):
            if entered[index][0] is self:
                _, otel_token, trace_token = entered[index]
                ENTERED_TRACES.set(entered[:index] + entered[index + 1 :])
                CURRENT_TRACE.reset(trace_token)
                otel_context.detach(otel_token)
                return

    async def __aenter__(self) -> AgentTrace:
        """`async with` form of `__enter__` (the context is task-local)."""
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """`async with` form of `__exit__`."""
        self.__exit__(exc_type, exc, tb)

    def parent_context(self) -> Context | None:
        """The parent of a span this trace starts now: None (the current span) while this trace
        is current, else the current context with the root as its span."""
        return None if CURRENT_TRACE.get() is self else self._root_in_current()

    def _root_in_current(self) -> Context:
        """The context current now with the root as its current span, as OTel's `use_span`
        makes a span current: its other values (baggage, instrumentations' keys) stay those
        current now, not those `begin_trace` ran in. O(1): built once per context."""
        current = otel_context.get_current()
        base, made = self._root_contexts
        if base is not current:
            made = set_span_in_context(self._root, current)
            self._root_contexts = (current, made)
        return made

    @contextmanager
    def _current(self) -> Iterator[None]:
        """This trace current (its root the current span) for the block, unless it is already:
        what runs inside behaves as inside `with trace:`."""
        if CURRENT_TRACE.get() is self:
            yield
            return
        otel_token = otel_context.attach(self._root_in_current())
        trace_token = CURRENT_TRACE.set(self)
        try:
            yield
        finally:
            CURRENT_TRACE.reset(trace_token)
            otel_context.detach(otel_token)

    # --- recording ---------------------------------------------------------------------------
    def step(self, reasoning: str, attributes: Mapping[str, JsonInput] | None = None) -> None:
        """Record a reasoning step: an instant `decision` event named by the reasoning.

        `attributes` become the event's attributes payload (scrubbed); when they are no mapping
        (a list, text) the step is recorded without them, logged and counted as misuse. Never
        raises.
        """
        try:
            attrs: Attributes = RecordedAttributes(
                {
                    A.EVENT_TYPE: A.EventTypes.DECISION,
                    A.EVENT_STATUS: A.EventStatuses.SUCCESS,
                    A.EVENT_INSTANT: True,
                }
            )
            if attributes is not None:
                self._step_attributes(attrs, attributes)
            self._recorder.instant(str(reasoning), attrs, self.parent_context())
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._recorder.guard.failed("step", exc)

    def _step_attributes(self, attrs: Attributes, attributes: object) -> None:
        """A step's attributes payload; attributes that are no mapping lose the payload only."""
        try:
            mapping = dict(attributes)  # type: ignore[call-overload]
        except Exception:  # noqa: BLE001 - the step is recorded without them
            self._recorder.misuse_guard.failed(
                "step",
                f"attributes must be a mapping, got {type(attributes).__name__}: "
                "the step has no attributes",
            )
            return
        self._recorder.payload(attrs, A.ATTRIBUTES, mapping, self._redact_fields)

    def record(self, event: AgentEvent) -> None:
        """Record a user-built event in this trace (ids, agent and time filled when empty)."""
        self._recorder.record(event, self.parent_context(), self._redact_fields)

    def _attrs(self, event_type: str, input: object, cost: Money | None = None) -> Attributes:
        return self._recorder.tracked_attributes(event_type, input, cost, self._redact_fields)

    def track_tool_call(self, name: str, call: Callable[[], T], input: JsonInput = None) -> T:
        """Run `call` as a `tool_call` event and return its result (its output payload).

        Raises:
            Whatever `call` raises, unchanged (the event is marked failed).
        """
        attrs = self._attrs(A.EventTypes.TOOL_CALL, input)
        return run_tracked(self._recorder, name, attrs, call, self)  # type: ignore[return-value]

    def track_action(
        self,
        name: str,
        action: Callable[[], T],
        input: JsonInput = None,
        cost: Money | None = None,
    ) -> T:
        """Run `action` as an `action` event (with its cost) and return its result.

        Raises:
            Whatever `action` raises, unchanged (the event is marked failed).
        """
        attrs = self._attrs(A.EventTypes.ACTION, input, cost)
        return run_tracked(self._recorder, name, attrs, action, self)  # type: ignore[return-value]

    def track_llm_call(
        self,
        name: str,
        call: Callable[[], LlmCallResult],
        estimated_tokens: int | None = None,
        input: JsonInput = None,
        *,
        model: str | None = None,
    ) -> object:
        """Run `call` as an `llm_call` event; record its tokens, model and cost; return `.value`.

        With `estimated_tokens`, `llm:call` is authorized first (context `{"estimatedTokens",
        "model"}`), in this trace (its `traceId`) whether or not it is used with `with`: the
        platform reserves that much of the agent's token budget, and the recorded usage
        reconciles it. A deny raises before `call` runs. Blocks while authorizing.

        Raises:
            NotAuthorizedException: `llm:call` was denied (or could not be decided: fail closed).
            Whatever `call` raises, unchanged (the event is marked failed).
        """
        if estimated_tokens is not None:
            # Authorized in this trace (its `traceId`, its governance span under the root)
            # whether or not the trace is used with `with`.
            with self._current():
                self._recorder.authorize_llm_call(estimated_tokens, model)
        attrs = self._attrs(A.EventTypes.LLM_CALL, input)
        return run_tracked(self._recorder, name, attrs, call, self, llm=True)

    async def track_tool_call_async(
        self, name: str, call: Callable[[], Awaitable[T]], *, input: JsonInput = None
    ) -> T:
        """Await `call()` as a `tool_call` event and return its result.

        Raises:
            Whatever the coroutine raises, unchanged (the event is marked failed).
        """
        attrs = self._attrs(A.EventTypes.TOOL_CALL, input)
        return await run_tracked_async(self._recorder, name, attrs, call, self)  # type: ignore[return-value]

    async def track_action_async(
        self,
        name: str,
        action: Callable[[], Awaitable[T]],
        *,
        input: JsonInput = None,
        cost: Money | None = None,
    ) -> T:
        """Await `action()` as an `action` event and return its result.

        Raises:
            Whatever the coroutine raises, unchanged (the event is marked failed).
        """
        attrs = self._attrs(A.EventTypes.ACTION, input, cost)
        return await run_tracked_async(self._recorder, name, attrs, action, self)  # type: ignore[return-value]

    async def track_llm_call_async(
        self,
        name: str,
        call: Callable[[], Awaitable[LlmCallResult]],
        *,
        estimated_tokens: int | None = None,
        input: JsonInput = None,
        model: str | None = None,
    ) -> object:
        """Await `call()` as an `llm_call` event; record its usage; return the result's `.value`.

        With `estimated_tokens`, `llm:call` is authorized first, as in `track_llm_call`.

        Raises:
            NotAuthorizedException: `llm:call` was denied (or could not be decided: fail closed).
            Whatever the coroutine raises, unchanged (the event is marked failed).
        """
        if estimated_tokens is not None:
            with self._current():
                await self._recorder.authorize_llm_call_async(estimated_tokens, model)
        attrs = self._attrs(A.EventTypes.LLM_CALL, input)
        return await run_tracked_async(self._recorder, name, attrs, call, self, llm=True)

    # --- decorators ---------------------------------------------------------------------------
    @overload
    def tool(self, name: str | None = None) -> TrackDecorator: ...

    @overload
    def tool(self, name: Decorated, /) -> Decorated: ...

    def tool(self, name: str | Decorated | None = None) -> TrackDecorator | Decorated:
        """Decorate a sync or async function: each call is a `tool_call` event in this trace.

        The event is named `name` (default: the function's name; `@trace.tool` without
        parentheses too); the call's arguments are its input, the return value its output.
        """
        from tracengent._decorators import named_or_direct, trace_decorator

        return cast(
            "TrackDecorator | Decorated",
            named_or_direct(
                name, lambda named: trace_decorator(self, A.EventTypes.TOOL_CALL, named, None)
            ),
        )

    @overload
    def action(self, name: str | None = None, *, cost: Money | None = None) -> TrackDecorator: ...

    @overload
    def action(self, name: Decorated, /) -> Decorated: ...

    def action(
        self, name: str | Decorated | None = None, *, cost: Money | None = None
    ) -> TrackDecorator | Decorated:
        """Decorate a sync or async function: each call is an `action` event in this trace
        (`@trace.action` without parentheses too)."""
        from tracengent._decorators import named_or_direct, trace_decorator

        return cast(
            "TrackDecorator | Decorated",
            named_or_direct(
                name, lambda named: trace_decorator(self, A.EventTypes.ACTION, named, cost)
            ),
        )

    # --- ending ---------------------------------------------------------------------------------
    def complete(self, status: str, summary: str | None = None) -> None:
        """End the trace with `status` (`completed` or `failed`, in any case; 0.1.0's `success`
        and `failure` too; an enum member by its text value) and an optional summary.

        An unknown status is logged and counted, and the trace ends without one. Idempotent;
        never raises.
        """
        # In any case and spacing: "Failed" (as an enum name spells it) must not be an unknown
        # status, which the close would then send as "completed"; nor must an application's own
        # status enum member (not a `str`), read by its text value.
        text: object = status
        if isinstance(text, Enum) and not isinstance(text, str):
            text = text.value
        resolved = (
            _TRACE_STATUS_ALIASES.get(text.strip().lower()) if isinstance(text, str) else None
        )
        if resolved is None:
            self._recorder.misuse_guard.failed("complete", f"unknown trace status {status!r}")
        self._end(resolved, summary, None)

    def close(self) -> None:
        """End the trace if it is still open (status from the span). Idempotent; never raises."""
        self._end(None, None, None)

    def _end(self, status: str | None, summary: str | None, error: BaseException | None) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            attrs: Attributes = {}
            if status is not None:
                attrs[A.TRACE_STATUS] = status
            if summary is not None:
                attrs[A.TRACE_SUMMARY] = str(summary)
            if attrs:
                self._root.set_attributes(attrs)
            if error is not None:
                mark_failed(self._root, error, self._recorder.scrubber)
            self._root.end()
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self._recorder.guard.failed("ending a trace", exc)
