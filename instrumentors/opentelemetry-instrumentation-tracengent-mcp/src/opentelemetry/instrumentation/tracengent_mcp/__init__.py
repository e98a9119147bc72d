"""OpenTelemetry instrumentation of the MCP Python SDK's client: trace and govern `tools/call`.

`TracengentMCPInstrumentor` makes every `ClientSession.call_tool` an `execute_tool` span,
authorizes it first through a `ToolCallGate` when one is given, and carries the W3C trace
context in `params._meta`. On the server side, `extract_context` and `joined_trace` let a tool
handler join the caller's trace. This package knows nothing of any platform.
"""

from opentelemetry.instrumentation.tracengent_mcp.hooks import (
    ENTRY_POINT_GROUP,
    MCPHooks,
    PayloadHook,
    ToolCallGate,
    load_hooks,
)
from opentelemetry.instrumentation.tracengent_mcp.instrumentor import TracengentMCPInstrumentor
from opentelemetry.instrumentation.tracengent_mcp.propagation import (
    extract_context,
    inject_context,
    joined_trace,
)
from opentelemetry.instrumentation.tracengent_mcp.version import __version__

__all__ = [
    "ENTRY_POINT_GROUP",
    "MCPHooks",
    "PayloadHook",
    "ToolCallGate",
    "TracengentMCPInstrumentor",
    "__version__",
    "extract_context",
    "inject_context",
    "joined_trace",
    "load_hooks",
]
