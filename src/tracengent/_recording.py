"""What a client and its decision traces share: the tracer, the scrubber and the guard.

`Recorder` builds event spans: instant events from `AgentEvent`s, and the spans of tracked
callables (opened current, closed with the outcome). Everything here is I/O-free and never
raises into the agent: a failure is counted (`TelemetryGuard.failures`) and logged at most once a
minute on the `tracengent.trace` logger; the agent's callable still runs and its exception
propagates unchanged.
"""

from __future__ import annotations

import inspect
import logging
import math
import numbers
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextvars import Token
from datetime import datetime
from types import CoroutineType
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, TypeGuard, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import (
    NoOpTracer,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._weak import at_fork
from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from opentelemetry.exporter.tracengent.wire import (
    Actor,
    AgentEvent,
    AuthDecision,
    LlmCallResult,
    Money,
    currency_text,
    format_timestamp,
)
from tracengent._direct_spans import DirectSpans, DirectTracer, EventSpan, RecordedAttributes
from tracengent._processors.context import STARTING, ContextProcessor
from tracengent._scrubbing import Scrubber
from tracengent._state import CURRENT_TRACE

if TYPE_CHECKING:
    from tracengent._processors.routing import ExportRouter
    from tracengent._trace import AgentTrace

__all__ = [
    "ActiveSpan",
    "Attributes",
    "ContextTokens",
    "Recorder",
    "TelemetryGuard",
    "cost_attributes",
    "enter_context",
    "mark_failed",
    "reentered",
    "run_tracked",
    "run_tracked_async",
]

_LOGGER = logging.getLogger("tracengent.trace")
_LOG_INTERVAL_S: Final = 60.0

Attributes = dict[str, AttributeValue]
T = TypeVar("T")


class TelemetryGuard:
    """Counts telemetry failures and logs them, rate-limited. Never raises; thread-safe (each
    failure counted once, whichever threads fail at once), and reentrant: a signal handler that
    records telemetry and fails while its thread holds the guard's lock is counted too, instead
    of waiting forever for the lock its own thread holds."""

    def __init__(self) -> None:
        self.failures = 0
        self._last_log = -math.inf
        self._lock = threading.RLock()
        # A thread of the parent may hold the lock at a fork: the child's is a fresh one.
        at_fork(self, after_in_child=TelemetryGuard._reset_lock)

    def _reset_lock(self) -> None:
        self._lock = threading.RLock()

    def failed(self, what: str, problem: object) -> None:
        """Count one failure (or misuse) of `what` and log it unless one was logged recently."""
        now = time.monotonic()
        with self._lock:
            self.failures += 1
            count = self.failures
            log = now - self._last_log >= _LOG_INTERVAL_S
            if log:
                self._last_log = now
        if log:
            _LOGGER.warning("tracengent: %s failed (%s failures so far): %s", what, count, problem)


class ActiveSpan:
    """A tracked callable's span while it runs, the context it made current and its tokens."""

    __slots__ = ("context", "otel_token", "span", "trace_token")

    def __init__(
        self,
        span: Span,
        context: Context,
        otel_token: Token[Context],
        trace_token: Token[AgentTrace | None] | None,
    ) -> None:
        self.span = span
        self.context = context
        self.otel_token = otel_token
        self.trace_token = trace_token


def cost_attributes(attrs: Attributes, cost: Money | None, misuse: TelemetryGuard) -> None:
    """Add a cost's amount and currency, or neither when the cost cannot be sent as it is.

    Sendable: a `bool`-free amount that `float()` reads as a finite number, and a currency that
    is text, not blank (an `Enum` member stands for its value, as in `Money`). Anything else (a
    `Money` holding what its constructor kept as given, a look-alike, a float given as the cost)
    leaves the cost out, never a wrong one (the wire's default currency is USD): the event is
    still recorded, and the misuse counted in `misuse`. Never raises.
    """
    if cost is None:
        return
    try:
        amount: object = cost.amount
        currency: object = cost.currency
        if currency.__class__ is not str:
            currency = currency_text(currency)
        if not (currency.__class__ is str and currency.strip()):
            raise ValueError(f"currency must be an ISO 4217 code, got {currency!r}")
        if amount.__class__ is float:
            number = amount
        elif isinstance(amount, bool):
            raise ValueError(f"amount must be a number, got {amount!r}")
        else:
            number = float(amount)  # type: ignore[arg-type]
        if not math.isfinite(number):
            raise ValueError(f"amount must be a finite number, got {amount!r}")
    except Exception as exc:  # noqa: BLE001 - the event is recorded without its cost
        misuse.failed("recording a cost", f"{exc} (the event is sent without its cost)")
        return
    attrs[A.COST_AMOUNT] = number
    attrs[A.COST_CURRENCY] = currency


_LLM_CALL = "llm:call"


class LlmAuthorizer(Protocol):
    """What authorizes `llm:call` before a governed LLM call (the client's `Authorizer`)."""

    def authorize_llm_call(self, estimated_tokens: int, model: str | None = None) -> AuthDecision:
        """Authorize `llm:call`; never raises (a failure is a deny)."""
        ...

    async def authorize_llm_call_async(
        self, estimated_tokens: int, model: str | None = None
    ) -> AuthDecision:
        """The coroutine twin."""
        ...


_ERROR_STATUS: Final = Status(StatusCode.ERROR)


class Recorder:
    """Builds Tracengent event spans on one tracer (see the module docstring).

    Args:
        tracer: the tracer of the provider our processors are on.
        scrubber: scrubs every payload attribute before it is set.
        agent_id: the client's agent, stamped on standalone events.
        context: the context processor on the tracer's provider; with an SDK tracer, event
            spans are then started through `DirectSpans` (point events born finished).
        router: the export router on a shared provider (None on the client's own): which
            agents have a client there (`foreign_span`).
    """

    def __init__(
        self,
        tracer: Tracer,
        scrubber: Scrubber,
        agent_id: str,
        context: ContextProcessor | None = None,
        router: ExportRouter | None = None,
    ) -> None:
        self.tracer = tracer
        self.scrubber = scrubber
        self.agent_id = agent_id
        self.guard = TelemetryGuard()
        # With the SDK disabled (`OTEL_SDK_DISABLED`) the tracer is a no-op: nothing is recorded,
        # so nothing is encoded or scrubbed either.
        self.recording = not isinstance(tracer, NoOpTracer)
        # Payloads left out of an event that was still recorded (see `payload`).
        self.payload_guard = TelemetryGuard()
        # Misuse, and failures, after which the event was still recorded (an unknown status, an
        # LLM call without its `LlmCallResult`): apart, so `guard` counts lost events only.
        self.misuse_guard = TelemetryGuard()
        self.llm_authorizer: LlmAuthorizer | None = None
        self._context = context
        self.router = router
        self._direct = DirectSpans.for_tracer(tracer, context)
        # What the client's other spans (governance) are started with: the same fast path.
        self.span_tracer: Tracer = (
            DirectTracer(tracer, self._direct) if self._direct is not None else tracer
        )

    def foreign(self, trace: AgentTrace | None) -> bool:
        """Whether `trace` is another agent's: what this recorder records while it is current
        is its agent's own standalone event, not an event of that trace (a client of the same
        agent joins it). O(1): one identity test on the usual path."""
        return (
            trace is not None
            and trace.recorder is not self
            and trace.recorder.agent_id != self.agent_id
        )

    def foreign_span(self, span: Span) -> bool:
        """Whether `span` (the current span, carrying a decision trace's id, while no
        `begin_trace` trace of this agent's is current) is in a decision trace that is not this
        agent's (one an `invoke_agent` root opened: zero code, manual OTel, an agent framework):
        this agent's governance then names no trace and its spans are not that trace's, as in
        another agent's `begin_trace` trace (`foreign`).

        Another agent's: its root names with `gen_ai.agent.id` another agent that has a client
        on this provider (whose export the trace's spans go through), as the context processor
        recorded it; or the processor has no record of `span` (it is on another provider: this
        agent's events and governance spans are not stamped into its trace). A trace whose root
        names no agent, or an agent without a client here (a framework's own name), is not
        another agent's: the only client's, as ever. O(1): a few dict lookups.
        """
        context = self._context
        if context is None:
            return False
        known, agent = context.agent_of_trace_of(span.get_span_context())
        if not known:
            return True
        router = self.router
        return (
            agent.__class__ is str
            and agent != self.agent_id
            and router is not None
            and router.has_agent(agent)
        )

    def in_foreign_trace(self) -> bool:
        """Whether the decision trace current now is another agent's: the current
        `begin_trace` trace (`foreign`), else the `invoke_agent` trace of the current span
        (`foreign_span`). This agent's governance then names no trace and its governance spans
        are not that trace's. O(1)."""
        trace = CURRENT_TRACE.get()
        if trace is not None:
            return trace.recorder is not self and self.foreign(trace)
        return self.foreign_span(get_current_span())

    def starting_outside(self, attrs: Attributes) -> object:
        """What `STARTING` holds while a span of this agent's with `attrs` starts outside any
        decision trace, whatever trace its OTel parent is in (a governance span while another
        agent's trace is current): the context processor stamps nothing on it, nor on the spans
        started under it, so it is not that trace's and goes through this agent's export."""
        prepared = (
            self._context.prepare(None, SpanKind.INTERNAL, attrs)
            if self._context is not None
            else None
        )
        return prepared if prepared is not None else True

    def keep_trace(self, root: Span) -> object | None:
        """A handle on the decision trace `root` opened (see `ContextProcessor.keep_trace`):
        while it is held, events recorded under `root` after it ended stay in its trace."""
        if self._context is None:
            return None
        return self._context.keep_trace(root.get_span_context())

    def authorize_llm_call(self, estimated_tokens: int, model: str | None) -> None:
        """Authorize `llm:call` for `estimated_tokens` (reserving budget); blocks.

        Raises:
            NotAuthorizedException: denied, or no authorizer is configured (fail closed).
        """
        if self.llm_authorizer is None:
            raise NotAuthorizedException(_LLM_CALL, "no authorizer configured for llm:call")
        decision = self.llm_authorizer.authorize_llm_call(estimated_tokens, model)
        if not decision.allowed:
            raise NotAuthorizedException(_LLM_CALL, decision.reason)

    async def authorize_llm_call_async(self, estimated_tokens: int, model: str | None) -> None:
        """The coroutine twin of `authorize_llm_call`."""
        if self.llm_authorizer is None:
            raise NotAuthorizedException(_LLM_CALL, "no authorizer configured for llm:call")
        decision = await self.llm_authorizer.authorize_llm_call_async(estimated_tokens, model)
        if not decision.allowed:
            raise NotAuthorizedException(_LLM_CALL, decision.reason)

    def payload(
        self, attrs: Attributes, key: str, value: object, redact_paths: Sequence[str]
    ) -> None:
        """Set a payload attribute through the scrubber (absent when capture is off or unsafe)."""
        if value is None or not self.recording:
            return
        text, by_orjson = self.scrubber.payload_json(value, redact_paths=redact_paths)
        if text is not None:
            attrs[key] = text
            if by_orjson and attrs.__class__ is RecordedAttributes and text != "null":
                attrs.json_texts += (text,)
        elif self.scrubber.capture_payloads:
            # The event goes out without the value; say so rather than lose it silently.
            self.payload_guard.failed(
                f"recording {key}", "not JSON-encodable (a cycle, an unknown object): left out"
            )

    def event_attributes(self, event: AgentEvent, redact_paths: Sequence[str]) -> Attributes:
        """The attributes of the span standing for a user's `AgentEvent`, in one dict.

        The event's text fields go in as the agent built them. When one is not a `str` (a UUID
        id, an enum status), `agent_values` is set: its span checks every value as it starts
        and cleans, as the SDK's span does, what is not a plain scalar. The other fields are
        made here (numbers, tags, payload texts) or checked here (a cost, an actor: when one cannot
        be sent it is left out, counted in `misuse_guard`; usage tokens or a duration that are no
        finite number: left out, counted in `payload_guard`).
        """
        kind, status = event.type, event.status
        attrs = RecordedAttributes({A.EVENT_TYPE: kind, A.EVENT_STATUS: status})
        texts = kind.__class__ is str and status.__class__ is str
        duration = (
            None if event.duration_ms is None else self._readable(event.duration_ms, "duration_ms")
        )
        if duration is None:
            attrs[A.EVENT_INSTANT] = True
        else:
            attrs[A.EVENT_DURATION_MS] = duration
        if event.event_id:
            attrs[A.EVENT_ID] = event.event_id
            texts = texts and event.event_id.__class__ is str
        if event.idempotency_key:
            attrs[A.EVENT_IDEMPOTENCY_KEY] = event.idempotency_key
            texts = texts and event.idempotency_key.__class__ is str
        if event.agent_id:
            attrs[A.GEN_AI_AGENT_ID] = event.agent_id
            texts = texts and event.agent_id.__class__ is str
        else:
            attrs[A.GEN_AI_AGENT_ID] = self.agent_id
        if event.trace_id:
            # As 0.1.0 sent it; inside a decision trace the trace's own id replaces it.
            attrs[A.TRACE_ID] = event.trace_id
            texts = texts and event.trace_id.__class__ is str
        if event.parent_event_id:
            attrs[A.EVENT_PARENT_ID] = event.parent_event_id
            texts = texts and event.parent_event_id.__class__ is str
        cost_attributes(attrs, event.cost, self.misuse_guard)
        if event.usage is not None:
            # Unreadable tokens (None from a response without usage) leave the count out, as
            # `close_ok` does for a tracked LLM call: the event itself is still recorded.
            tokens: object = event.usage.tokens
            if tokens.__class__ is not int:  # an int is exact as it is (a float may not be)
                readable = self._readable(tokens, "usage.tokens")
                tokens = None if readable is None else int(readable)
            if tokens is not None:
                attrs[A.USAGE_TOKENS] = tokens
            if event.usage.model:
                attrs[A.USAGE_MODEL] = event.usage.model
                texts = texts and event.usage.model.__class__ is str
        if event.actor is not None:
            user_id: object = event.actor.user_id
            if user_id.__class__ is not str:
                # What `Actor` converts (a number's text), for a look-alike too.
                user_id = Actor(user_id).user_id  # type: ignore[arg-type]
            if user_id.__class__ is str and user_id.strip():
                attrs[A.ACTOR_USER_ID] = user_id
            else:
                self.misuse_guard.failed(
                    "record", f"actor user_id must be text, got {user_id!r}: the event has no actor"
                )
        self.payload(attrs, A.INPUT, event.input, redact_paths)
        self.payload(attrs, A.OUTPUT, event.output, redact_paths)
        self.payload(attrs, A.ATTRIBUTES, event.attributes, redact_paths)
        occurred_at: object = event.occurred_at
        if occurred_at:
            if isinstance(occurred_at, datetime):
                # Its `str()` (what an OTel attribute would hold) is not the contract's format.
                attrs[A.EVENT_OCCURRED_AT] = format_timestamp(occurred_at)
            else:
                attrs[A.EVENT_OCCURRED_AT] = event.occurred_at
                texts = texts and occurred_at.__class__ is str
        if event.tags:
            attrs[A.EVENT_TAGS] = tuple(str(tag) for tag in event.tags)
        root_request: object = event.root_request
        if root_request:
            if isinstance(root_request, str):
                # Free text (the user's words, a URL): scrubbed as `begin_trace` scrubs it.
                root_request = self.scrubber.free_text(root_request)
                attrs[A.TRACE_ROOT_REQUEST] = root_request
                texts = texts and root_request.__class__ is str
            else:
                attrs[A.TRACE_ROOT_REQUEST] = root_request  # type: ignore[assignment]
                texts = False
        if not texts:
            attrs.agent_values = True
        return attrs

    def _readable(self, value: object, field: str) -> float | None:
        """`value` as a finite number (numeric text too, as `float()` reads it), or None: counted
        in `payload_guard`, the event goes without that field."""
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if math.isfinite(number):
            return number
        self.payload_guard.failed("record", f"{field} must be a finite number, got {value!r}")
        return None

    def standalone_attributes(self, attrs: Attributes) -> None:
        """Stamp the client's agent on an event recorded outside any trace."""
        attrs.setdefault(A.GEN_AI_AGENT_ID, self.agent_id)

    def tracked_attributes(
        self, event_type: str, input: object, cost: Money | None, redact_paths: Sequence[str]
    ) -> Attributes:
        """The start attributes of a tracked callable's span (input scrubbed)."""
        attrs: Attributes = RecordedAttributes({A.EVENT_TYPE: event_type})
        try:
            self.payload(attrs, A.INPUT, input, redact_paths)
            cost_attributes(attrs, cost, self.misuse_guard)
        except Exception as exc:  # noqa: BLE001 - the event is recorded without them
            self.misuse_guard.failed("building attributes", exc)
        return attrs

    def instant(
        self, name: str, attrs: Attributes, parent: Context | None, *, outside: bool = False
    ) -> None:
        """Record a point-in-time event span: started and ended at one instant, never current.

        `outside`: the event is outside any decision trace, whatever trace `parent` is in.
        """
        if not self.recording:
            return
        failed = attrs.get(A.EVENT_STATUS) == A.EventStatuses.FAILURE
        # A point event born ended never starts, and configured name globs are applied by the
        # scrubbing processor as a span starts: with such globs it takes the SDK's path.
        if self._direct is not None and not self.scrubber.custom_names:
            self._direct.emit(name, attrs, parent, failed, outside=outside)
            return
        now = time.time_ns()
        prepared = (
            self._context.prepare(None, SpanKind.INTERNAL, attrs)
            if outside and self._context is not None
            else None
        )
        token = STARTING.set(prepared if prepared is not None else True)
        try:
            span = self.tracer.start_span(name, context=parent, attributes=attrs, start_time=now)
        finally:
            STARTING.reset(token)
        if failed:
            span.set_status(_ERROR_STATUS)
        span.end(end_time=now)

    def record(
        self,
        event: object,
        parent: Context | None,
        redact_paths: Sequence[str],
        *,
        outside: bool = False,
    ) -> None:
        """Record a user's `AgentEvent` as an instant span (`outside`: as `instant`'s); misuse
        is counted, never raised."""
        try:
            if not isinstance(event, AgentEvent):
                self.guard.failed("record", f"expected an AgentEvent, got {type(event).__name__}")
                return
            if not self.recording:
                return  # the SDK is disabled: no span, so no attributes to build either
            attrs = self.event_attributes(event, redact_paths)
            self.instant(event.name, attrs, parent, outside=outside)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self.guard.failed("record", exc)

    def open(
        self,
        name: str,
        attrs: Attributes,
        trace: AgentTrace | None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> ActiveSpan | None:
        """Start a tracked callable's span and make it current (and `trace` the current trace).

        The span's parent is the current span, or `trace`'s root when the trace is not current.
        Without `trace` while another agent's trace is current, the span is still the current
        span's child, but this agent's own standalone event, outside that trace.
        """
        try:
            current_trace = CURRENT_TRACE.get()
            # Already the current trace (the usual case): nothing to set, nothing to reset.
            other_trace = trace if trace is not None and current_trace is not trace else None
            parent = other_trace.parent_context() if other_trace is not None else None
            parent_span = get_current_span(parent).get_span_context()
            # In another agent's trace (none of this agent's given): still the current span's
            # child, but kept out of that trace (`prepare` is given no parent to stamp from).
            stamp_from: SpanContext | None = parent_span
            if trace is None and current_trace is not None and self.foreign(current_trace):
                stamp_from = None
            prepared = (
                self._context.prepare(stamp_from, kind, attrs)
                if self._context is not None
                else None
            )
            if prepared is not None:
                # The decision-trace context goes in with the other attributes: written once.
                attrs.update(prepared.stamps)
            starting = STARTING.set(prepared if prepared is not None else True)
            try:
                if self._direct is not None:
                    span = self._direct.start(name, parent, kind, attrs, parent_span)
                else:
                    span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attrs)
            finally:
                STARTING.reset(starting)
                if prepared is not None and prepared.claimed_first:
                    # Still claimed: the span never started (the sampler dropped it).
                    prepared.give_back_unstarted()
            current = set_span_in_context(span, parent)
            otel_token = otel_context.attach(current)
            trace_token = CURRENT_TRACE.set(other_trace) if other_trace is not None else None
            return ActiveSpan(span, current, otel_token, trace_token)
        except Exception as exc:  # noqa: BLE001 - the callable runs untracked
            self.guard.failed("starting a span", exc)
            return None

    def close_ok(
        self,
        active: ActiveSpan | None,
        result: object,
        trace: AgentTrace | None,
        *,
        llm: bool = False,
    ) -> object:
        """End a tracked span that succeeded; returns what the tracker returns to the agent.

        For an LLM call the callable's `LlmCallResult` gives the usage, model and cost, and its
        `.value` is returned.
        """
        value = result
        if llm:
            if isinstance(result, LlmCallResult):
                value = result.value
            else:
                self.misuse_guard.failed(
                    "track_llm_call", f"expected an LlmCallResult, got {type(result).__name__}"
                )
        if active is None:
            return value
        try:
            self.detach(active)
            attrs = RecordedAttributes()
            if llm and isinstance(result, LlmCallResult):
                tokens: object = result.tokens
                if type(tokens) is not int:
                    tokens = _token_count(tokens)
                if tokens.__class__ is int:
                    attrs[A.USAGE_TOKENS] = tokens
                else:
                    # The event goes without its usage (counted as an omitted value).
                    self.payload_guard.failed(
                        "track_llm_call", f"tokens must be a finite number, got {tokens!r}"
                    )
                if result.model:
                    attrs[A.USAGE_MODEL] = result.model
                cost_attributes(attrs, result.cost, self.misuse_guard)
            redact_paths = trace.redact_fields if trace is not None else ()
            self.payload(attrs, A.OUTPUT, value, redact_paths)
            if attrs.json_texts and active.span.__class__ is EventSpan:
                active.span.add_json_texts(attrs.json_texts)
            if self.scrubber.custom_names:
                # Set after the start, where the scrubbing processor applies them: here.
                attrs.update(self.scrubber.masked_names(attrs))
            if len(attrs) == 1:
                active.span.set_attribute(*attrs.popitem())
            elif attrs:
                active.span.set_attributes(attrs)
        except Exception as exc:  # noqa: BLE001 - the span still ends (below): not lost
            self.misuse_guard.failed("recording a span's outcome", exc)
        # Ended whatever happened above: a span left open would never be exported.
        try:
            active.span.end()
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self.guard.failed("ending a span", exc)
        return value

    def close_failed(self, active: ActiveSpan | None, error: BaseException) -> None:
        """End a tracked span whose callable raised: status ERROR, the exception recorded."""
        if active is None:
            return
        try:
            self.detach(active)
            mark_failed(active.span, error, self.scrubber)
            active.span.end()
        except Exception as exc:  # noqa: BLE001 - the agent's exception matters, not ours
            self.guard.failed("ending a failed span", exc)

    def detach(self, active: ActiveSpan) -> None:
        """Undo what `open` made current (the span stays open)."""
        try:
            if active.trace_token is not None:
                CURRENT_TRACE.reset(active.trace_token)
                active.trace_token = None
        finally:
            otel_context.detach(active.otel_token)


def run_tracked(
    recorder: Recorder,
    name: str,
    attrs: Attributes,
    call: Callable[[], T],
    trace: AgentTrace | None,
    *,
    llm: bool = False,
) -> object:
    """Run `call` with its event span current; end the span with the outcome.

    Returns the call's result (an LLM call's `.value`); re-raises its exception unchanged.
    A coroutine function given to a sync tracker (0.1.0's API in async code: the caller awaits
    what the tracker returns): a coroutine whose awaiting the event spans, with its outcome.
    """
    if not recorder.recording:
        result: object = call()
        if llm and result.__class__ is CoroutineType:
            return _untracked_later(cast("Awaitable[object]", result))
        return _untracked(result, llm)
    active = recorder.open(name, attrs, trace)
    try:
        result = call()
    except BaseException as exc:
        recorder.close_failed(active, exc)
        raise
    if result.__class__ is CoroutineType:
        coroutine = cast("CoroutineType[object, object, object]", result)
        later = cast(
            "CoroutineType[object, object, object]",
            _tracked_later(recorder, active, coroutine, trace, llm),
        )
        # Python's "never awaited" warning for it names the agent's coroutine.
        later.__name__, later.__qualname__ = coroutine.__name__, coroutine.__qualname__
        if active is not None:
            recorder.detach(active)  # the caller runs on before awaiting: not current for it
            # Dropped unawaited, or cancelled before it first ran, `later` never ends the span.
            weakref.finalize(later, _never_ran, recorder, active.span, coroutine).atexit = False
        return later
    return recorder.close_ok(active, result, trace, llm=llm)


ContextTokens: TypeAlias = tuple[Token[Context], "Token[AgentTrace | None] | None"]
"""What `enter_context` made current, to restore."""


def enter_context(own: Context, trace: AgentTrace | None) -> ContextTokens:
    """Make `own` (an event span's context, or what a generator made current since) and `trace`
    current, where code tracked across suspensions (a generator, an awaited coroutine) resumes."""
    otel_token = otel_context.attach(own)
    trace_token = (
        CURRENT_TRACE.set(trace) if trace is not None and CURRENT_TRACE.get() is not trace else None
    )
    return otel_token, trace_token


def reentered(active: ActiveSpan | None, trace: AgentTrace | None) -> ActiveSpan | None:
    """`active` made current again, as the recorder's `close_*` expect (they detach it)."""
    if active is None:
        return None
    otel_token, trace_token = enter_context(active.context, trace)
    return ActiveSpan(active.span, active.context, otel_token, trace_token)


async def _tracked_later(
    recorder: Recorder,
    active: ActiveSpan | None,
    awaited: Awaitable[object],
    trace: AgentTrace | None,
    llm: bool,
) -> object:
    """Await what a sync tracker's callable returned with its event span current (`trace`
    too), then end the span with the outcome (see `run_tracked`)."""
    resumed = reentered(active, trace)
    try:
        result = await awaited
    except BaseException as exc:
        recorder.close_failed(resumed, exc)
        raise
    return recorder.close_ok(resumed, result, trace, llm=llm)


def _never_ran(
    recorder: Recorder, span: Span, coroutine: CoroutineType[object, object, object]
) -> None:
    """End the event span of a sync tracker's coroutine that never ran (finalizer of what
    `run_tracked` returned): failed, as the work was not done. The agent's `coroutine` is
    closed (it was not awaited either: one "never awaited" warning is enough)."""
    try:
        if inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED:
            coroutine.close()
        if span.is_recording():
            mark_failed(span, _NeverRan(_NEVER_RAN), recorder.scrubber)
            span.end()
    except Exception as exc:  # noqa: BLE001 - runs in a finalizer: never raise there
        recorder.guard.failed("ending a span", exc)


class _NeverRan(RuntimeError):
    """Recorded on the event of a tracked coroutine that never ran."""


_NEVER_RAN: Final = "the coroutine was never awaited, or was cancelled before it ran"


async def _untracked_later(awaited: Awaitable[object]) -> object:
    """An LLM call's `.value` once awaited, nothing recorded (see `run_tracked`)."""
    return _untracked(await awaited, True)


async def run_tracked_async(
    recorder: Recorder,
    name: str,
    attrs: Attributes,
    call: Callable[[], Awaitable[T]],
    trace: AgentTrace | None,
    *,
    llm: bool = False,
) -> object:
    """`run_tracked` for a coroutine function: awaits `call()` (a result that is not
    awaitable, from a plain callable, is taken as it is: the call ran, its result is kept)."""
    if not recorder.recording:
        result: object = call()
        return _untracked(await result if _awaitable(result) else result, llm)
    active = recorder.open(name, attrs, trace)
    try:
        result = call()
        if _awaitable(result):
            result = await result
    except BaseException as exc:
        recorder.close_failed(active, exc)
        raise
    return recorder.close_ok(active, result, trace, llm=llm)


def _token_count(tokens: object) -> object:
    """An LLM call's `tokens` as an `int` when it is a finite number (a `float`, a number type
    of its own such as NumPy's `int64`/`float64`), else as it is (text, `bool`: left out)."""
    if isinstance(tokens, bool):
        return tokens
    try:
        if isinstance(tokens, float):
            return int(tokens) if math.isfinite(tokens) else tokens
        if isinstance(tokens, numbers.Integral):
            return int(tokens)
    except Exception:  # noqa: BLE001 - a number type of its own that fails: left out
        return None
    return tokens


def _awaitable(result: object) -> TypeGuard[Awaitable[object]]:
    """Whether a tracked callable's `result` is to be awaited (a coroutine, the usual case,
    told at once)."""
    return result.__class__ is CoroutineType or inspect.isawaitable(result)


def _untracked(result: object, llm: bool) -> object:
    """What a tracker returns when nothing is recorded: the result (an LLM call's `.value`)."""
    return result.value if llm and isinstance(result, LlmCallResult) else result


def mark_failed(span: Span, error: BaseException, scrubber: Scrubber) -> None:
    """Status ERROR and the exception recorded, its message and stacktrace without the
    credentials they name (`Scrubber.exception_attributes`); the event's status says failure."""
    span.set_attribute(A.EVENT_STATUS, A.EventStatuses.FAILURE)
    span.record_exception(error, attributes=scrubber.exception_attributes(error))
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
