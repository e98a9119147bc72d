"""Tracengent for Python: decision traces and governance for AI agents, on OpenTelemetry.

The names below are the public API (0.1.0's names keep their meaning); everything else lives in
private modules.
"""

from opentelemetry.exporter.tracengent.attributes import EventStatuses, EventTypes
from opentelemetry.exporter.tracengent.errors import (
    DelegationException,
    NotAuthorizedException,
    ToolDeniedException,
    ToolPendingApprovalException,
    TracengentConfigError,
    TracengentError,
)
from opentelemetry.exporter.tracengent.ids import new_id
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.permissions import permission_matches
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN, Redaction, apply_redactions
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.wire import (
    Actor,
    AgentEvent,
    AuthDecision,
    AuthObligations,
    LlmCallResult,
    Money,
    ToolDecision,
    Usage,
)
from tracengent._client import TracengentClient
from tracengent._gateway import (
    AsyncGatewayTransport,
    GatewayTransport,
    governed_async_client,
    governed_client,
)
from tracengent._governance.delegation import DelegatedSession
from tracengent._governance.tools import ToolGate, ToolGuardResult
from tracengent._trace import AgentTrace, current_trace
from tracengent._tracking import (
    AsyncTrackingTransport,
    TrackingTransport,
    tracked_async_client,
    tracked_client,
)
from tracengent._version import __version__

__all__ = [
    "MASK_TOKEN",
    "Actor",
    "AgentEvent",
    "AgentTokenProvider",
    "AgentTrace",
    "AsyncGatewayTransport",
    "AsyncTrackingTransport",
    "AuthDecision",
    "AuthObligations",
    "DelegatedSession",
    "DelegationException",
    "EventStatuses",
    "EventTypes",
    "GatewayTransport",
    "JsonValue",
    "LlmCallResult",
    "Money",
    "NotAuthorizedException",
    "Redaction",
    "ToolDecision",
    "ToolDeniedException",
    "ToolGate",
    "ToolGuardResult",
    "ToolPendingApprovalException",
    "TracengentClient",
    "TracengentConfigError",
    "TracengentError",
    "TracengentOptions",
    "TrackingTransport",
    "Usage",
    "__version__",
    "apply_redactions",
    "current_trace",
    "governed_async_client",
    "governed_client",
    "new_id",
    "permission_matches",
    "tracked_async_client",
    "tracked_client",
]
