"""The embedded local Tracengent platform (`tracengent dev`): the whole wire contract on loopback.

`LocalPlatform` serves it in-process (tests, the demo); `PlatformStore` reads what it stored and
decides approvals; `load_policy` / `default_policy` give the policy it decides by (schema in
POLICY.md). Serving needs the `platform` extra (`pip install 'tracengent[platform]'`).
"""

from tracengent.platform._defaults import DEFAULT_POLICY_TOML, default_policy
from tracengent.platform._delegation import DelegationRefused, create_grant
from tracengent.platform._policy import (
    AgentPolicy,
    EgressPolicy,
    EgressRoute,
    PermissionRule,
    Policy,
    PolicyError,
    ToolBinding,
    load_policy,
    parse_policy,
)
from tracengent.platform._records import (
    AgentCounters,
    ApprovalRecord,
    DecisionRecord,
    GrantRecord,
    IngestResult,
    StoredEvent,
    StoreError,
    TokenUsage,
    TraceRecord,
)
from tracengent.platform._server import LocalPlatform
from tracengent.platform.store import PlatformStore

__all__ = [
    "DEFAULT_POLICY_TOML",
    "AgentCounters",
    "AgentPolicy",
    "ApprovalRecord",
    "DecisionRecord",
    "DelegationRefused",
    "EgressPolicy",
    "EgressRoute",
    "GrantRecord",
    "IngestResult",
    "LocalPlatform",
    "PermissionRule",
    "PlatformStore",
    "Policy",
    "PolicyError",
    "StoreError",
    "StoredEvent",
    "TokenUsage",
    "ToolBinding",
    "TraceRecord",
    "create_grant",
    "default_policy",
    "load_policy",
    "parse_policy",
]
