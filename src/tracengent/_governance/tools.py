"""MCP and function tool gates (`client.tools`), and the tool-decision helpers egress shares.

Every tool decision asks `/v1/tool-authorize` (wire contract §6) and is recorded as a governance
span. MCP and function gates ALWAYS fail closed: whatever goes wrong becomes a deny whose outcome
says what (`platform_unavailable`, `platform_rejected`, `agent_disabled`, `malformed_decision`,
`sdk_error`); nothing but a `ToolDecision` or a governance exception leaves them.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar, cast

from opentelemetry.trace import Span, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import (
    AgentDisabledError,
    MalformedResponseError,
    PlatformRejectedError,
    PlatformUnavailableError,
    ToolDeniedException,
    ToolPendingApprovalException,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonInput, JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.redaction import json_document, redact_value
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision
from tracengent._governance import approvals
from tracengent._governance._decisions import bounded, current_trace_id
from tracengent._governance._spans import governance_span, record_decision

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = [
    "AsyncToolAuthorizer",
    "ToolAuthorizer",
    "ToolGate",
    "ToolGuardResult",
]

T = TypeVar("T")

TRANSPORT_HTTP: Final = "http"
TRANSPORT_MCP: Final = "mcp"
TRANSPORT_FUNCTION: Final = "function"


class ToolAuthorizer(Protocol):
    """What a tool gate needs of the platform client (`PlatformClient` implements it)."""

    def tool_authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> ToolDecision:  # pragma: no cover - protocol
        """POST `/v1/tool-authorize`; raises only `PlatformError` subclasses."""
        ...


class AsyncToolAuthorizer(Protocol):
    """The coroutine twin of `ToolAuthorizer` (`AsyncPlatformClient` implements it)."""

    async def tool_authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> ToolDecision:  # pragma: no cover - protocol
        """POST `/v1/tool-authorize`; raises only `PlatformError` subclasses."""
        ...


# --- helpers shared with egress (I/O-free) --------------------------------------------------


def deadline_for(options: TracengentOptions) -> float:
    """The absolute `time.monotonic()` deadline of one governance call."""
    return time.monotonic() + options.governance_timeout_s


async def tool_authorize_bounded(
    platform: AsyncToolAuthorizer, request: JsonObject, options: TracengentOptions
) -> ToolDecision:
    """`platform.tool_authorize(request)`, given up after `governance_timeout_s` however the
    transport behaves (a stalled one included), as the blocking client's own deadline does.

    Raises:
        PlatformUnavailableError: no decision in time (as a timed-out blocking call reports it);
            otherwise whatever `tool_authorize` raises.
    """
    deadline = deadline_for(options)
    try:
        return await bounded(
            platform.tool_authorize(request, deadline=deadline), deadline - time.monotonic()
        )
    except (TimeoutError, asyncio.TimeoutError) as exc:
        raise PlatformUnavailableError(
            f"deadline exceeded: no decision within {options.governance_timeout_s:g} s"
        ) from exc


def decision_from_error(error: Exception) -> ToolDecision:
    """The fail-closed deny for a tool-authorize call that raised `error` (never an allow)."""
    if isinstance(error, PlatformUnavailableError):
        return ToolDecision.deny(f"platform unavailable: {error}", "platform_unavailable")
    if isinstance(error, AgentDisabledError):
        return ToolDecision.deny(f"agent disabled: {error}", "agent_disabled")
    if isinstance(error, PlatformRejectedError):
        if _never_sent(error):
            return ToolDecision.deny(f"not sent: {error}", "sdk_error")
        return ToolDecision.deny(f"platform rejected the request: {error}", "platform_rejected")
    if isinstance(error, MalformedResponseError):
        return ToolDecision.deny(
            f"malformed answer from the platform: {error}", "malformed_decision"
        )
    return ToolDecision.deny(
        f"tool authorization failed: {type(error).__name__}: {error}", "sdk_error"
    )


def _never_sent(error: PlatformRejectedError) -> bool:
    """Whether `error` is the client's refusal to encode the request (nothing was sent: no
    status, raised from the encoder's ValueError/TypeError), not the platform's 4xx answer."""
    return error.status_code is None and isinstance(error.__cause__, (ValueError, TypeError))


def raise_unless_allowed(decision: ToolDecision) -> None:
    """Raise the governance exception a non-allow decision stands for.

    Raises:
        ToolPendingApprovalException: the decision is pending approval of a named approval.
        ToolDeniedException: any other decision that is not an unambiguous allow, a pending one
            that names no approval included (nothing could ever be waited for).
    """
    if decision.allowed:
        return
    if decision.pending:
        if decision.approval_id is None:
            raise ToolDeniedException(
                f"pending approval without an approval id: {decision.reason}",
                decision.permission,
                "malformed_decision",
            )
        raise ToolPendingApprovalException(decision.approval_id, decision.reason)
    raise ToolDeniedException(decision.reason, decision.permission, decision.outcome)


def tool_span(
    tracer: Tracer, transport: str, target: str, recorder: Recorder | None = None
) -> AbstractContextManager[Span]:
    """The governance span of one tool decision (`tracengent.governance.kind=tool_authorize`);
    `recorder`, the deciding client's, as `governance_span`'s."""
    return governance_span(
        tracer, A.GovernanceKinds.TOOL_AUTHORIZE, target, transport=transport, recorder=recorder
    )


# --- MCP and function gates -----------------------------------------------------------------


@dataclass(frozen=True)
class ToolGuardResult(Generic[T]):
    """What `ToolGate.guard_*` did: the decision, the arguments, and the tool's value.

    Attributes:
        decision: the platform's (or the SDK's fail-closed) decision.
        arguments: on an allow, the redacted arguments the tool was invoked with; otherwise the
            arguments as given (the tool was not invoked).
        value: what the tool returned; None when it was not invoked.
    """

    decision: ToolDecision
    arguments: JsonValue
    value: T | None = None

    @property
    def allowed(self) -> bool:
        """True when the tool call was allowed (and made)."""
        return self.decision.allowed

    def ensure_allowed(self) -> ToolGuardResult[T]:
        """Return `self` when allowed.

        Raises:
            ToolPendingApprovalException: the call waits for a person's approval.
            ToolDeniedException: the call was denied (by policy, or failing closed).
        """
        raise_unless_allowed(self.decision)
        return self


def _arguments(args: JsonInput) -> JsonValue:
    """The tool's arguments as the platform is shown them and `invoke` receives them: a copy made
    of dicts and lists (of a tuple or a typed read-only view too, which the request can carry).
    A copy even of a dict or list: the caller's own, read again after the decision, would let
    another task or thread change what `invoke` gets once the platform has allowed the old."""
    return json_document(args)


def _mcp_request(tool: str, args: JsonValue, recorder: Recorder | None) -> JsonObject:
    request: JsonObject = {"transport": TRANSPORT_MCP, "toolName": tool}
    return _with_body_and_trace(request, args, recorder)


def _function_request(function: str, args: JsonValue, recorder: Recorder | None) -> JsonObject:
    request: JsonObject = {"transport": TRANSPORT_FUNCTION, "functionName": function}
    return _with_body_and_trace(request, args, recorder)


def _name_problem(name: object, what: str) -> ToolDecision | None:
    """The deny for a tool or function name the platform would refuse (None, not text, empty or
    blank), made without asking it; None for a usable name."""
    if isinstance(name, str) and name.strip():
        return None
    told = f"{name!r}" if isinstance(name, str) or name is None else type(name).__name__
    return ToolDecision.deny(
        f"not sent: the {what} name must be non-blank text, got {told}", "sdk_error"
    )


def _label(name: object) -> str:
    """`name` as a governance span names it (the type of one that is not text)."""
    return name if isinstance(name, str) else f"<{type(name).__name__}>"


def _with_body_and_trace(
    request: JsonObject, args: JsonValue, recorder: Recorder | None
) -> JsonObject:
    if args is not None:
        request["body"] = args
    trace_id = current_trace_id(recorder)
    if trace_id is not None:
        request["traceId"] = trace_id
    return request


def _allowed_arguments(decision: ToolDecision, args: JsonValue) -> JsonValue:
    return redact_value(args, decision.redactions) if decision.redactions else args


_APPROVAL_OUTCOMES: Final = {
    "approval denied": "approval_denied",
    "approval expired": "approval_expired",
}


def _refusal_of(wait: AuthDecision, approval_id: str) -> ToolDecision:
    """The deny a wait that did not end approved stands for; its outcome says why:
    `approval_denied`, `approval_expired`, `approval_timeout`, `approval_unavailable` (polls
    kept failing or answered nonsense, or the id names no approval) or `sdk_error` (the wait's
    own bounds cannot bound it: not polled)."""
    outcome = _APPROVAL_OUTCOMES.get(wait.reason)
    if outcome is None and wait.reason.startswith(approvals.INVALID_WAIT):
        outcome = "sdk_error"  # the caller's own timeout_s / poll_interval_s cannot bound it
    if outcome is None:
        timed_out = wait.reason.startswith("approval timed out")
        outcome = "approval_timeout" if timed_out else "approval_unavailable"
    return ToolDecision(
        allowed=False, status="denied", outcome=outcome, reason=wait.reason, approval_id=approval_id
    )


def _no_poller(approval_id: str) -> ToolDecision:
    return ToolDecision(
        allowed=False,
        status="denied",
        outcome="sdk_error",
        reason="this tool gate's platform client cannot poll approvals",
        approval_id=approval_id,
    )


class ToolGate:
    """Governs MCP tool calls and LLM function calls (0.1.0's `client.tools`).

    Args:
        options: the client's options (`governance_timeout_s` bounds each decision).
        platform: the blocking platform client.
        async_platform: the coroutine platform client.
        tracer: where each decision is recorded as a governance span.
        recorder: the client's: while another agent's decision trace is current, a decision
            names no trace and its span is not that trace's (see `governance_span`).

    Every method blocks (or awaits) until the platform decides or the deadline passes (a wait for
    approval: until a person decides or `approval_timeout_s` passes), and never raises a platform
    error: an unreachable, slow, refusing or nonsensical platform is a deny.
    """

    def __init__(
        self,
        options: TracengentOptions,
        *,
        platform: ToolAuthorizer,
        async_platform: AsyncToolAuthorizer,
        tracer: Tracer,
        recorder: Recorder | None = None,
    ) -> None:
        self._options = options
        self._platform = platform
        self._async_platform = async_platform
        self._tracer = tracer
        self._recorder = recorder

    def authorize_mcp(self, tool: str, args: JsonInput = None) -> ToolDecision:
        """Ask whether MCP tool `tool` may be called with `args`; fails closed (a `tool` that is
        not non-blank text is denied, `sdk_error`, without asking)."""
        refused = _name_problem(tool, "tool")
        if refused is not None:
            return self._refuse(TRANSPORT_MCP, tool, refused)
        request = _mcp_request(tool, _arguments(args), self._recorder)
        return self._decide(TRANSPORT_MCP, tool, request)

    def authorize_function(self, fn: str, args: JsonInput = None) -> ToolDecision:
        """Ask whether function `fn` may be called with `args`; fails closed (an `fn` that is
        not non-blank text is denied, `sdk_error`, without asking)."""
        refused = _name_problem(fn, "function")
        if refused is not None:
            return self._refuse(TRANSPORT_FUNCTION, fn, refused)
        request = _function_request(fn, _arguments(args), self._recorder)
        return self._decide(TRANSPORT_FUNCTION, fn, request)

    async def authorize_mcp_async(self, tool: str, args: JsonInput = None) -> ToolDecision:
        """The coroutine twin of `authorize_mcp`."""
        refused = _name_problem(tool, "tool")
        if refused is not None:
            return self._refuse(TRANSPORT_MCP, tool, refused)
        request = _mcp_request(tool, _arguments(args), self._recorder)
        return await self._decide_async(TRANSPORT_MCP, tool, request)

    async def authorize_function_async(self, fn: str, args: JsonInput = None) -> ToolDecision:
        """The coroutine twin of `authorize_function`."""
        refused = _name_problem(fn, "function")
        if refused is not None:
            return self._refuse(TRANSPORT_FUNCTION, fn, refused)
        request = _function_request(fn, _arguments(args), self._recorder)
        return await self._decide_async(TRANSPORT_FUNCTION, fn, request)

    def guard_mcp(
        self,
        tool: str,
        args: JsonInput,
        invoke: Callable[[JsonValue], T],
        *,
        wait_for_approval: bool = False,
    ) -> ToolGuardResult[T]:
        """Authorize MCP tool `tool`; on an allow call `invoke(redacted_args)`.

        `invoke` is not called unless the decision is an allow; its exception propagates
        unchanged. Call `.ensure_allowed()` on the result to raise on a deny. With
        `wait_for_approval`, a call held for approval blocks until a person decides (see
        `wait_for_approval`), then is authorized once more: approved, it is allowed and made;
        otherwise the result is that deny (or a new pending decision).
        """
        arguments = _arguments(args)
        decision = self.authorize_mcp(tool, arguments)
        if wait_for_approval:
            decision = self._after_approval(decision, lambda: self.authorize_mcp(tool, arguments))
        return _guarded(decision, arguments, invoke)

    def guard_function(
        self,
        fn: str,
        args: JsonInput,
        invoke: Callable[[JsonValue], T],
        *,
        wait_for_approval: bool = False,
    ) -> ToolGuardResult[T]:
        """Authorize function `fn`; on an allow call `invoke(redacted_args)` (see `guard_mcp`)."""
        arguments = _arguments(args)
        decision = self.authorize_function(fn, arguments)
        if wait_for_approval:
            decision = self._after_approval(
                decision, lambda: self.authorize_function(fn, arguments)
            )
        return _guarded(decision, arguments, invoke)

    async def guard_mcp_async(
        self,
        tool: str,
        args: JsonInput,
        invoke: Callable[[JsonValue], Awaitable[T]],
        *,
        wait_for_approval: bool = False,
    ) -> ToolGuardResult[T]:
        """The coroutine twin of `guard_mcp`: on an allow, `invoke`'s result is awaited when it
        is awaitable (a coroutine function), else taken as it is (a plain callable)."""
        arguments = _arguments(args)
        decision = await self.authorize_mcp_async(tool, arguments)
        if wait_for_approval:
            decision = await self._after_approval_async(
                decision, lambda: self.authorize_mcp_async(tool, arguments)
            )
        return await _guarded_async(decision, arguments, invoke)

    async def guard_function_async(
        self,
        fn: str,
        args: JsonInput,
        invoke: Callable[[JsonValue], Awaitable[T]],
        *,
        wait_for_approval: bool = False,
    ) -> ToolGuardResult[T]:
        """The coroutine twin of `guard_function`."""
        arguments = _arguments(args)
        decision = await self.authorize_function_async(fn, arguments)
        if wait_for_approval:
            decision = await self._after_approval_async(
                decision, lambda: self.authorize_function_async(fn, arguments)
            )
        return await _guarded_async(decision, arguments, invoke)

    # --- held calls -------------------------------------------------------------------------

    def wait_for_approval(
        self,
        approval_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> None:
        """Wait until a person approves the held tool call `approval_id`; then retry the call.

        The approval of a `ToolPendingApprovalException` (MCP, function or governed HTTP call):
        once approved, the platform allows the same agent's next request for that very call
        (same tool and arguments, or method, URL and JSON body) once. Blocks the calling thread,
        polling every `poll_interval_s` for up to `timeout_s` (default: the options'
        `approval_poll_interval_s` and `approval_timeout_s`); the platform is asked at least
        once, so `timeout_s=0` checks the approval once without waiting.

        Raises:
            ToolDeniedException: not approved: outcome `approval_denied`, `approval_expired`,
                `approval_timeout`, `approval_unavailable` (the approval could not be read:
                polls kept failing or answered nonsense, or `approval_id` names no approval), or
                `sdk_error` (`timeout_s` is not a finite number >= 0 or `poll_interval_s` not one
                > 0: nothing is polled).
        """
        refused = self._approval_refusal(approval_id, timeout_s, poll_interval_s)
        if refused is not None:
            raise_unless_allowed(refused)

    async def wait_for_approval_async(
        self,
        approval_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> None:
        """The coroutine twin of `wait_for_approval`; never blocks the event loop, and
        cancelling it leaves nothing behind.

        Raises:
            ToolDeniedException: as `wait_for_approval`.
        """
        refused = await self._approval_refusal_async(approval_id, timeout_s, poll_interval_s)
        if refused is not None:
            raise_unless_allowed(refused)

    def _after_approval(
        self, decision: ToolDecision, again: Callable[[], ToolDecision]
    ) -> ToolDecision:
        """A held `decision` waited for and, once approved, asked `again` (the platform allows
        the approved call once); any other decision as it is."""
        if not decision.pending or decision.approval_id is None:
            return decision
        return self._approval_refusal(decision.approval_id, None, None) or again()

    async def _after_approval_async(
        self, decision: ToolDecision, again: Callable[[], Awaitable[ToolDecision]]
    ) -> ToolDecision:
        if not decision.pending or decision.approval_id is None:
            return decision
        refused = await self._approval_refusal_async(decision.approval_id, None, None)
        return refused or await again()

    def _approval_refusal(
        self, approval_id: str, timeout_s: float | None, poll_interval_s: float | None
    ) -> ToolDecision | None:
        """None once approved; else the deny (never raises)."""
        platform = self._platform
        if not isinstance(platform, approvals.ApprovalStatusSource):
            return _no_poller(approval_id)
        wait = approvals.wait_for_approval(
            platform,
            self._tracer,
            None,
            approval_id,
            recorder=self._recorder,
            **approvals.wait_bounds(self._options, timeout_s, poll_interval_s),
        )
        return None if wait.allowed else _refusal_of(wait, approval_id)

    async def _approval_refusal_async(
        self, approval_id: str, timeout_s: float | None, poll_interval_s: float | None
    ) -> ToolDecision | None:
        platform = self._async_platform
        if not isinstance(platform, approvals.AsyncApprovalStatusSource):
            return _no_poller(approval_id)
        wait = await approvals.wait_for_approval_async(
            platform,
            self._tracer,
            None,
            approval_id,
            recorder=self._recorder,
            **approvals.wait_bounds(self._options, timeout_s, poll_interval_s),
        )
        return None if wait.allowed else _refusal_of(wait, approval_id)

    def _refuse(self, transport: str, target: object, decision: ToolDecision) -> ToolDecision:
        """Record `decision`, made without asking the platform, as the decision's span."""
        with tool_span(self._tracer, transport, _label(target), self._recorder) as span:
            record_decision(span, decision)
        return decision

    def _decide(self, transport: str, target: str, request: JsonObject) -> ToolDecision:
        with tool_span(self._tracer, transport, target, self._recorder) as span:
            try:
                decision = self._platform.tool_authorize(
                    request, deadline=deadline_for(self._options)
                )
            except Exception as error:  # noqa: BLE001 - a gate lets no raw error out
                decision = decision_from_error(error)
            record_decision(span, decision)
        return decision

    async def _decide_async(self, transport: str, target: str, request: JsonObject) -> ToolDecision:
        with tool_span(self._tracer, transport, target, self._recorder) as span:
            try:
                decision = await tool_authorize_bounded(
                    self._async_platform, request, self._options
                )
            except Exception as error:  # noqa: BLE001 - a gate lets no raw error out
                decision = decision_from_error(error)
            record_decision(span, decision)
        return decision


def _guarded(
    decision: ToolDecision, args: JsonValue, invoke: Callable[[JsonValue], T]
) -> ToolGuardResult[T]:
    if not decision.allowed:
        return ToolGuardResult(decision, args)
    arguments = _allowed_arguments(decision, args)
    return ToolGuardResult(decision, arguments, invoke(arguments))


async def _guarded_async(
    decision: ToolDecision, args: JsonValue, invoke: Callable[[JsonValue], Awaitable[T]]
) -> ToolGuardResult[T]:
    if not decision.allowed:
        return ToolGuardResult(decision, args)
    arguments = _allowed_arguments(decision, args)
    result: object = invoke(arguments)
    if inspect.isawaitable(result):
        return ToolGuardResult(decision, arguments, cast("T", await result))
    # A plain callable given where a coroutine function is typed: the tool has run, and
    # awaiting its result would raise and lose it. Taken as it is.
    return ToolGuardResult(decision, arguments, cast("T", result))
