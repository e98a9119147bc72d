"""SQLite plumbing of the local platform: connections, the versioned schema, the signing key.

Every operation opens its own short connection (WAL, busy timeout) so the server and CLI commands
can use one database file at the same time.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["BUSY_TIMEOUT_MS", "SCHEMA_VERSION", "connect", "migrate", "read_or_create_secret"]

BUSY_TIMEOUT_MS: Final = 5000
"""How long a statement waits for another process's write lock before failing."""

_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        dedupe_key TEXT UNIQUE,
        agent_id TEXT NOT NULL,
        trace_id TEXT,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX events_trace ON events (trace_id);
    CREATE TABLE trace_closes (
        trace_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        agent_id TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE TABLE decisions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT UNIQUE NOT NULL,
        agent_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        permission TEXT,
        status TEXT NOT NULL,
        outcome TEXT,
        reason TEXT NOT NULL,
        trace_id TEXT,
        approval_id TEXT,
        acting_for TEXT,
        request TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE approvals (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT UNIQUE NOT NULL,
        agent_id TEXT NOT NULL,
        permission TEXT NOT NULL,
        context TEXT NOT NULL,
        amount REAL,
        currency TEXT,
        trace_id TEXT,
        created_at TEXT NOT NULL,
        expires_at_s REAL NOT NULL,
        status TEXT NOT NULL,
        decided_at TEXT
    );
    CREATE TABLE grants (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT UNIQUE NOT NULL,
        parent_id TEXT,
        from_agent TEXT NOT NULL,
        to_agent TEXT NOT NULL,
        permissions TEXT NOT NULL,
        max_amount REAL,
        expires_at_s REAL NOT NULL,
        chain TEXT NOT NULL,
        reason TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE reservations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        agent_id TEXT NOT NULL,
        trace_id TEXT,
        tokens INTEGER NOT NULL,
        released INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE token_usage (agent_id TEXT PRIMARY KEY, used INTEGER NOT NULL);
    CREATE TABLE counters (
        agent_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (agent_id, name)
    );
    """,
    # 2: ingest isolated per agent (and a reservation's `spender`: the delegate whose llm_call
    # events release a reservation made on the delegating agent's budget). An agent's eventIds and idempotencyKeys are two namespaces
    # of its own (`dedupe_field` says which one `dedupe_key` is in), and a trace close is keyed by
    # (agent, trace): no agent can suppress another's events or close another's trace. SQLite
    # cannot drop a UNIQUE constraint, so both tables are rebuilt, keeping every row, its seq and
    # the events' sequence (closes draw from it too).
    """
    CREATE TABLE events_v2 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        agent_id TEXT NOT NULL,
        dedupe_field TEXT,
        dedupe_key TEXT,
        trace_id TEXT,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (agent_id, dedupe_field, dedupe_key)
    );
    INSERT INTO events_v2 (seq, agent_id, dedupe_field, dedupe_key, trace_id, body, received_at)
        SELECT seq, agent_id,
            CASE
                WHEN dedupe_key IS NULL THEN NULL
                WHEN json_extract(body, '$.eventId') IS dedupe_key THEN 'eventId'
                ELSE 'idempotencyKey'
            END,
            dedupe_key, trace_id, body, received_at
        FROM events ORDER BY seq;
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'events_v2', 0 WHERE NOT EXISTS
            (SELECT 1 FROM sqlite_sequence WHERE name = 'events_v2');
    UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE(
            (SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))
        WHERE name = 'events_v2';
    DROP TABLE events;
    ALTER TABLE events_v2 RENAME TO events;
    CREATE INDEX events_trace ON events (agent_id, trace_id);
    CREATE TABLE trace_closes_v2 (
        agent_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, trace_id)
    );
    INSERT INTO trace_closes_v2 (agent_id, trace_id, seq, body, received_at)
        SELECT agent_id, trace_id, seq, body, received_at FROM trace_closes;
    DROP TABLE trace_closes;
    ALTER TABLE trace_closes_v2 RENAME TO trace_closes;
    ALTER TABLE reservations ADD COLUMN spender TEXT
    """,
    # 3: a held tool call proceeds once approved. An approval remembers the call it holds (a
    # digest of transport, target and body), when it was decided (to bound its use by the
    # approval TTL) and when a retry of that call used it (each approval allows one call).
    # Approvals stored before carry no digest: they settle `/v1/authorize` waits as before.
    """
    ALTER TABLE approvals ADD COLUMN call_digest TEXT;
    ALTER TABLE approvals ADD COLUMN decided_at_s REAL;
    ALTER TABLE approvals ADD COLUMN used_at TEXT;
    CREATE INDEX approvals_call ON approvals (agent_id, call_digest)
    """,
    # 4: an event's `idempotencyKey` deduplicates it even when it has an `eventId` (the SDK
    # sends one with every event, new on each recording, so the key alone says "the same
    # event"). Of the rows earlier versions stored under one agent's key, the first holds it.
    """
    ALTER TABLE events ADD COLUMN idempotency_key TEXT;
    UPDATE events SET idempotency_key = json_extract(body, '$.idempotencyKey')
        WHERE seq IN (SELECT MIN(seq) FROM events
            WHERE json_type(body, '$.idempotencyKey') = 'text'
                AND json_extract(body, '$.idempotencyKey') <> ''
            GROUP BY agent_id, json_extract(body, '$.idempotencyKey'));
    CREATE UNIQUE INDEX events_idempotency ON events (agent_id, idempotency_key)
    """,
    # 5: an approval remembers on whose behalf it was held: the agent a delegated token acted
    # for (NULL: the agent's own authority). `GET /v1/approvals/{id}` answers it only to a
    # token acting for that same agent. Approvals stored before read as held on the agent's own
    # authority: a delegated token no longer reads them (fail closed).
    """
    ALTER TABLE approvals ADD COLUMN acting_for TEXT
    """,
    # 6: an LLM token reservation expires (`expires_at_s`, seconds since the epoch), so one no
    # `llm_call` event ever releases (the agent crashed) gives its budget back. Reservations
    # held before the upgrade get the default `llm_reservation_ttl_seconds` (900) from now.
    """
    ALTER TABLE reservations ADD COLUMN expires_at_s REAL;
    UPDATE reservations SET expires_at_s = CAST(strftime('%s', 'now') AS REAL) + 900
        WHERE expires_at_s IS NULL
    """,
)

SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The `PRAGMA user_version` a migrated database carries."""


@contextmanager
def connect(path: Path, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """A short-lived connection; with `write`, one IMMEDIATE transaction committed on success."""
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not write:
            yield connection
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()


def migrate(path: Path) -> None:
    """Create or upgrade the schema to `SCHEMA_VERSION` (WAL on); refuses a newer database.

    Raises:
        RuntimeError: the database was written by a newer Tracengent (its version is higher).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database {path} has schema version {version}, newer than this Tracengent "
                    f"({SCHEMA_VERSION}): upgrade Tracengent or use another --db"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def read_or_create_secret(path: Path, name: str) -> str:
    """A random secret stored in `meta` under `name`, generated on first use (race-free)."""
    with connect(path, write=True) as connection:
        connection.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (name, secrets.token_hex(32))
        )
        row = connection.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
    return str(row["value"])
