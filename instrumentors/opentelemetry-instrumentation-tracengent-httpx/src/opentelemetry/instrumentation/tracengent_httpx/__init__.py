"""OpenTelemetry httpx instrumentation that gates egress before a request leaves.

`TracengentHTTPXInstrumentor` gates every httpx client of the process; `GatedTransport` and
`AsyncGatedTransport` gate one client. Both ask an `EgressGate`, given to them or registered under
the `tracengent_egress_gate` entry point group; this package knows nothing of any platform.
"""

from opentelemetry.instrumentation.tracengent_httpx.gate import (
    ENTRY_POINT_GROUP,
    EgressGate,
    load_gate,
)
from opentelemetry.instrumentation.tracengent_httpx.instrumentor import (
    TracengentHTTPXInstrumentor,
)
from opentelemetry.instrumentation.tracengent_httpx.transports import (
    AsyncGatedTransport,
    GatedTransport,
)
from opentelemetry.instrumentation.tracengent_httpx.version import __version__

__all__ = [
    "ENTRY_POINT_GROUP",
    "AsyncGatedTransport",
    "EgressGate",
    "GatedTransport",
    "TracengentHTTPXInstrumentor",
    "__version__",
    "load_gate",
]
