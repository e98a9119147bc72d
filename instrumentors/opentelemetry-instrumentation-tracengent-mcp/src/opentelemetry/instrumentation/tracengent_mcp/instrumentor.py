"""`TracengentMCPInstrumentor`: trace, govern and propagate every MCP `tools/call` of the process.

It replaces `mcp.ClientSession.call_tool` (every transport's client session: stdio, streamable
HTTP, SSE, in-memory) and, when the SDK has it, `mcp.Client.call_tool` (which may send several
`tools/call` rounds for one call: that is still one span and one authorization). `uninstrument()`
puts the very same function objects back. `use_gate()` governs an instrumentation already active.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.trace import get_tracer

from opentelemetry.instrumentation.tracengent_mcp._flow import (
    CallToolMethod,
    ToolCallState,
    call_tool_traced,
)
from opentelemetry.instrumentation.tracengent_mcp.hooks import (
    MCPHooks,
    PayloadHook,
    ToolCallGate,
    load_hooks,
)
from opentelemetry.instrumentation.tracengent_mcp.package import _instruments
from opentelemetry.instrumentation.tracengent_mcp.version import __version__

__all__ = ["TracengentMCPInstrumentor"]

_logger = logging.getLogger(__name__)


class _Target(NamedTuple):
    """A class whose `call_tool` is replaced; one the installed SDK lacks is skipped."""

    module: str
    name: str
    sends_through_session: bool
    """Its `call_tool` sends the call through `self.session.call_tool` (`mcp.Client`)."""


_TARGETS: Final = (
    _Target("mcp.client.session", "ClientSession", sends_through_session=False),
    _Target("mcp.client.client", "Client", sends_through_session=True),
)
_METHOD: Final = "call_tool"


@dataclass(frozen=True)
class _Replacement:
    owner: type
    original: object
    patched: object


def _accepts_meta(method: CallToolMethod) -> bool:
    try:
        return "meta" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _session_of(client: object) -> object | None:
    """The `ClientSession` an `mcp.Client` sends through; None while it is not entered."""
    try:
        return getattr(client, "session", None)
    except Exception:  # noqa: BLE001 - `Client.session` raises outside `async with`
        return None


def _bound(original: CallToolMethod, instance: object) -> CallToolMethod:
    """`original` bound to `instance` as attribute access binds it (the descriptor protocol).

    `original` may be another instrumentation's wrapper applied before ours (a `wrapt`
    `FunctionWrapper`, as OTel contrib's MCP instrumentation installs): called with the session
    as its first argument (`functools.partial`) it would take it for the tool's name and get no
    instance. Bound, it sees the session and the call's own arguments.
    """
    get = getattr(original, "__get__", None)
    if not callable(get):
        return functools.partial(original, instance)
    bound: CallToolMethod = get(instance, type(instance))
    return bound


def _patched_call_tool(
    state: ToolCallState, original: CallToolMethod, *, sends_through_session: bool
) -> CallToolMethod:
    # Older SDKs have no `meta` keyword: the trace context is then not propagated.
    accepts_meta = _accepts_meta(original)

    @functools.wraps(original)
    async def call_tool(self: object, *args: Any, **kwargs: Any) -> Any:
        return await call_tool_traced(
            state,
            _bound(original, self),
            args,
            kwargs,
            accepts_meta=accepts_meta,
            session=None if sends_through_session else self,
            drives=_session_of(self) if sends_through_session else None,
        )

    return call_tool


def _owners() -> list[tuple[type, _Target]]:
    owners: list[tuple[type, _Target]] = []
    for target in _TARGETS:
        try:
            module = importlib.import_module(target.module)
        except ImportError:
            continue
        owner = getattr(module, target.name, None)
        if isinstance(owner, type) and callable(vars(owner).get(_METHOD)):
            owners.append((owner, target))
    return owners


class TracengentMCPInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Makes each MCP `tools/call` an `execute_tool` span, authorized first when a gate is given.

    `instrument()` keyword arguments:

    - `tracer_provider`: where spans go (default: the global provider);
    - `gate`: a `ToolCallGate` awaited before each call (deny: it raises, nothing is sent);
    - `payload_hook`: a `PayloadHook` writing arguments and results onto the span.

    When neither `gate` nor `payload_hook` is passed, both are taken from the
    `tracengent_mcp_hooks` entry point group (what `opentelemetry-instrument` does). Every call
    carries the W3C trace context in `params._meta`. `instrument()` is idempotent (OTel's
    `BaseInstrumentor` contract: a second call changes nothing, its `gate` included; `use_gate()`
    governs an active instrumentation) and `uninstrument()` restores the SDK's own methods. The
    instrumentor is a process-wide singleton: `uninstrument()` undoes the instrumentation whoever
    made it. `instrument()` and `uninstrument()` are thread-safe.

    Raises:
        TypeError: from `instrument()` when `gate` or `payload_hook` has the wrong type.
    """

    _state: ToolCallState | None = None
    _replacements: tuple[_Replacement, ...] = ()
    # `BaseInstrumentor` tests and sets its "instrumented" flag unlocked: two threads
    # instrumenting at once would both patch (the second wrapping the first, which
    # `uninstrument()` would then leave in place, armed).
    _lock: Final = threading.RLock()

    def instrument(self, **kwargs: Any) -> Any:
        """`BaseInstrumentor.instrument`, one thread at a time (see the class docstring)."""
        with self._lock:
            return super().instrument(**kwargs)

    def uninstrument(self, **kwargs: Any) -> Any:
        """`BaseInstrumentor.uninstrument`, one thread at a time."""
        with self._lock:
            return super().uninstrument(**kwargs)

    def instrumentation_dependencies(self) -> Collection[str]:
        """The `mcp` versions this instrumentation applies to."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        gate = kwargs.get("gate")
        payload_hook = kwargs.get("payload_hook")
        if "gate" not in kwargs and "payload_hook" not in kwargs:
            hooks = load_hooks()
            gate, payload_hook = hooks.gate, hooks.payload_hook
        _check_hooks(MCPHooks(gate=gate, payload_hook=payload_hook))
        tracer = get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider"))
        state = ToolCallState(tracer, gate, payload_hook)
        replacements: list[_Replacement] = []
        for owner, target in _owners():
            original = vars(owner)[_METHOD]
            patched = _patched_call_tool(
                state, original, sends_through_session=target.sends_through_session
            )
            setattr(owner, _METHOD, patched)
            replacements.append(_Replacement(owner, original, patched))
        self._state = state
        self._replacements = tuple(replacements)

    def use_gate(self, gate: ToolCallGate) -> ToolCallGate | None:
        """Make `gate` authorize every tool call from now on, in the active instrumentation.

        What `instrument(gate=...)` does, for an instrumentation made already (by
        `opentelemetry-instrument`, say): the gate is swapped in one step, so each call is
        authorized by the previous gate or by this one, never by none. Tracing (provider,
        payload hook) is left as it is. Blocks only while another thread instruments or uninstruments.

        Returns:
            The gate it replaces; None when calls were traced, not governed.

        Raises:
            RuntimeError: not instrumented (call `instrument(gate=...)`).
            TypeError: `gate` does not implement `ToolCallGate`.
        """
        _check_hooks(MCPHooks(gate=gate))
        # Under the instrument/uninstrument lock: never set on a state an `uninstrument()` in
        # another thread has just discarded while a fresh `instrument()` made the active one.
        with self._lock:
            state = self._state
            if state is None or not state.active:
                raise RuntimeError("MCP is not instrumented: call instrument(gate=...) instead")
            previous = state.gate
            state.gate = gate
        return previous

    def _uninstrument(self, **kwargs: Any) -> None:
        state, self._state = self._state, None
        replacements, self._replacements = self._replacements, ()
        if state is not None:
            # Disarm first: a replacement someone else wrapped over stays, but passes through.
            state.active = False
        for replacement in replacements:
            current = vars(replacement.owner).get(_METHOD)
            if current is replacement.patched:
                setattr(replacement.owner, _METHOD, replacement.original)
            else:
                _logger.info(
                    "%s.%s was wrapped again after instrumentation; left in place, disarmed",
                    replacement.owner.__name__,
                    _METHOD,
                )


def _check_hooks(hooks: MCPHooks) -> None:
    if hooks.gate is not None and not isinstance(hooks.gate, ToolCallGate):
        raise TypeError(f"gate must implement ToolCallGate, got {type(hooks.gate).__name__}")
    if hooks.payload_hook is not None and not isinstance(hooks.payload_hook, PayloadHook):
        raise TypeError(
            f"payload_hook must implement PayloadHook, got {type(hooks.payload_hook).__name__}"
        )
