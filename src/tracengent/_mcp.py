"""The tracengent side of MCP: the gate and payload hook the MCP instrumentation is given.

`MCPGovernor` authorizes each `tools/call` through `ToolGate` (`/v1/tool-authorize`,
`transport: "mcp"`, wire contract §6) and ALWAYS fails closed: a deny raises
`ToolDeniedException`, a pending decision `ToolPendingApprovalException` (the call's `execute_tool`
span is then marked `pending`; no other span is), arguments that are not JSON are denied, and any
failure of the gate itself is a deny. On an allow the server receives the arguments with every
redaction applied.

`MCPPayloadWriter` writes tool arguments and results through the `Scrubber`, so the capture switch
(`TRACENGENT_CAPTURE_PAYLOADS`), the configured scrub rules and the current decision trace's redact
fields apply.

`zero_code_mcp_hooks` is the `tracengent_mcp_hooks` entry point: under `opentelemetry-instrument`
MCP calls are traced with payloads per the settings, and governed when `TRACENGENT_GOVERN_MCP=true`
(then a missing or broken configuration denies every tool call rather than letting one through).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.errors import ToolDeniedException, TracengentConfigError
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue, dumps_compact
from opentelemetry.exporter.tracengent.options import TracengentOptions, flag_from_environment
from opentelemetry.exporter.tracengent.redaction import redact_value
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from opentelemetry.exporter.tracengent.wire import ToolDecision
from opentelemetry.instrumentation.tracengent_mcp import MCPHooks, TracengentMCPInstrumentor
from tracengent import _state
from tracengent._governance.tools import ToolGate, raise_unless_allowed
from tracengent._scrubbing import Scrubber
from tracengent._zero_code import gate_platform_clients, governance_state, scrubber_for

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = [
    "MCPGovernor",
    "MCPPayloadWriter",
    "instrument_mcp",
    "mcp_governed_from_environment",
    "mcp_hooks",
    "warn_if_mcp_cannot_be_governed",
    "zero_code_mcp_hooks",
]

_LOGGER = logging.getLogger("tracengent.mcp")
# The unreadable `TRACENGENT_GOVERN_MCP` values already warned about: each once per process,
# however many readers (the distro's version check, the zero-code hooks) ask.
_UNREADABLE_SWITCHES_WARNED: set[str] = set()
_UNREADABLE_SWITCHES_LOCK: Final = threading.Lock()

_INSTRUMENTATION_SCOPE: Final = "tracengent"


def _redact_fields() -> tuple[str, ...]:
    from tracengent._trace import current_trace

    active = current_trace()
    return tuple(active.redact_fields) if active is not None else ()


class MCPPayloadWriter:
    """A `PayloadHook`: tool arguments and results as scrubbed JSON text, or nothing.

    Args:
        scrubber: applies the capture switch and the scrub rules; the current decision trace's
            redact fields are added to its JSON paths.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        self._scrubber = scrubber

    def payload_text(self, value: object) -> str | None:
        """The scrubbed compact JSON of `value`; None when capture is off or it is not JSON.

        Never raises, does not block.
        """
        try:
            redact_paths = _redact_fields()
        except Exception:  # noqa: BLE001 - an unreadable trace must not leak the value unmasked
            return None
        return self._scrubber.payload_text(value, redact_paths=redact_paths)

    def exception_attributes(self, error: BaseException) -> dict[str, str]:
        """What a failed call's span records for `error`: its message and stacktrace without
        the credentials they name (`Scrubber.exception_attributes`). Never raises."""
        return self._scrubber.exception_attributes(error)


def _json_arguments(tool: str, arguments: Mapping[str, object] | None) -> JsonValue:
    """`arguments` as JSON-native data (what the server would receive).

    Raises:
        ToolDeniedException: they cannot be encoded as JSON (outcome `sdk_error`).
    """
    if arguments is None:
        return None
    try:
        document: JsonValue = json.loads(dumps_compact(dict(arguments)))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ToolDeniedException(
            f"arguments of MCP tool {tool!r} are not JSON: {exc}", None, "sdk_error"
        ) from exc
    return document


def _is_tool_call_span(span: trace.Span, tool: str) -> bool:
    attributes = getattr(span, "attributes", None)
    return (
        isinstance(attributes, Mapping)
        and attributes.get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_EXECUTE_TOOL
        and attributes.get(A.GEN_AI_TOOL_NAME) == tool
    )


def _mark_pending(decision: ToolDecision, tool: str) -> None:
    # A held call is a `pending` event. The gate runs while the call's execute_tool span is
    # current, except under suppressed instrumentation: the call then has no span and the current
    # one is the caller's own, which must not turn pending.
    if not decision.pending:
        return
    span = trace.get_current_span()
    if _is_tool_call_span(span, tool):
        span.set_attribute(A.EVENT_STATUS, A.EventStatuses.PENDING)


def _approved_arguments(decision: ToolDecision, body: JsonValue) -> dict[str, object] | None:
    approved = redact_value(body, decision.redactions) if decision.redactions else body
    return dict(approved) if isinstance(approved, dict) else None


class MCPGovernor:
    """A `ToolCallGate` on `ToolGate`; fails closed (see the module docstring).

    Args:
        tools: the tool gate that asks `/v1/tool-authorize` and records the decision span.
    """

    def __init__(self, tools: ToolGate) -> None:
        self._tools = tools

    def check(self, tool: str, arguments: Mapping[str, object] | None) -> dict[str, object] | None:
        """Authorize MCP tool `tool` with `arguments`; blocks until the platform decides.

        Returns:
            The arguments to send, every redaction applied (None when there were none).

        Raises:
            ToolDeniedException: denied, by policy or failing closed; nothing may be sent.
            ToolPendingApprovalException: held for a person's approval; nothing may be sent.
        """
        body = _json_arguments(tool, arguments)
        try:
            decision = self._tools.authorize_mcp(tool, body)
        except Exception as exc:  # noqa: BLE001 - a gate that fails, fails closed
            decision = ToolDecision.deny(f"tool authorization failed: {exc}", "sdk_error")
        _mark_pending(decision, tool)
        raise_unless_allowed(decision)
        return _approved_arguments(decision, body)

    async def check_async(
        self, tool: str, arguments: Mapping[str, object] | None
    ) -> dict[str, object] | None:
        """The coroutine twin of `check` (what the MCP instrumentation awaits)."""
        body = _json_arguments(tool, arguments)
        try:
            decision = await self._tools.authorize_mcp_async(tool, body)
        except Exception as exc:  # noqa: BLE001 - a gate that fails, fails closed
            decision = ToolDecision.deny(f"tool authorization failed: {exc}", "sdk_error")
        _mark_pending(decision, tool)
        raise_unless_allowed(decision)
        return _approved_arguments(decision, body)


class _DenyAllGate:
    """Governance was asked for but cannot work: every tool call is denied (fail closed)."""

    def __init__(self, problem: str) -> None:
        self._problem = problem

    async def check_async(
        self, tool: str, arguments: Mapping[str, object] | None
    ) -> Mapping[str, object] | None:
        raise ToolDeniedException(
            f"MCP governance is on but Tracengent is not configured: {self._problem}",
            None,
            "not_configured",
        )


def mcp_hooks(
    options: TracengentOptions,
    *,
    tracer: Tracer,
    govern: bool = True,
    platform: PlatformClient | None = None,
    async_platform: AsyncPlatformClient | None = None,
    recorder: Recorder | None = None,
) -> MCPHooks:
    """The gate and payload hook for `TracengentMCPInstrumentor`, from `options`.

    Args:
        options: validated options (capture switch, scrub patterns, governance deadline).
        tracer: records each decision as a governance span.
        govern: False: calls are traced, not authorized.
        platform: the blocking platform client (default: a new one for `options`).
        async_platform: the coroutine platform client (default: a new one for `options`).
        recorder: the deciding client's (as for its own `ToolGate`): while another agent's
            decision trace is current, a decision names no trace and its governance span is
            not that trace's. None (zero code): the current decision trace is named.

    Raises:
        TracengentConfigError: `options` are invalid.
    """
    writer = MCPPayloadWriter(
        Scrubber(capture_payloads=options.capture_payloads, patterns=options.scrub_patterns)
    )
    if not govern:
        return MCPHooks(payload_hook=writer)
    # Made here (zero code), they reset themselves after a fork.
    platform, async_platform = gate_platform_clients(options, platform, async_platform)
    tools = ToolGate(
        options,
        platform=platform,
        async_platform=async_platform,
        tracer=tracer,
        recorder=recorder,
    )
    return MCPHooks(gate=MCPGovernor(tools), payload_hook=writer)


def instrument_mcp(
    options: TracengentOptions,
    *,
    tracer: Tracer,
    tracer_provider: trace.TracerProvider | None = None,
    govern: bool = True,
    platform: PlatformClient | None = None,
    async_platform: AsyncPlatformClient | None = None,
    recorder: Recorder | None = None,
) -> TracengentMCPInstrumentor:
    """Instrument the MCP client SDK with `mcp_hooks(...)`; undo with `.uninstrument()`.

    `TracengentMCPInstrumentor` is a process-wide singleton. When MCP is instrumented already
    (by `opentelemetry-instrument`, another client, an earlier call), `govern=True` puts this
    gate in force in that instrumentation (`use_gate`), replacing any other gate; its tracing is
    left as it is. `govern=False` then changes nothing: it never removes a gate. The result's
    `uninstrument()` undoes the MCP instrumentation of the whole process, whoever made it.

    Raises:
        TracengentConfigError: `options` are invalid.
    """
    hooks = mcp_hooks(
        options,
        tracer=tracer,
        govern=govern,
        platform=platform,
        async_platform=async_platform,
        recorder=recorder,
    )
    instrumentor = TracengentMCPInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(
            tracer_provider=tracer_provider,
            gate=hooks.gate,
            payload_hook=hooks.payload_hook,
            # OTel's version check only logs an error and patches nothing for an `mcp` outside
            # `_instruments`: asked-for governance would be off and every call sent unchecked.
            # The patch needs nothing but the `call_tool` methods the installed `mcp` has.
            skip_dep_check=hooks.gate is not None,
        )
        if hooks.gate is not None and instrumentor.is_instrumented_by_opentelemetry:
            # Another thread may have instrumented first (this `instrument()` then changed
            # nothing): the gate asked for is put in force either way.
            instrumentor.use_gate(hooks.gate)
    elif hooks.gate is not None:
        # `instrument()` would only log "already instrumented": the governance asked for must
        # be in force all the same.
        previous = instrumentor.use_gate(hooks.gate)
        _LOGGER.info(
            "tracengent: MCP was instrumented already (%s); its tool calls are now authorized "
            "through this client",
            "without governance" if previous is None else "its gate replaced",
        )
    return instrumentor


def mcp_governed_from_environment() -> bool:
    """`TRACENGENT_GOVERN_MCP`: unset or blank, False; not a boolean, True (with one warning per
    process)."""
    try:
        # Blank is unset: not governed, as the switch's default.
        return flag_from_environment(env.TRACENGENT_GOVERN_MCP, default=False)
    except TracengentConfigError:
        # Someone meant to set the switch: an unreadable value governs rather than lets calls by.
        raw = os.environ.get(env.TRACENGENT_GOVERN_MCP, "")
        with _UNREADABLE_SWITCHES_LOCK:
            first = raw not in _UNREADABLE_SWITCHES_WARNED
            _UNREADABLE_SWITCHES_WARNED.add(raw)
        if first:
            _LOGGER.warning(
                "tracengent: %s=%r is not a boolean; governing MCP calls",
                env.TRACENGENT_GOVERN_MCP,
                raw,
            )
        return True


def warn_if_mcp_cannot_be_governed() -> bool:
    """Zero code: warn when `TRACENGENT_GOVERN_MCP` asks for governance but the installed `mcp`
    is older than Tracengent's MCP instrumentation supports. `opentelemetry-instrument` then
    skips the instrumentation after a dependency check it only logs, so no gate would ever see
    a tool call. Whether it warned; never raises.
    """
    try:
        if not mcp_governed_from_environment():
            return False
        from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

        from opentelemetry.instrumentation.tracengent_mcp.package import _instruments

        conflict = get_dependency_conflicts(_instruments)
        if conflict is None or conflict.found is None:
            return False  # supported, or no `mcp` at all: no MCP tool call to govern
        _LOGGER.warning(
            "tracengent: %s=true, but %s is installed and Tracengent's MCP instrumentation needs "
            "%s: opentelemetry-instrument skips it, so MCP tool calls are neither traced nor "
            "governed; upgrade mcp",
            env.TRACENGENT_GOVERN_MCP,
            conflict.found,
            conflict.required,
        )
        return True
    except Exception:  # a check must not stop the application
        _LOGGER.warning("tracengent: could not check the installed mcp version", exc_info=True)
        return False


def zero_code_mcp_hooks() -> MCPHooks | None:
    """The `tracengent_mcp_hooks` entry point: the hooks of the zero-code set-up.

    None when zero-code configuration did not run and `TRACENGENT_GOVERN_MCP` is off (MCP calls
    are then traced without payloads), or when `TRACENGENT_DISABLED`. Governance the switch
    asks for is read from the environment even when another configurator ran instead of
    Tracengent's. Never raises: when governance is on and the hooks cannot be built, every call
    is denied.
    """
    govern = mcp_governed_from_environment()
    try:
        # Governance the environment asks for never depends on which configurator ran. Reading
        # it may fail (a setting the options' own parsing refuses with a plain error): a factory
        # that raised would be skipped by `load_hooks`, and every call would go out ungoverned.
        state = governance_state() if govern else _state.zero_code()
        if state is None:
            return None
        options, problem = state
        if options is None:
            writer = MCPPayloadWriter(scrubber_for(None))
            gate = _DenyAllGate(problem or "invalid settings") if govern else None
            return MCPHooks(gate=gate, payload_hook=writer)
        return mcp_hooks(options, tracer=trace.get_tracer(_INSTRUMENTATION_SCOPE), govern=govern)
    except Exception as exc:  # noqa: BLE001 - an entry point must not stop the application
        _LOGGER.warning(
            "tracengent: MCP hooks could not be built: %s%s",
            exc,
            "; governed MCP tool calls are denied" if govern else "",
        )
        return MCPHooks(gate=_DenyAllGate(str(exc) or type(exc).__name__)) if govern else None
