"""`PlatformStore`: everything the local platform keeps, in one SQLite file.

The server writes through it; the CLI, the demo and tests read and decide approvals through it,
even while a server runs on the same file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Final, NamedTuple, cast

from opentelemetry.exporter.tracengent.ids import new_id
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue, dumps_compact
from tracengent.platform._db import connect
from tracengent.platform._records import (
    ApprovalRecord,
    DecisionRecord,
    GrantRecord,
    StoredEvent,
    StoreError,
    TraceRecord,
)
from tracengent.platform._store_ingest import IngestStore

__all__ = ["ROOT_REQUEST_WITHIN", "PlatformStore", "TraceHead", "TracePage"]

ROOT_REQUEST_WITHIN: Final = 1000
"""`PlatformStore.trace_page` looks for an event's root request among this many first events."""


def _loads(text: str) -> JsonObject:
    return cast(JsonObject, json.loads(text))


_JSON_KINDS: Final = {list: "an array", str: "a string", int: "a number", float: "a number"}


def _body(text: object) -> JsonObject:
    """A stored event's or trace close's body: the JSON object it was stored as.

    Raises:
        json.JSONDecodeError: the text is not JSON, or JSON that is not an object (a record
            edited by hand or damaged): the console answers 503 and the CLI one error line, as
            for any damaged record, rather than an AttributeError where a field is read.
    """
    if not isinstance(text, (str, bytes, bytearray)):
        # A hand edit can store any SQLite type (an integer, a real) in a TEXT column.
        raise json.JSONDecodeError(f"expected JSON text, got {type(text).__name__}", "", 0)
    value = json.loads(text)
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_KINDS.get(type(value), "a boolean")
        raise json.JSONDecodeError(f"expected a JSON object, got {kind}", str(text), 0)
    return cast(JsonObject, value)


class TraceHead(NamedTuple):
    """A decision trace without its events: whose it is, where it sorts, its status."""

    agent_id: str
    trace_id: str
    latest_seq: int
    """The sequence number of its latest event or close: the higher, the newer."""
    status: str
    """The close's status, `"open"` while no close was received (as `TraceRecord.status`)."""


class TracePage(NamedTuple):
    """A trace read in part: its first events, and how many it holds in all."""

    trace: TraceRecord
    """The trace; its `events` are only the first ones received."""
    event_count: int
    """How many events the trace holds."""
    last_received_at: str | None
    """When its latest event was received (None: it has none)."""


class PlatformStore(IngestStore):
    """Typed access to the platform's SQLite database (created and migrated on construction).

    Args:
        path: the database file (its directory is created).
        clock: seconds since the epoch; tests inject one to expire approvals and tokens.

    Raises:
        RuntimeError: the file holds a schema newer than this Tracengent.
    """

    # -- decisions and approvals --------------------------------------------------------------

    def record_decision(
        self,
        *,
        agent_id: str,
        kind: str,
        permission: str | None,
        status: str,
        reason: str,
        request: JsonObject,
        outcome: str | None = None,
        trace_id: str | None = None,
        approval_id: str | None = None,
        acting_for: str | None = None,
    ) -> str:
        """Store a decision and return its new `dec_...` id."""
        decision_id = new_id("dec")
        with connect(self.path, write=True) as db:
            db.execute(
                "INSERT INTO decisions (id, agent_id, kind, permission, status, outcome, reason,"
                " trace_id, approval_id, acting_for, request, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    decision_id,
                    agent_id,
                    kind,
                    permission,
                    status,
                    outcome,
                    reason,
                    trace_id,
                    approval_id,
                    acting_for,
                    dumps_compact(request),
                    self.now_iso(),
                ),
            )
        return decision_id

    def decisions(self) -> list[DecisionRecord]:
        """Every decision, oldest first."""
        with connect(self.path) as db:
            rows = db.execute("SELECT * FROM decisions ORDER BY seq").fetchall()
        return [self._decision(r) for r in rows]

    @staticmethod
    def _decision(r: sqlite3.Row) -> DecisionRecord:
        return DecisionRecord(
            decision_id=r["id"],
            agent_id=r["agent_id"],
            kind=r["kind"],
            permission=r["permission"],
            status=r["status"],
            outcome=r["outcome"],
            reason=r["reason"],
            trace_id=r["trace_id"],
            approval_id=r["approval_id"],
            acting_for=r["acting_for"],
            request=_loads(r["request"]),
            created_at=r["created_at"],
        )

    def create_approval(
        self,
        *,
        agent_id: str,
        permission: str,
        context: JsonObject,
        ttl_seconds: float,
        amount: float | None = None,
        currency: str | None = None,
        trace_id: str | None = None,
        call_digest: str | None = None,
        acting_for: str | None = None,
    ) -> ApprovalRecord:
        """Store a new pending approval (`apr_...`) that expires after `ttl_seconds`.

        `call_digest`: the held tool call's (transport, target, body), so that once approved one
        retry of that very call may proceed (`use_approved_call`); None for `/v1/authorize`.
        `acting_for`: the agent a delegated token acted for (None: `agent_id`'s own authority);
        `GET /v1/approvals/{id}` answers only a token acting for the same agent.
        """
        approval_id = new_id("apr")
        with connect(self.path, write=True) as db:
            db.execute(
                "INSERT INTO approvals (id, agent_id, permission, context, amount, currency,"
                " trace_id, created_at, expires_at_s, status, call_digest, acting_for)"
                " VALUES (?,?,?,?,?,?,?,?,?, 'pending', ?, ?)",
                (
                    approval_id,
                    agent_id,
                    permission,
                    dumps_compact(context),
                    amount,
                    currency,
                    trace_id,
                    self.now_iso(),
                    self.clock() + ttl_seconds,
                    call_digest,
                    acting_for,
                ),
            )
        found = self.approval(approval_id)
        if found is None:  # just inserted in a committed transaction
            raise StoreError("the record just written cannot be read back")
        return found

    def _expire(self, db: sqlite3.Connection) -> None:
        db.execute(
            "UPDATE approvals SET status = 'expired', decided_at = ?"
            " WHERE status = 'pending' AND expires_at_s <= ?",
            (self.now_iso(), self.clock()),
        )

    @staticmethod
    def _approval(r: sqlite3.Row) -> ApprovalRecord:
        return ApprovalRecord(
            approval_id=r["id"],
            agent_id=r["agent_id"],
            permission=r["permission"],
            context=_loads(r["context"]),
            amount=r["amount"],
            currency=r["currency"],
            trace_id=r["trace_id"],
            created_at=r["created_at"],
            status=r["status"],
            decided_at=r["decided_at"],
            used_at=r["used_at"],
            acting_for=r["acting_for"],
        )

    def approvals(self, *, status: str | None = None) -> list[ApprovalRecord]:
        """Approvals (stale pending ones marked expired first), oldest first, optionally by status."""
        with connect(self.path, write=True) as db:
            self._expire(db)
            rows = db.execute("SELECT * FROM approvals ORDER BY seq").fetchall()
        records = [self._approval(r) for r in rows]
        return [r for r in records if status is None or r.status == status]

    def approval(self, approval_id: str) -> ApprovalRecord | None:
        """One approval (expired first if stale), or None when unknown."""
        with connect(self.path, write=True) as db:
            self._expire(db)
            row = db.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        return None if row is None else self._approval(row)

    def decide_approval(self, approval_id: str, approved: bool) -> ApprovalRecord:
        """Approve or deny a pending approval.

        Raises:
            StoreError: the approval is unknown, or no longer pending (decided or expired).
        """
        with connect(self.path, write=True) as db:
            self._expire(db)
            row = db.execute("SELECT status FROM approvals WHERE id = ?", (approval_id,)).fetchone()
            if row is None:
                raise StoreError(f"unknown approval {approval_id!r}")
            if row["status"] != "pending":
                raise StoreError(f"approval {approval_id} is already {row['status']}")
            db.execute(
                "UPDATE approvals SET status = ?, decided_at = ?, decided_at_s = ? WHERE id = ?",
                ("approved" if approved else "denied", self.now_iso(), self.clock(), approval_id),
            )
        found = self.approval(approval_id)
        if found is None:  # approvals are never deleted
            raise StoreError("the record just written cannot be read back")
        return found

    def use_approved_call(
        self, *, agent_id: str, permission: str, call_digest: str, within_seconds: float
    ) -> ApprovalRecord | None:
        """Take the oldest approved, unused approval of `agent_id`'s tool call `call_digest` for
        `permission`, decided at most `within_seconds` ago, marking it used; None when there is
        none. One transaction: of two concurrent retries of one approved call, one gets it.
        """
        with connect(self.path, write=True) as db:
            row = db.execute(
                "SELECT id FROM approvals WHERE agent_id = ? AND call_digest = ?"
                " AND permission = ? AND status = 'approved' AND used_at IS NULL"
                " AND decided_at_s > ? ORDER BY seq LIMIT 1",
                (agent_id, call_digest, permission, self.clock() - within_seconds),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE approvals SET used_at = ? WHERE id = ?", (self.now_iso(), row["id"]))
            used = db.execute("SELECT * FROM approvals WHERE id = ?", (row["id"],)).fetchone()
        return self._approval(used)

    # -- delegation grants --------------------------------------------------------------------

    def create_grant(
        self,
        *,
        from_agent: str,
        to_agent: str,
        permissions: Iterable[str],
        expires_at_s: float,
        chain: Iterable[str],
        max_amount: float | None = None,
        parent_id: str | None = None,
        reason: str | None = None,
    ) -> GrantRecord:
        """Store a new grant (`dlg_...`)."""
        grant_id = new_id("dlg")
        with connect(self.path, write=True) as db:
            db.execute(
                "INSERT INTO grants (id, parent_id, from_agent, to_agent, permissions, max_amount,"
                " expires_at_s, chain, reason, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    grant_id,
                    parent_id,
                    from_agent,
                    to_agent,
                    json.dumps(list(permissions)),
                    max_amount,
                    expires_at_s,
                    json.dumps(list(chain)),
                    reason,
                    self.now_iso(),
                ),
            )
        found = self.grant(grant_id)
        if found is None:  # just inserted in a committed transaction
            raise StoreError("the record just written cannot be read back")
        return found

    @staticmethod
    def _grant(r: sqlite3.Row) -> GrantRecord:
        return GrantRecord(
            grant_id=r["id"],
            parent_id=r["parent_id"],
            from_agent=r["from_agent"],
            to_agent=r["to_agent"],
            permissions=json.loads(r["permissions"]),
            max_amount=r["max_amount"],
            expires_at_s=r["expires_at_s"],
            chain=json.loads(r["chain"]),
            reason=r["reason"],
            created_at=r["created_at"],
        )

    def grant(self, grant_id: str) -> GrantRecord | None:
        """One grant, or None when unknown."""
        with connect(self.path) as db:
            row = db.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
        return None if row is None else self._grant(row)

    def grants(self) -> list[GrantRecord]:
        """Every grant, oldest first."""
        with connect(self.path) as db:
            return [self._grant(r) for r in db.execute("SELECT * FROM grants ORDER BY seq")]

    # -- events and traces --------------------------------------------------------------------

    def events(self) -> list[StoredEvent]:
        """Every stored event in the order received."""
        with connect(self.path) as db:
            rows = db.execute("SELECT * FROM events ORDER BY seq").fetchall()
        return [self._event(r) for r in rows]

    @staticmethod
    def _event(r: sqlite3.Row) -> StoredEvent:
        return StoredEvent(r["seq"], r["agent_id"], r["received_at"], _body(r["body"]))

    def standalone_events(self) -> list[StoredEvent]:
        """Events recorded outside any decision trace (no `traceId`), in the order received.

        Found per agent through the (agent, trace) index: the events in traces are not read.
        """
        with _snapshot(self.path) as db:
            rows = [
                r
                for (agent,) in db.execute(_AGENTS).fetchall()
                for r in db.execute(
                    "SELECT * FROM events WHERE agent_id = ? AND trace_id IS NULL", (agent,)
                )
            ]
        rows.sort(key=lambda r: int(r["seq"]))
        return [self._event(r) for r in rows]

    def traces(self, *, limit: int | None = None) -> list[TraceRecord]:
        """Decision traces, newest first (by their latest event or close).

        A trace is one agent's: events and a close of the same `traceId` sent by two agents are two
        traces. It exists once it has a close or events; its status is the close's, else `"open"`.
        With `limit`, only the events and closes of the `limit` newest traces are read (their
        order comes from the index, as `trace_heads`).
        """
        where = "agent_id = ? AND trace_id = ?"
        with _snapshot(self.path) as db:
            keys = [(head.agent_id, head.trace_id) for head in self._trace_heads(db)][:limit]
            by_trace: dict[tuple[str, str], list[StoredEvent]] = {}
            if limit is None:
                for r in db.execute("SELECT * FROM events WHERE trace_id IS NOT NULL ORDER BY seq"):
                    event = self._event(r)
                    by_trace.setdefault((event.agent_id, str(r["trace_id"])), []).append(event)
                closes = {
                    (str(r["agent_id"]), str(r["trace_id"])): r
                    for r in db.execute("SELECT * FROM trace_closes")
                }
            else:
                closes = {}
                for key in keys:
                    rows = db.execute(f"SELECT * FROM events WHERE {where} ORDER BY seq", key)
                    by_trace[key] = [self._event(r) for r in rows]
                    close = db.execute(f"SELECT * FROM trace_closes WHERE {where}", key).fetchone()
                    if close is not None:
                        closes[key] = close
        return [self._trace(key, by_trace.get(key, []), closes.get(key)) for key in keys]

    @staticmethod
    def _trace(
        key: tuple[str, str], events: list[StoredEvent], row: sqlite3.Row | None
    ) -> TraceRecord:
        agent_id, trace_id = key
        close = _body(row["body"]) if row is not None else None

        def text(value: JsonValue) -> str | None:
            return value if isinstance(value, str) else None

        root = text(close.get("rootRequest")) if close else None
        if root is None:
            root = next(
                (text(e.body.get("rootRequest")) for e in events if "rootRequest" in e.body), None
            )
        if close is not None:
            status = text(close.get("status")) or "open"
            summary = text(close.get("summary"))
        else:
            status, summary = "open", None
        # The authenticated sender, never the body's `agentId` (rows stored before ingest
        # overwrote a differing one may still carry another agent's name).
        return TraceRecord(
            trace_id=trace_id,
            agent_id=agent_id,
            root_request=root,
            status=status,
            summary=summary,
            events=events,
            close=close,
        )

    # -- console reads: what one page shows, however large the database ----------------------

    def trace_heads(self) -> list[TraceHead]:
        """Every decision trace without its events, newest first (as `traces` orders them).

        Reads the events' (agent, trace) index and the closes, never an event's body: what the
        console filters and counts before it reads the few traces it shows (`trace_page`).
        """
        with _snapshot(self.path) as db:
            return self._trace_heads(db)

    @staticmethod
    def _trace_heads(db: sqlite3.Connection) -> list[TraceHead]:
        latest = {
            (str(r[0]), str(r[1])): int(r[2])
            for r in db.execute(
                "SELECT agent_id, trace_id, MAX(seq) FROM events"
                " WHERE trace_id IS NOT NULL GROUP BY agent_id, trace_id"
            )
        }
        statuses: dict[tuple[str, str], str] = {}
        for r in db.execute(
            f"SELECT agent_id, trace_id, seq, {_text_field('status')} FROM trace_closes"
        ):
            key = (str(r[0]), str(r[1]))
            latest[key] = max(latest.get(key, 0), int(r[2]))
            statuses[key] = r[3] or "open"
        ordered = sorted(latest.items(), key=lambda item: item[1], reverse=True)
        return [TraceHead(a, t, seq, statuses.get((a, t), "open")) for (a, t), seq in ordered]

    def traces_with_event_type(
        self, event_type: str, *, agent_id: str | None = None
    ) -> set[tuple[str, str]]:
        """The `(agent, trace)` of each trace holding an event whose `type` is `event_type`."""
        query = (
            "SELECT DISTINCT agent_id, trace_id FROM events"
            f" WHERE trace_id IS NOT NULL AND {_text_field('type')} = ?"
        )
        params = [event_type]
        if agent_id is not None:
            query += " AND agent_id = ?"
            params.append(agent_id)
        with connect(self.path) as db:
            return {(str(r[0]), str(r[1])) for r in db.execute(query, params)}

    def trace_page(self, agent_id: str, trace_id: str, *, max_events: int) -> TracePage | None:
        """An agent's trace holding only its first `max_events` events, or None when unknown.

        Its status and summary are the whole trace's (as `traces` gives them), and so is its root
        request when the close or one of the trace's first `ROOT_REQUEST_WITHIN` events carries
        it (the wire contract puts it on the first).
        """
        key = (agent_id, trace_id)
        where = "agent_id = ? AND trace_id = ?"
        with _snapshot(self.path) as db:
            rows = db.execute(
                f"SELECT * FROM events WHERE {where} ORDER BY seq LIMIT ?", (*key, max_events)
            ).fetchall()
            count = int(db.execute(f"SELECT COUNT(*) FROM events WHERE {where}", key).fetchone()[0])
            last = db.execute(
                f"SELECT received_at FROM events WHERE {where} ORDER BY seq DESC LIMIT 1", key
            ).fetchone()
            close = db.execute(f"SELECT * FROM trace_closes WHERE {where}", key).fetchone()
            events = [self._event(r) for r in rows]
            # Without the close's, the root request is the first event's that carries one: maybe
            # past the events read, looked for a bounded way on (not through a whole long trace).
            rooted = []
            closed_root = close is not None and isinstance(
                _body(close["body"]).get("rootRequest"), str
            )
            if (
                count > len(events)
                and not closed_root
                and not any("rootRequest" in e.body for e in events)
            ):
                rooted = db.execute(
                    f"SELECT * FROM (SELECT * FROM events WHERE {where} ORDER BY seq"
                    " LIMIT ? OFFSET ?) WHERE json_type(body, '$.rootRequest') IS NOT NULL"
                    " ORDER BY seq LIMIT 1",
                    (*key, max(0, ROOT_REQUEST_WITHIN - len(events)), len(events)),
                ).fetchall()
        if not events and close is None:
            return None
        whole = self._trace(key, events + [self._event(r) for r in rooted], close)
        return TracePage(
            trace=replace(whole, events=events),
            event_count=count,
            last_received_at=None if last is None else str(last["received_at"]),
        )

    def decisions_in_traces(
        self, keys: Iterable[tuple[str, str]], *, max_per_trace: int
    ) -> tuple[list[DecisionRecord], dict[tuple[str, str], int]]:
        """The first `max_per_trace` decisions of each `(agent, trace)`, oldest first, and how
        many decisions each of those traces holds (absent: none)."""
        wanted = json.dumps(sorted({(a, t) for a, t in keys}))
        with connect(self.path) as db:
            rows = db.execute(
                "SELECT * FROM (SELECT *,"
                " ROW_NUMBER() OVER (PARTITION BY agent_id, trace_id ORDER BY seq) AS nth,"
                " COUNT(*) OVER (PARTITION BY agent_id, trace_id) AS total"
                " FROM decisions WHERE (agent_id, trace_id) IN (SELECT"
                " json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)))"
                " WHERE nth <= ? ORDER BY seq",
                (wanted, max_per_trace),
            ).fetchall()
        counts = {(str(r["agent_id"]), str(r["trace_id"])): int(r["total"]) for r in rows}
        return [self._decision(r) for r in rows], counts

    def pending_approvals_and(
        self, approval_ids: Iterable[str], *, max_pending: int
    ) -> tuple[list[ApprovalRecord], int]:
        """The oldest `max_pending` pending approvals (stale ones marked expired first) and those
        of `approval_ids`, oldest first, and how many approvals are pending."""
        wanted = json.dumps(sorted(set(approval_ids)))
        with connect(self.path, write=True) as db:
            self._expire(db)
            rows = db.execute(
                "SELECT * FROM approvals WHERE id IN (SELECT id FROM approvals"
                " WHERE status = 'pending' ORDER BY seq LIMIT ?)"
                " OR id IN (SELECT value FROM json_each(?)) ORDER BY seq",
                (max_pending, wanted),
            ).fetchall()
            pending = int(
                db.execute("SELECT COUNT(*) FROM approvals WHERE status = 'pending'").fetchone()[0]
            )
        return [self._approval(r) for r in rows], pending

    def newest_standalone_events(
        self,
        limit: int,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        event_type: str | None = None,
    ) -> list[StoredEvent]:
        """The newest `limit` events recorded outside any trace, newest first; only those an agent
        sent (authenticated), or whose `status` or `type` is the one given, when asked."""
        conditions = ["agent_id = ?", "trace_id IS NULL"]
        values: list[str] = []
        for field, value in (("status", status), ("type", event_type)):
            if value is not None:
                conditions.append(f"{_text_field(field)} = ?")
                values.append(value)
        query = f"SELECT * FROM events WHERE {' AND '.join(conditions)} ORDER BY seq DESC LIMIT ?"
        with _snapshot(self.path) as db:
            # Per agent, the (agent, trace) index holds its standalone events newest last.
            agents = [agent_id] if agent_id is not None else [r[0] for r in db.execute(_AGENTS)]
            rows = [r for a in agents for r in db.execute(query, (a, *values, limit))]
        rows.sort(key=lambda r: int(r["seq"]), reverse=True)
        return [self._event(r) for r in rows[:limit]]


_AGENTS: Final = (
    # Each agent that sent an event, one index lookup per agent (not a scan of every event).
    "WITH RECURSIVE agents (id) AS (SELECT MIN(agent_id) FROM events UNION ALL"
    " SELECT (SELECT MIN(agent_id) FROM events WHERE agent_id > agents.id) FROM agents"
    " WHERE agents.id IS NOT NULL) SELECT id FROM agents WHERE id IS NOT NULL"
)


def _text_field(name: str) -> str:
    """SQL for the body's top-level string field `name` (NULL when absent or not a string)."""
    return f"CASE json_type(body, '$.{name}') WHEN 'text' THEN json_extract(body, '$.{name}') END"


@contextmanager
def _snapshot(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection whose reads all see the database at one moment (one read transaction)."""
    with connect(path) as db:
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("ROLLBACK")
