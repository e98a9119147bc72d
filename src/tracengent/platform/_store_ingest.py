"""The ingest half of the platform store: events, trace closes, counters, LLM token budgets."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, dumps_compact, finite_float
from opentelemetry.exporter.tracengent.wire import format_timestamp
from tracengent.platform._db import connect, migrate, read_or_create_secret
from tracengent.platform._records import AgentCounters, IngestResult, TokenUsage

__all__ = ["RESERVATION_TTL_SECONDS", "IngestStore"]

RESERVATION_TTL_SECONDS: Final = 900
"""How long an LLM token reservation holds budget when no `llm_call` event releases it (the
policy's `llm_reservation_ttl_seconds` default): an agent that crashed between authorizing
`llm:call` and recording the call does not hold the budget for ever."""

_SIGNING_KEY: Final = "jwt_signing_key"

_MAX_COUNTED_TOKENS: Final = 2**61
"""`usage.tokens` counted per event at most (already beyond any budget); two such counts still
add up inside SQLite's 64-bit integers, and the running total saturates here too."""


def _dedupe_key(event: JsonObject) -> tuple[str | None, str | None]:
    """The field an event is deduplicated on and its value: `eventId`, else `idempotencyKey`."""
    for field in ("eventId", "idempotencyKey"):
        value = event.get(field)
        if isinstance(value, str) and value:
            return field, value
    return None, None


def _idempotency_key(event: JsonObject) -> str | None:
    """The event's non-empty `idempotencyKey`, a duplicate's whatever its `eventId`."""
    value = event.get("idempotencyKey")
    return value if isinstance(value, str) and value else None


def _attributed(body: JsonObject, agent_id: str) -> JsonObject:
    """`body` with a differing `agentId` replaced by the authenticated agent's.

    The credentials say who sent it (wire contract: auth on every call); `agentId` is only the
    SDK's label, which may be misconfigured (zero code falls back to OTEL_SERVICE_NAME).
    Refusing the batch would drop all of that agent's telemetry (any 4xx is permanent), and
    keeping the label would let one agent file events under another's name.
    """
    if "agentId" not in body or body["agentId"] == agent_id:
        return body
    return {**body, "agentId": agent_id}


def _token_count(value: object) -> int:
    """`usage.tokens` as the count it stands for, at most `_MAX_COUNTED_TOKENS`; 0 when it is no
    count (absent, not a number, negative).

    Any JSON number counts: `80.0` (a float attribute as an SDK writes it, `8e1`) is 80 tokens,
    and a fraction counts up, so no spelling of a count leaves the budget untouched.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, 0), _MAX_COUNTED_TOKENS)
    number = finite_float(value)
    if number is None or number < 0:
        return 0
    return min(math.ceil(number), _MAX_COUNTED_TOKENS)


class IngestStore:
    """What ingest writes and counts; `PlatformStore` adds decisions, approvals, grants, traces."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        migrate(self.path)
        self._signing_key = read_or_create_secret(self.path, _SIGNING_KEY)

    @property
    def signing_key(self) -> str:
        """The HS256 key every token of this database is signed with (generated once)."""
        return self._signing_key

    def now_iso(self) -> str:
        """The store clock's now, formatted as the wire contract writes timestamps."""
        return format_timestamp(datetime.fromtimestamp(self.clock(), timezone.utc))

    # -- ingest -------------------------------------------------------------------------------

    def ingest_events(self, agent_id: str, events: list[JsonObject]) -> IngestResult:
        """Store a validated batch atomically under `agent_id` (the authenticated agent).

        An event whose `eventId` or `idempotencyKey` this agent already stored is ignored and
        counted as a duplicate; other agents' ids never collide with it. A body `agentId` other
        than `agent_id` is overwritten with it. Each stored `llm_call` event releases one of the
        agent's token reservations and counts its `usage.tokens`.
        """
        received_at = self.now_iso()
        stored = duplicates = 0
        with connect(self.path, write=True) as db:
            for event in events:
                field, key = _dedupe_key(event)
                cursor = db.execute(
                    "INSERT OR IGNORE INTO events (agent_id, dedupe_field, dedupe_key,"
                    " idempotency_key, trace_id, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        agent_id,
                        field,
                        key,
                        _idempotency_key(event),
                        event.get("traceId") if isinstance(event.get("traceId"), str) else None,
                        dumps_compact(_attributed(event, agent_id)),
                        received_at,
                    ),
                )
                if cursor.rowcount == 0:
                    duplicates += 1
                    continue
                stored += 1
                self._reconcile_tokens(db, agent_id, event, self.clock())
            self._bump(db, agent_id, "events_received", len(events))
            self._bump(db, agent_id, "events_stored", stored)
            self._bump(db, agent_id, "duplicates_ignored", duplicates)
        return IngestResult(stored=stored, duplicates=duplicates)

    def ingest_trace_close(self, agent_id: str, close: JsonObject) -> bool:
        """Store a validated trace close of `agent_id` (the authenticated agent, which overwrites
        a body `agentId`); False (and counted) when this agent already closed that trace."""
        with connect(self.path, write=True) as db:
            seq = self._take_event_seq(db)
            cursor = db.execute(
                "INSERT OR IGNORE INTO trace_closes (agent_id, trace_id, seq, body, received_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    agent_id,
                    close["traceId"],
                    seq,
                    dumps_compact(_attributed(close, agent_id)),
                    self.now_iso(),
                ),
            )
            self._bump(db, agent_id, "trace_closes_received", 1)
            if cursor.rowcount == 0:
                self._bump(db, agent_id, "duplicates_ignored", 1)
                return False
        return True

    @staticmethod
    def _take_event_seq(db: sqlite3.Connection) -> int:
        # A close takes the next number of the events' own sequence (SQLite lets sqlite_sequence
        # be written), so events and closes order as received and traces sort newest first.
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        seq = (int(row[0]) if row is not None else 0) + 1
        if row is None:
            db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (seq,))
        else:
            db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (seq,))
        return seq

    def count_rejection(self, agent_id: str, reason: str) -> None:
        """Count a rejected batch of `agent_id` under a short `reason` (e.g. `invalid status`)."""
        with connect(self.path, write=True) as db:
            self._bump(db, agent_id, "batches_rejected", 1)
            self._bump(db, agent_id, f"reason:{reason}", 1)

    @staticmethod
    def _bump(db: sqlite3.Connection, agent_id: str, name: str, by: int) -> None:
        db.execute(
            "INSERT INTO counters (agent_id, name, value) VALUES (?, ?, ?)"
            " ON CONFLICT (agent_id, name) DO UPDATE SET value = value + excluded.value",
            (agent_id, name, by),
        )

    def counters(self) -> dict[str, AgentCounters]:
        """Ingest counters per agent id."""
        values: dict[str, dict[str, int]] = {}
        with connect(self.path) as db:
            for row in db.execute("SELECT agent_id, name, value FROM counters"):
                values.setdefault(row["agent_id"], {})[row["name"]] = int(row["value"])
        return {
            agent: AgentCounters(
                events_received=v.get("events_received", 0),
                events_stored=v.get("events_stored", 0),
                duplicates_ignored=v.get("duplicates_ignored", 0),
                trace_closes_received=v.get("trace_closes_received", 0),
                batches_rejected=v.get("batches_rejected", 0),
                rejection_reasons={
                    k.removeprefix("reason:"): n for k, n in v.items() if k.startswith("reason:")
                },
            )
            for agent, v in values.items()
        }

    # -- LLM token budgets --------------------------------------------------------------------

    def reserve_tokens(
        self,
        agent_id: str,
        budget: int,
        tokens: int,
        trace_id: str | None,
        spender: str | None = None,
        *,
        ttl_seconds: float = RESERVATION_TTL_SECONDS,
    ) -> bool:
        """Reserve `tokens` of `agent_id`'s budget when used + reserved + tokens stays within
        `budget`, and at least one token is left (an LLM call uses some, whatever its estimate:
        a call estimated at 0 is no call under a budget of 0); atomic. `spender`: the delegate
        spending it under a grant, whose `llm_call` events release the reservation and count
        against `agent_id`. `ttl_seconds`: the reservation holds budget until an `llm_call`
        event releases it or, at the latest, this long (by the store's clock), so a call never
        recorded (the agent crashed) gives its budget back."""
        with connect(self.path, write=True) as db:
            now = self.clock()
            usage = self._usage(db, agent_id, now)
            if usage.used + usage.reserved + max(tokens, 1) > budget:
                return False
            db.execute(
                "INSERT INTO reservations (agent_id, trace_id, tokens, spender, expires_at_s)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    agent_id,
                    trace_id,
                    tokens,
                    spender if spender != agent_id else None,
                    now + ttl_seconds,
                ),
            )
        return True

    def token_usage(self, agent_id: str) -> TokenUsage:
        """Tokens the agent used (from `llm_call` events) and holds reserved (reservations
        neither released nor expired)."""
        with connect(self.path) as db:
            return self._usage(db, agent_id, self.clock())

    @staticmethod
    def _usage(db: sqlite3.Connection, agent_id: str, now: float) -> TokenUsage:
        used = db.execute("SELECT used FROM token_usage WHERE agent_id = ?", (agent_id,)).fetchone()
        reserved = db.execute(
            "SELECT COALESCE(SUM(tokens), 0) FROM reservations"
            " WHERE agent_id = ? AND released = 0 AND expires_at_s > ?",
            (agent_id, now),
        ).fetchone()[0]
        return TokenUsage(used=int(used[0]) if used else 0, reserved=int(reserved))

    @staticmethod
    def _reconcile_tokens(
        db: sqlite3.Connection, agent_id: str, event: JsonObject, now: float
    ) -> None:
        """Release the reservation a stored `llm_call` event's call made; count its tokens.

        A call that failed is recorded without `usage` (the SDK has no count): it still releases
        its reservation, counting 0 tokens, or failed calls would hold the budget forever.
        """
        if event.get("type") != "llm_call":
            return
        usage = event.get("usage")
        tokens = _token_count(usage.get("tokens") if isinstance(usage, dict) else None)
        trace_id = event.get("traceId")
        trace = trace_id if isinstance(trace_id, str) else None
        # Release the reservation this call made: its own, or one it made as a delegate on the
        # delegating agent's budget; the same trace's oldest first, then the oldest made outside
        # any trace, then the oldest of another trace. An expired reservation holds no budget
        # any more: only its own trace's late event releases it (the bookkeeping of the call
        # that outlived it); any other event releases one still holding budget, never a
        # crashed call's stale one, which would leave a live reservation held until it expires.
        row = db.execute(
            "SELECT seq, agent_id FROM reservations WHERE released = 0"
            " AND ((agent_id = ? AND spender IS NULL) OR spender = ?)"
            " AND (expires_at_s > ? OR (? IS NOT NULL AND trace_id = ?))"
            " ORDER BY CASE WHEN trace_id IS ? THEN 0 WHEN trace_id IS NULL THEN 1 ELSE 2 END,"
            " expires_at_s <= ?, seq"
            " LIMIT 1",
            (agent_id, agent_id, now, trace, trace, trace, now),
        ).fetchone()
        budget_owner = agent_id
        if row is not None:
            db.execute("UPDATE reservations SET released = 1 WHERE seq = ?", (row["seq"],))
            # A delegate's call counts against the budget it was reserved on.
            budget_owner = str(row["agent_id"])
        db.execute(
            "INSERT INTO token_usage (agent_id, used) VALUES (?, ?)"
            " ON CONFLICT (agent_id) DO UPDATE SET used = MIN(used + excluded.used, ?)",
            (budget_owner, tokens, _MAX_COUNTED_TOKENS),
        )
