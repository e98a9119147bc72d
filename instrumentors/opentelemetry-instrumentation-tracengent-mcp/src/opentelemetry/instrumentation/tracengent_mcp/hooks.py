"""What the MCP instrumentation asks of the outside world, and how it is discovered.

This distribution knows nothing of any platform. Two roles are plugged in:

- a `ToolCallGate` authorizes each `tools/call` before it is sent (governance); it raises its own
  exception to stop the call, or returns the arguments to send (possibly redacted);
- a `PayloadHook` decides how tool arguments and results are written onto the span (capture
  switch, scrubbing); without one no payload is recorded at all.

Both are given to `TracengentMCPInstrumentor().instrument(gate=..., payload_hook=...)`, or come
from a factory registered under the `tracengent_mcp_hooks` entry point group (how zero-code
`opentelemetry-instrument` finds them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Final, Protocol, runtime_checkable

__all__ = ["ENTRY_POINT_GROUP", "MCPHooks", "PayloadHook", "ToolCallGate", "load_hooks"]

_logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final = "tracengent_mcp_hooks"
"""Entry point group naming a zero-argument callable that returns `MCPHooks` or None."""


@runtime_checkable
class ToolCallGate(Protocol):
    """Decides whether an MCP tool call may be sent, and with which arguments.

    It is awaited while the tool call's `execute_tool` span is the current span, except while
    OTel instrumentation is suppressed: the call then has no span, and the current span is the
    caller's own (not the call's to annotate). Whatever it raises reaches the application
    unchanged and nothing is sent to the server: a gate that fails, fails closed.
    """

    async def check_async(
        self, tool: str, arguments: Mapping[str, object] | None
    ) -> Mapping[str, object] | None:
        """Authorize calling `tool` with `arguments`.

        `arguments` are JSON-native, as the SDK would send them (pydantic's JSON mode: a date as
        its ISO text, a tuple as a list), unless the SDK could not send them either.

        Returns:
            The arguments to send: `arguments` itself, or a redacted copy.

        Raises:
            Exception: the gate's own exception when the call must not be made.
        """
        ...


@runtime_checkable
class PayloadHook(Protocol):
    """Turns a tool call's arguments or result into the text recorded on its span.

    A hook may also define `exception_attributes(error) -> Mapping[str, AttributeValue]`: a
    failed call's span then records the exception with those attributes (in place of its
    message and stacktrace, which may name the tool's credentials) and a status naming only the
    exception's type. Without it, the exception is recorded as OTel records it.
    """

    def payload_text(self, value: object) -> str | None:
        """The text to record for `value` (JSON-native data), or None to record nothing.

        Must not block. An exception is caught by the instrumentation and the value dropped.
        """
        ...


@dataclass(frozen=True)
class MCPHooks:
    """The gate and payload hook a factory under `ENTRY_POINT_GROUP` hands the instrumentation.

    Attributes:
        gate: authorizes each tool call first; None: calls are traced, not governed.
        payload_hook: writes arguments and results; None: they are not recorded.
    """

    gate: ToolCallGate | None = None
    payload_hook: PayloadHook | None = None


def load_hooks() -> MCPHooks:
    """Build the hooks registered under `ENTRY_POINT_GROUP`.

    The first entry point (by name) whose factory returns `MCPHooks` wins. A factory that fails
    or returns something else is logged and skipped: discovery never raises, and with nothing
    registered calls are traced without governance or payloads.
    """
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            factory: Callable[[], object] = entry_point.load()
            hooks = factory()
        except Exception:
            # A broken third-party factory must not stop the application from starting.
            _logger.warning("MCP hooks entry point %r failed", entry_point.name, exc_info=True)
            continue
        if hooks is None:
            continue
        if isinstance(hooks, MCPHooks):
            return hooks
        _logger.warning(
            "MCP hooks entry point %r returned %s, not MCPHooks",
            entry_point.name,
            type(hooks).__name__,
        )
    return MCPHooks()
