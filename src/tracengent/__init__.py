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
from tracengent._version import __version__

__all__ = [
    "MASK_TOKEN",
    "Actor",
    "AgentEvent",
    "AuthDecision",
    "AuthObligations",
    "DelegationException",
    "EventStatuses",
    "EventTypes",
    "JsonValue",
    "LlmCallResult",
    "Money",
    "NotAuthorizedException",
    "Redaction",
    "ToolDecision",
    "ToolDeniedException",
    "ToolPendingApprovalException",
    "TracengentConfigError",
    "TracengentError",
    "TracengentOptions",
    "Usage",
    "__version__",
    "apply_redactions",
    "new_id",
    "permission_matches",
]
