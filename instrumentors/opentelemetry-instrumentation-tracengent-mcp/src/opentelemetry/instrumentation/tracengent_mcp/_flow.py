"""The one `tools/call` flow every patched method runs: span, gate, payloads, trace context.

The flow never catches what the wrapped call or the gate raises: the application's exception
(and the gate's deny) reach the caller untouched; whatever ends the call early, cancellation
included, fails its span. Only the payload hook is guarded, because telemetry never raises into
the agent.

`mcp.Client.call_tool` sends its call through `ClientSession.call_tool` (once per input-required
round): that inner call is neither a second span nor a second authorization. It is recognised
precisely (same session, same task, same tool and arguments, directly inside the outer call);
every other call is traced and authorized, including one made while another tool call runs (an
elicitation callback, a server tool calling a downstream MCP server, a call on the same session).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, StatusCode, Tracer, use_span
from opentelemetry.util.types import AttributeValue

from opentelemetry.instrumentation.tracengent_mcp.hooks import PayloadHook, ToolCallGate
from opentelemetry.instrumentation.tracengent_mcp.propagation import inject_context

__all__ = ["ToolCallState", "call_tool_traced"]

_logger = logging.getLogger(__name__)

# The GenAI semantic conventions' names, written here: the incubating module of the
# `opentelemetry-semantic-conventions` versions this package supports (0.51b0 on) lacks the tool
# call's arguments and result (added in 0.60b0), and newer ones deprecate it.
_OPERATION_NAME: Final = "gen_ai.operation.name"
_TOOL_NAME: Final = "gen_ai.tool.name"
_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
_EXECUTE_TOOL: Final = "execute_tool"
_TOOL_ERROR: Final = "tool_error"
_HOOK_LOG_INTERVAL_S: Final = 60.0


@dataclass(frozen=True)
class _SessionCall:
    """The `tools/call` an outer `mcp.Client.call_tool` sends through its session."""

    session: object
    task_id: int | None
    name: str
    arguments: Mapping[str, object] | None


# Set by every traced call for the method it runs: to the session call an `mcp.Client.call_tool`
# makes (authorized and traced already), else to None. A context variable is inherited by every
# task started meanwhile (callbacks, in-process servers), so it is not enough that one is set: the
# inner call must match it exactly (`_is_driven_call`), and it clears it for whatever it runs.
_DRIVEN_CALL: ContextVar[_SessionCall | None] = ContextVar(
    "tracengent_mcp_driven_call", default=None
)

CallToolMethod = Callable[..., Awaitable[Any]]


class ToolCallState:
    """What one `instrument()` call armed: tracer, gate, payload hook; `active=False` disarms.

    The payload hook's failures are counted in `hook_failures` and logged at most once a minute.
    """

    def __init__(
        self, tracer: Tracer, gate: ToolCallGate | None, payload_hook: PayloadHook | None
    ) -> None:
        self.tracer = tracer
        self.gate = gate
        self.payload_hook = payload_hook
        self.active = True
        self.hook_failures = 0
        self.span_failures = 0
        self._last_log = -math.inf

    def payload(self, value: object) -> str | None:
        """The hook's text for `value`; None without a hook or when the hook failed."""
        hook = self.payload_hook
        if hook is None:
            return None
        try:
            text = hook.payload_text(value)
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self.hook_failures += 1
            self._log_failure("MCP payload hook", self.hook_failures, exc)
            return None
        return text if isinstance(text, str) else None

    def exception_attributes(self, error: BaseException) -> Mapping[str, AttributeValue] | None:
        """What the tool call span records for `error` in place of its message and stacktrace:
        the payload hook's `exception_attributes(error)` when it has one (Tracengent's drops the
        credentials they name); None: OTel's own recording (no such hook, or it failed: then
        only the exception's type, nothing it might name)."""
        hook = getattr(self.payload_hook, "exception_attributes", None)
        if hook is None:
            return None
        try:
            attributes = hook(error)
            if isinstance(attributes, Mapping):
                return attributes
            raise TypeError(f"exception_attributes returned {type(attributes).__name__}")
        except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
            self.hook_failures += 1
            self._log_failure("MCP payload hook (exception)", self.hook_failures, exc)
            # The stacktrace too: OTel's holds the message.
            told = type(error).__qualname__
            return {"exception.message": told, "exception.stacktrace": told}

    def span_failed(self, what: str, exc: Exception) -> None:
        """Count a tool call span that the tracer's span processors would not let start or end
        (`what`), and log it, rate-limited. Never raises."""
        self.span_failures += 1
        self._log_failure(what, self.span_failures, exc)

    def _log_failure(self, what: str, failures: int, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_log >= _HOOK_LOG_INTERVAL_S:
            self._last_log = now
            _logger.warning("%s failed (%s failures so far): %s", what, failures, exc)


def _current_task_id() -> int | None:
    try:
        # anyio (an `mcp` dependency) names the task under asyncio and trio alike.
        from anyio import get_current_task

        return get_current_task().id
    except Exception:  # noqa: BLE001 - no task id: the inner call is then authorized again
        return None


def _same_arguments(
    first: Mapping[str, object] | None, second: Mapping[str, object] | None
) -> bool:
    if first is second:
        return True
    try:
        return bool(first == second)
    except Exception:  # noqa: BLE001 - values that cannot be compared: authorize the call again
        return False


def _session_call(
    drives: object | None, name: str, arguments: Mapping[str, object] | None
) -> _SessionCall | None:
    if drives is None:
        return None
    return _SessionCall(drives, _current_task_id(), name, arguments)


def _is_driven_call(session: object, name: str, arguments: Mapping[str, object] | None) -> bool:
    """Whether this session call is the one the enclosing `Client.call_tool` is sending.

    A callback or a concurrent task runs in another task; an in-process server's tool runs inside
    the inner call, where the marker is cleared; another tool or arguments is another call.
    """
    driven = _DRIVEN_CALL.get()
    return (
        driven is not None
        and driven.session is session
        and driven.task_id is not None
        and driven.task_id == _current_task_id()
        and driven.name == name
        and _same_arguments(driven.arguments, arguments)
    )


TOOL_CALL_ATTRIBUTES: Final[Mapping[str, AttributeValue]] = {"tracengent.event.type": "tool_call"}
"""Marks our span as a Tracengent `tool_call` event (it is one either way): a GenAI
`execute_tool` span nested in it, OTel contrib's MCP instrumentation's when its wrapper was
installed before ours, is then the same call, not a second event (see the tracengent SDK's
context processor)."""


@contextmanager
def _tool_span(
    state: ToolCallState, name: str, attributes: Mapping[str, AttributeValue]
) -> Iterator[Span]:
    """`state.tracer.start_as_current_span(name, attributes=...)`, except that span processors
    raising as the span starts or ends never fail the call or lose its result: the call then
    runs with a non-recording span (the caller's context stays current, so it still propagates),
    or its outcome stands; the failure is counted and logged (`ToolCallState.span_failed`)."""
    try:
        span = state.tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
    except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
        state.span_failed("starting an MCP tool call span", exc)
        yield INVALID_SPAN
        return
    try:
        with use_span(
            span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield span
            except Exception as error:  # as `use_span` records: not a cancellation or an exit
                _record_failure(state, span, error)
                raise
    finally:
        try:
            span.end()
        except Exception as exc:  # noqa: BLE001 - the call's outcome stands
            state.span_failed("ending an MCP tool call span", exc)


def _record_failure(state: ToolCallState, span: Span, error: Exception) -> None:
    """Record `error` on the call's span as `use_span` would, but through the payload hook's
    scrubbing when it has one: the message and stacktrace may name the tool's credentials
    (a URL's `api_key`, a password), and the status then names only the exception's type.
    Never raises."""
    try:
        if not span.is_recording():
            return
        scrubbed = state.exception_attributes(error)
        if scrubbed is None:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
        else:
            span.record_exception(error, attributes=scrubbed)
            span.set_status(StatusCode.ERROR, type(error).__name__)
    except Exception as exc:  # noqa: BLE001 - the call's own exception is what propagates
        state.span_failed("recording an MCP tool call's exception", exc)


@contextmanager
def _running(driven: _SessionCall | None) -> Iterator[None]:
    token = _DRIVEN_CALL.set(driven)
    try:
        yield
    finally:
        _DRIVEN_CALL.reset(token)


def _name_and_arguments(
    args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[str, Mapping[str, object] | None] | None:
    """`name` and `arguments` as `call_tool(name, arguments=None, ...)` receives them.

    None when they are not a str and a mapping (or None): not a call that could be authorized.
    """
    name = args[0] if args else kwargs.get("name")
    arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
    if not isinstance(name, str) or not (arguments is None or isinstance(arguments, Mapping)):
        return None
    return name, arguments


def _with_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], arguments: Mapping[str, object] | None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    value = dict(arguments) if arguments is not None else None
    if len(args) > 1:
        return (args[0], value, *args[2:]), kwargs
    return args, {**kwargs, "arguments": value}


async def _checked(
    gate: ToolCallGate, name: str, arguments: Mapping[str, object] | None
) -> Mapping[str, object] | None:
    # The gate decides on what the server would receive (and its answer is what is sent).
    approved = await gate.check_async(
        name, None if arguments is None else _wire_arguments(arguments)
    )
    if approved is not None and not isinstance(approved, Mapping):
        # A gate answering nonsense must not let the call through (fail closed).
        raise TypeError(f"MCP tool gate returned {type(approved).__name__}, not a mapping")
    return approved


def _wire_arguments(arguments: Mapping[str, object]) -> dict[str, object]:
    """`arguments` as the SDK sends them: JSON-native, as `mcp` dumps a request (pydantic's JSON
    mode: a date or UUID as its text, a tuple as a list, NaN as null, a nested model by alias
    without its None fields); a copy of the mapping as it is when they cannot be converted (the
    SDK will refuse them too; a gate denies them, the payload hook drops them)."""
    copy = dict(arguments)
    try:
        # An `mcp` dependency (this package does not require it).
        from pydantic_core import to_jsonable_python

        wire = to_jsonable_python(copy, by_alias=True, exclude_none=True, inf_nan_mode="null")
    except Exception:  # noqa: BLE001 - not sendable: left for the gate and the hook to refuse
        return copy
    return wire if isinstance(wire, dict) else copy


def _result_document(result: object) -> object:
    """A JSON-native view of a `CallToolResult` (pydantic), as the server sent it."""
    dump = getattr(result, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except Exception:  # noqa: BLE001 - an unexpected result shape only loses the payload
            return None
    return result


def _is_tool_error(result: object) -> bool:
    # `is_error` in mcp 2.x, `isError` in 1.x.
    return getattr(result, "is_error", None) is True or getattr(result, "isError", None) is True


def _record_result(state: ToolCallState, span: Span, result: object) -> None:
    if _is_tool_error(result):
        span.set_attribute(ERROR_TYPE, _TOOL_ERROR)
        span.set_status(StatusCode.ERROR)
    if span.is_recording() and state.payload_hook is not None:
        text = state.payload(_result_document(result))
        if text is not None:
            span.set_attribute(_TOOL_CALL_RESULT, text)


async def call_tool_traced(
    state: ToolCallState,
    wrapped: CallToolMethod,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    accepts_meta: bool = True,
    session: object | None = None,
    drives: object | None = None,
) -> Any:
    """Run one `call_tool`: authorize, trace and propagate, then call `wrapped` (see module).

    Args:
        state: what `instrument()` armed.
        wrapped: the SDK's own method, bound to its instance.
        args: the positional arguments of the call.
        kwargs: the keyword arguments of the call.
        accepts_meta: whether `wrapped` takes a `meta` keyword (where the trace context goes).
        session: the `ClientSession` this call is made on (None: not a session's own method).
        drives: the `ClientSession` `wrapped` sends the call through (`mcp.Client.call_tool`);
            that direct inner call is not traced nor authorized a second time.
    """
    if not state.active:
        return await wrapped(*args, **kwargs)
    # One read: a gate installed meanwhile (`use_gate`) applies from the next call on.
    gate = state.gate
    call = _name_and_arguments(args, kwargs)
    if call is None:
        if gate is not None:
            # What cannot be authorized is not sent (fail closed).
            raise TypeError("call_tool needs a str name and mapping arguments to be authorized")
        # Not a call the SDK itself accepts: let it raise its own error.
        with _running(None):
            return await wrapped(*args, **kwargs)
    name, arguments = call
    if session is not None and _is_driven_call(session, name, arguments):
        with _running(None):
            return await wrapped(*args, **kwargs)
    if not is_instrumentation_enabled():
        # No span while instrumentation is suppressed, but governance is never skipped.
        if gate is not None:
            arguments = await _checked(gate, name, arguments)
            args, kwargs = _with_arguments(args, kwargs, arguments)
        with _running(_session_call(drives, name, arguments)):
            return await wrapped(*args, **kwargs)
    attributes = {
        **TOOL_CALL_ATTRIBUTES,
        _OPERATION_NAME: _EXECUTE_TOOL,
        _TOOL_NAME: name,
    }
    with _tool_span(state, f"{_EXECUTE_TOOL} {name}", attributes) as span:
        try:
            if gate is not None:
                arguments = await _checked(gate, name, arguments)
                args, kwargs = _with_arguments(args, kwargs, arguments)
            if span.is_recording() and state.payload_hook is not None and arguments is not None:
                text = state.payload(_wire_arguments(arguments))
                if text is not None:
                    span.set_attribute(_TOOL_CALL_ARGUMENTS, text)
            given_meta = kwargs.get("meta")
            # A `meta` that is not a mapping is left to the SDK to refuse, as without us.
            if accepts_meta and (given_meta is None or isinstance(given_meta, Mapping)):
                meta = inject_context(given_meta)
                if meta is not None:
                    kwargs = {**kwargs, "meta": meta}
            with _running(_session_call(drives, name, arguments)):
                result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
            if not isinstance(exc, Exception):
                # OTel leaves the status of a span left by cancellation (or exit) unset, which
                # would report a call abandoned mid-authorization or mid-flight as a success.
                span.set_status(StatusCode.ERROR, type(exc).__qualname__)
            raise
        _record_result(state, span, result)
        return result
