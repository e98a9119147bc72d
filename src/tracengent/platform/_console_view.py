"""What the web console shows, as JSON-ready views of the store (no HTML here).

Everything an agent sent is untrusted: values are passed through as data (the HTML renderer
escapes them); nothing here is interpreted beyond picking fields by name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from tracengent.platform._records import (
    AgentCounters,
    ApprovalRecord,
    DecisionRecord,
    StoredEvent,
)
from tracengent.platform._tree import event_tree, number
from tracengent.platform.store import PlatformStore, TraceHead, TracePage

__all__ = [
    "EVENT_TYPES",
    "MAX_PENDING_APPROVALS",
    "TRACE_STATUSES",
    "ConsoleFilters",
    "ConsoleState",
    "approval_view",
    "counters_view",
    "event_view",
    "load_state",
    "otel_trace_id",
    "trace_anchor",
    "trace_view",
]

EVENT_TYPES: Final = ("action", "tool_call", "llm_call", "decision", "error", "lifecycle")
"""The event types of the wire contract, offered by the console's type filter."""

TRACE_STATUSES: Final = ("open", "completed", "failed")
"""Trace statuses offered by the status filter (a close may carry others; they are listed too)."""

MAX_TRACES: Final = 100
"""The console shows at most this many traces (newest first) after filtering."""

MAX_STANDALONE_EVENTS: Final = 50
"""... and at most this many standalone events (newest first)."""

MAX_TRACE_EVENTS: Final = 100
"""... and of each trace, at most its first this many events received (a note counts the rest)."""

MAX_TRACE_DECISIONS: Final = 100
"""... and at most its first this many governance decisions (a note counts the rest)."""

MAX_PENDING_APPROVALS: Final = 100
"""... and at most the oldest this many pending approvals (a note counts the rest)."""

_EVENT_STATUS_OF: Final = {"open": "pending", "completed": "success", "failed": "failure"}
"""The event status of the same outcome as a trace status (the status filter offers trace
statuses; a standalone event has an event status)."""

_TRACE_ID: Final = re.compile(r"^trc_([0-9a-f]{32})([0-9a-f]{16})$")


def otel_trace_id(trace_id: str | None) -> str | None:
    """The 32-hex OTel trace id inside a Tracengent `trc_<32 hex><16 hex>` id, else None."""
    match = _TRACE_ID.match(trace_id or "")
    return match.group(1) if match else None


def trace_anchor(agent_id: str, trace_id: str) -> str:
    """The HTML id of one agent's trace on the page (what an approval's link points at).

    Two agents may send the same `traceId` (two traces, see `PlatformStore.traces`): the id is
    made of both, hashed so that any text an agent sent makes a valid id and URL fragment.
    """
    pair = json.dumps([agent_id, trace_id]).encode()
    return "trace-" + hashlib.sha256(pair).hexdigest()[:24]


def _text(value: JsonValue) -> str | None:
    """A displayable string for a scalar JSON value (None stays None; objects become None)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ConsoleFilters:
    """The trace filters a person picked (empty string: any)."""

    agent: str = ""
    status: str = ""
    event_type: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ConsoleFilters:
        """Filters from the page's query string (`agent`, `status`, `type`)."""
        return cls(
            agent=query.get("agent", "").strip(),
            status=query.get("status", "").strip(),
            event_type=query.get("type", "").strip(),
        )

    @property
    def event_status(self) -> str:
        """The status the standalone events are filtered by: the event status of the same outcome
        as a trace status (`failed`: `failure`, `completed`: `success`, `open`: `pending`), else
        the status as given."""
        return _EVENT_STATUS_OF.get(self.status, self.status)

    def keeps_trace(self, head: TraceHead, typed: Container[tuple[str, str]]) -> bool:
        """Whether a trace passes: its agent, its status, and an event of the type (`typed`:
        the `(agent, trace)` of the traces holding one; unused without a type filter)."""
        # The authenticated sender: a body `agentId` is only what the agent claimed.
        if self.agent and head.agent_id != self.agent:
            return False
        if self.status and head.status != self.status:
            return False
        return not self.event_type or (head.agent_id, head.trace_id) in typed


def event_view(depth: int, event: StoredEvent) -> JsonObject:
    """One row of a trace tree: type, name, status, duration, cost, tokens (absent: null)."""
    body = event.body
    cost = body.get("cost")
    usage = body.get("usage")
    amount = number(cost.get("amount")) if isinstance(cost, dict) else None
    tokens = number(usage.get("tokens")) if isinstance(usage, dict) else None
    return {
        "depth": depth,
        "eventId": _text(body.get("eventId")),
        "type": _text(body.get("type")),
        "name": _text(body.get("name")),
        "status": _text(body.get("status")),
        "occurredAt": _text(body.get("occurredAt")),
        "receivedAt": event.received_at,
        "durationMs": number(body.get("durationMs")),
        "cost": None
        if amount is None or not isinstance(cost, dict)
        else {"amount": amount, "currency": _text(cost.get("currency"))},
        "tokens": None if tokens is None else int(tokens),
        "model": _text(usage.get("model")) if isinstance(usage, dict) else None,
    }


def _decision_view(decision: DecisionRecord, approval_status: Mapping[str, str]) -> JsonObject:
    return {
        "decisionId": decision.decision_id,
        "kind": decision.kind,
        "permission": decision.permission,
        "status": decision.status,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "approvalId": decision.approval_id,
        "approvalStatus": approval_status.get(decision.approval_id or ""),
        "actingFor": decision.acting_for,
        "createdAt": decision.created_at,
    }


def trace_view(
    page: TracePage,
    decisions: Sequence[DecisionRecord],
    approval_status: Mapping[str, str] | None = None,
    *,
    decision_count: int | None = None,
) -> JsonObject:
    """A trace with the tree of the events read (depth first) and the decisions taken inside it.

    `approval_status` maps approval ids to their status (a decision that asked for one shows it).
    `eventCount` and `decisionCount` (default: the decisions given) count the whole trace's.
    """
    trace = page.trace
    events = [event_view(depth, event) for depth, event in event_tree(trace.events)]
    return {
        "traceId": trace.trace_id,
        "otelTraceId": otel_trace_id(trace.trace_id),
        "anchor": trace_anchor(trace.agent_id, trace.trace_id),
        "agentId": trace.agent_id,
        "rootRequest": trace.root_request,
        "status": trace.status,
        "summary": trace.summary,
        "lastReceivedAt": page.last_received_at,
        "events": list[JsonValue](events),
        "eventCount": page.event_count,
        "decisions": [_decision_view(d, approval_status or {}) for d in decisions],
        "decisionCount": len(decisions) if decision_count is None else decision_count,
    }


def approval_view(approval: ApprovalRecord) -> JsonObject:
    """A pending approval: what is asked, by which agent, inside which trace."""
    view = approval.to_json()
    view["amount"] = approval.amount
    view["currency"] = approval.currency
    view["traceId"] = approval.trace_id
    view["otelTraceId"] = otel_trace_id(approval.trace_id)
    view["traceAnchor"] = (
        None if approval.trace_id is None else trace_anchor(approval.agent_id, approval.trace_id)
    )
    return view


def counters_view(counters: Mapping[str, AgentCounters]) -> JsonObject:
    """Ingest counters per agent (sorted by agent id), rejection reasons included."""
    return {
        agent: {
            "eventsReceived": c.events_received,
            "eventsStored": c.events_stored,
            "duplicatesIgnored": c.duplicates_ignored,
            "traceClosesReceived": c.trace_closes_received,
            "batchesRejected": c.batches_rejected,
            "rejectionReasons": dict[str, JsonValue](sorted(c.rejection_reasons.items())),
        }
        for agent, c in sorted(counters.items())
    }


@dataclass(frozen=True)
class ConsoleState:
    """One consistent-enough read of everything the console shows."""

    traces: list[JsonObject]
    traces_total: int
    standalone_events: list[JsonObject]
    approvals: list[JsonObject]
    approvals_total: int
    counters: JsonObject
    agents: list[str]
    statuses: list[str]
    standalone_more: bool = False
    """Whether older standalone events that pass the filters are left out."""

    def to_json(self) -> JsonObject:
        """`{"traces", "tracesTotal", "standaloneEvents", "standaloneMore", "approvals",
        "approvalsTotal", "counters", "agents"}` (`approvalsTotal`: how many approvals are
        pending; `standaloneMore`: older standalone events are left out)."""
        return {
            "traces": list[JsonValue](self.traces),
            "tracesTotal": self.traces_total,
            "standaloneEvents": list[JsonValue](self.standalone_events),
            "standaloneMore": self.standalone_more,
            "approvals": list[JsonValue](self.approvals),
            "approvalsTotal": self.approvals_total,
            "counters": self.counters,
            "agents": list[JsonValue](self.agents),
        }


def load_state(
    store: PlatformStore, filters: ConsoleFilters, known_agents: Iterable[str] = ()
) -> ConsoleState:
    """Read the store for the console: filtered traces, pending approvals, counters.

    Reads the bodies of only what the page shows (the newest `MAX_TRACES` traces that pass, each
    up to `MAX_TRACE_EVENTS` events and `MAX_TRACE_DECISIONS` decisions, the newest
    `MAX_STANDALONE_EVENTS` standalone events and the oldest `MAX_PENDING_APPROVALS` pending
    approvals); the traces are filtered and counted on an index.
    Blocks on SQLite reads; call it from a worker thread in async code.
    """
    heads = store.trace_heads()
    typed: Container[tuple[str, str]] = (
        store.traces_with_event_type(filters.event_type, agent_id=filters.agent or None)
        if filters.event_type
        else ()
    )
    kept = [h for h in heads if filters.keeps_trace(h, typed)]
    pages = [
        page
        for h in kept[:MAX_TRACES]
        if (page := store.trace_page(h.agent_id, h.trace_id, max_events=MAX_TRACE_EVENTS))
        is not None
    ]
    # A trace is one agent's (see `PlatformStore.traces`): it shows that agent's decisions only.
    decisions, decision_counts = store.decisions_in_traces(
        ((p.trace.agent_id, p.trace.trace_id) for p in pages), max_per_trace=MAX_TRACE_DECISIONS
    )
    by_trace: dict[tuple[str, str], list[DecisionRecord]] = {}
    for decision in decisions:
        if decision.trace_id is not None:
            by_trace.setdefault((decision.agent_id, decision.trace_id), []).append(decision)
    approvals, pending_total = store.pending_approvals_and(
        (d.approval_id for d in decisions if d.approval_id), max_pending=MAX_PENDING_APPROVALS
    )
    approval_status = {a.approval_id: a.status for a in approvals}
    # One more than shown: whether a note must say that older ones are left out.
    standalone = store.newest_standalone_events(
        MAX_STANDALONE_EVENTS + 1,
        agent_id=filters.agent or None,
        status=filters.event_status or None,
        event_type=filters.event_type or None,
    )
    counters = store.counters()
    agents = sorted({*known_agents, *counters, *(h.agent_id for h in heads)})
    statuses = sorted({*TRACE_STATUSES, *(h.status for h in heads)})
    views = []
    for page in pages:
        key = (page.trace.agent_id, page.trace.trace_id)
        views.append(
            trace_view(
                page,
                by_trace.get(key, []),
                approval_status,
                decision_count=decision_counts.get(key, 0),
            )
        )
    return ConsoleState(
        traces=views,
        traces_total=len(kept),
        standalone_events=[event_view(0, e) for e in standalone[:MAX_STANDALONE_EVENTS]],
        # The oldest pending come first: any other pending one (a decision's) is newer.
        approvals=[approval_view(a) for a in approvals if a.status == "pending"][
            :MAX_PENDING_APPROVALS
        ],
        approvals_total=pending_total,
        counters=counters_view(counters),
        agents=agents,
        statuses=statuses,
        standalone_more=len(standalone) > MAX_STANDALONE_EVENTS,
    )
