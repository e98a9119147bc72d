"""Typed rows the `PlatformStore` returns (read-only snapshots of what the platform stored)."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.exporter.tracengent.errors import TracengentError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject

__all__ = [
    "AgentCounters",
    "ApprovalRecord",
    "DecisionRecord",
    "GrantRecord",
    "IngestResult",
    "StoreError",
    "StoredEvent",
    "TokenUsage",
    "TraceRecord",
]


class StoreError(TracengentError):
    """A store operation was refused (unknown id, approval already decided, ...)."""


@dataclass(frozen=True)
class StoredEvent:
    """One ingested event: the wire object as received, who sent it, and when.

    `agent_id` is the authenticated sender; ingest replaced a body `agentId` that named another.
    """

    seq: int
    agent_id: str
    received_at: str
    body: JsonObject


@dataclass(frozen=True)
class TraceRecord:
    """A decision trace of one agent: its close (if received) and its events in the order received.

    `agent_id` is the authenticated sender; `status` is the close's status, or `"open"` while no
    close was received.
    """

    trace_id: str
    agent_id: str
    root_request: str | None
    status: str
    summary: str | None
    events: list[StoredEvent]
    close: JsonObject | None

    def to_json(self) -> JsonObject:
        """`{"traceId", "agentId", "rootRequest", "status", "summary", "events"}`."""
        return {
            "traceId": self.trace_id,
            "agentId": self.agent_id,
            "rootRequest": self.root_request,
            "status": self.status,
            "summary": self.summary,
            "events": [e.body for e in self.events],
        }


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval a person decides: `pending` until approved, denied, or expired."""

    approval_id: str
    agent_id: str
    permission: str
    context: JsonObject
    amount: float | None
    currency: str | None
    trace_id: str | None
    created_at: str
    status: str
    decided_at: str | None
    used_at: str | None = None
    """When a retry of the held tool call it approved was allowed (each approval allows one)."""
    acting_for: str | None = None
    """The agent a delegated token acted for when the decision was held (None: the agent's own
    authority); only a token acting for the same agent reads or uses it."""

    def to_json(self) -> JsonObject:
        """The approval as `GET /v1/approvals/{id}` answers it (nulls omitted)."""
        wire: JsonObject = {
            "status": self.status,
            "approvalId": self.approval_id,
            "permission": self.permission,
            "agentId": self.agent_id,
            "context": self.context,
            "createdAt": self.created_at,
        }
        for key, value in (
            ("amount", self.amount),
            ("currency", self.currency),
            ("traceId", self.trace_id),
            ("decidedAt", self.decided_at),
            ("usedAt", self.used_at),
            ("actingFor", self.acting_for),
        ):
            if value is not None:
                wire[key] = value
        return wire


@dataclass(frozen=True)
class DecisionRecord:
    """One stored decision (`kind` is `authorize` or `tool`) and the reason given."""

    decision_id: str
    agent_id: str
    kind: str
    permission: str | None
    status: str
    outcome: str | None
    reason: str
    trace_id: str | None
    approval_id: str | None
    acting_for: str | None
    request: JsonObject
    created_at: str


@dataclass(frozen=True)
class GrantRecord:
    """A delegation grant: `to_agent` may act for the chain's first agent within `permissions`."""

    grant_id: str
    parent_id: str | None
    from_agent: str
    to_agent: str
    permissions: list[str]
    max_amount: float | None
    expires_at_s: float
    chain: list[str]
    reason: str | None
    created_at: str

    @property
    def acting_for(self) -> str:
        """The agent at the root of the delegation chain."""
        return self.chain[0] if self.chain else self.from_agent


@dataclass(frozen=True)
class AgentCounters:
    """Ingest counters of one agent (what a console shows next to its traces)."""

    events_received: int = 0
    events_stored: int = 0
    duplicates_ignored: int = 0
    trace_closes_received: int = 0
    batches_rejected: int = 0
    rejection_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestResult:
    """What one accepted batch did: events stored and duplicates ignored."""

    stored: int
    duplicates: int


@dataclass(frozen=True)
class TokenUsage:
    """An agent's LLM tokens: counted from `llm_call` events, and reserved by open authorizations."""

    used: int
    reserved: int
