"""Review fixes of the platform store and body decoding, without a server: a version-1 database
upgrades with every row kept, odd JSON is refused by name, and stored odd numbers read as absent."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform import PlatformStore
from tracengent.platform._db import _MIGRATIONS, SCHEMA_VERSION
from tracengent.platform._ingest import IngestError, decode_body, read_limited
from tracengent.platform._tree import number

# -- a version-1 database upgrading -----------------------------------------------------------


def _v1_schema(path: Path) -> sqlite3.Connection:
    """A connection to a new database with the schema version 1 created."""
    db = sqlite3.connect(path, isolation_level=None)
    for statement in _MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    return db


def _v1_close(db: sqlite3.Connection, agent_id: str, trace_id: str, seq: int) -> None:
    """A close as version 1 stored it, its seq taken from the events' sequence."""
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
    db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (seq,))
    close = {"traceId": trace_id, "agentId": agent_id, "op": "Close", "status": "completed"}
    db.execute(
        "INSERT INTO trace_closes (trace_id, seq, agent_id, body, received_at)"
        " VALUES (?, ?, ?, ?, 't')",
        (trace_id, seq, agent_id, json.dumps(close)),
    )


def _v1_database(path: Path) -> None:
    """A database as version 1 wrote it: two agents' events and a close, keys global (one
    agent's key `shared` blocked the other's)."""
    db = _v1_schema(path)
    rows = [
        ("evt_1", "demo-agent", "trc_1", {"eventId": "evt_1", "traceId": "trc_1", "name": "a"}),
        ("shared", "hotel-agent", None, {"idempotencyKey": "shared", "name": "b"}),
        (None, "demo-agent", None, {"name": "c"}),
    ]
    for key, agent, trace, body in rows:
        db.execute(
            "INSERT INTO events (dedupe_key, agent_id, trace_id, body, received_at)"
            " VALUES (?, ?, ?, ?, 't')",
            (key, agent, trace, json.dumps({"type": "action", "status": "success", **body})),
        )
    _v1_close(db, "demo-agent", "trc_1", 4)
    db.close()


@pytest.fixture
def upgraded(tmp_path: Path) -> PlatformStore:
    """A version-1 database opened (so migrated) by the current store."""
    _v1_database(tmp_path / "v1.sqlite3")
    return PlatformStore(tmp_path / "v1.sqlite3")


def test_v1_database_upgrades_keeping_every_row(upgraded: PlatformStore) -> None:
    """Events (with their seq), the close and the trace it closes survive the upgrade."""
    with closing(sqlite3.connect(upgraded.path)) as db, db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    db.close()
    assert [(e.seq, e.agent_id, e.body["name"]) for e in upgraded.events()] == [
        (1, "demo-agent", "a"),
        (2, "hotel-agent", "b"),
        (3, "demo-agent", "c"),
    ]
    (trace,) = upgraded.traces()
    assert (trace.trace_id, trace.agent_id, trace.status) == ("trc_1", "demo-agent", "completed")


def test_v1_keys_keep_deduplicating_their_own_agent_only(upgraded: PlatformStore) -> None:
    """A key stored by version 1 is still a duplicate for its agent, and no longer for others."""
    assert upgraded.ingest_events("demo-agent", [_action("evt_1")]).duplicates == 1
    assert upgraded.ingest_events("hotel-agent", [_action("x", key="shared")]).duplicates == 1
    assert upgraded.ingest_events("demo-agent", [_action("x", key="shared")]).stored == 1
    assert upgraded.ingest_events("hotel-agent", [_action("evt_1")]).stored == 1
    closed: JsonObject = {"traceId": "trc_1", "op": "Close", "status": "failed"}
    assert not upgraded.ingest_trace_close("demo-agent", closed)
    assert upgraded.ingest_trace_close("hotel-agent", closed)


def test_v1_sequence_continues_past_a_close(upgraded: PlatformStore) -> None:
    """The events' sequence (which a close took 4 from) carries over: the next event is 5."""
    upgraded.ingest_events("demo-agent", [_action("evt_new")])
    assert upgraded.events()[-1].seq == 5


def test_v1_database_with_closes_only_keeps_their_seq(tmp_path: Path) -> None:
    """With no events stored, the sequence a close took still carries over: a later trace sorts
    first."""
    path = tmp_path / "closes.sqlite3"
    db = _v1_schema(path)
    _v1_close(db, "a", "trc_closed", 7)
    db.close()
    store = PlatformStore(path)
    store.ingest_events("a", [_action("evt_1", traceId="trc_new")])
    assert store.events()[0].seq == 8
    assert [t.trace_id for t in store.traces()] == ["trc_new", "trc_closed"]


def _action(event_id: str, *, key: str | None = None, **extra: str) -> JsonObject:
    event: JsonObject = {"idempotencyKey": key} if key is not None else {"eventId": event_id}
    event.update({"type": "action", "name": event_id, "status": "success", **extra})
    return event


# -- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"[NaN]", "invalid number"),
        (b'{"a": Infinity}', "invalid number"),
        (b"[-Infinity]", "invalid number"),
        (b"[1e999]", "invalid number"),
        (b"[-1.5e400]", "invalid number"),
        (b"[1" + b"0" * 400 + b"]", "invalid number"),
        (b"[-1" + b"0" * 400 + b"]", "invalid number"),
        (b"[1" + b"0" * 5000 + b"]", "invalid number"),
        (b'["\\ud800"]', "invalid string"),
        (b'{"\\uDC00x": 1}', "invalid string"),
        (b'["\\ude00\\ud83d"]', "invalid string"),
        ('["\\ud800"]'.encode("utf-16"), "invalid string"),
        (b'["\xed\xa0\x80"]', "not json"),
        (b"[" * 100_000 + b"]" * 100_000, "too deep"),
    ],
)
def test_json_that_cannot_be_stored_is_refused_by_name(raw: bytes, error: str) -> None:
    """Each value no store or answer can hold is an IngestError naming the problem."""
    with pytest.raises(IngestError) as caught:
        decode_body(raw, None)
    assert caught.value.error == error


def test_numbers_and_strings_within_range_decode() -> None:
    """The largest floats, integers just inside the float range, surrogate pairs and an escaped
    backslash before `ud800` all decode."""
    big = 10**308
    raw = f'[1.7e308, -1.7e308, {big}, "\\ud83d\\ude00", "\\\\ud800", 5e-324]'.encode()
    assert decode_body(raw, None) == [1.7e308, -1.7e308, big, "\U0001f600", "\\ud800", 5e-324]


@pytest.mark.parametrize(
    "raw", ['["\\ud83d\\ude00"]'.encode("utf-16"), b'\xef\xbb\xbf["\xf0\x9f\x98\x80"]']
)
def test_utf16_and_utf8_with_a_bom_still_decode(raw: bytes) -> None:
    """The encodings json.loads detects are still accepted, decoded strictly."""
    assert decode_body(raw, None) == ["\U0001f600"]


@pytest.mark.parametrize("value", [10**400, -(10**400), float("inf"), float("nan"), True, "1"])
def test_number_without_a_finite_float_is_none(value: object) -> None:
    """`number` answers None for what has no finite float (and for non-numbers)."""
    assert number(value) is None  # type: ignore[arg-type]


def test_number_of_ordinary_values() -> None:
    """`number` converts ints and floats, even large ones within range."""
    assert (number(3), number(2.5), number(10**300)) == (3.0, 2.5, 1e300)


# -- reading with a limit ---------------------------------------------------------------------


async def _stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_read_limited_accepts_exactly_the_limit() -> None:
    """A body of exactly `limit` bytes, in chunks, is read whole."""
    body = asyncio.run(read_limited(_stream(b"ab", b"cd"), declared_length=None, limit=4))
    assert body == b"abcd"


def test_read_limited_stops_at_the_chunk_that_crosses_the_limit() -> None:
    """Without a Content-Length the running count refuses the body; later chunks are not read."""
    read: list[bytes] = []

    async def stream() -> AsyncIterator[bytes]:
        for chunk in (b"ab", b"cde", b"never"):
            read.append(chunk)
            yield chunk

    with pytest.raises(IngestError) as caught:
        asyncio.run(read_limited(stream(), declared_length=None, limit=4))
    assert caught.value.error == "too large"
    assert read == [b"ab", b"cde"]


def test_read_limited_refuses_a_declared_length_before_reading() -> None:
    """A Content-Length over the limit is refused before any chunk is read."""
    with pytest.raises(IngestError, match="too large"):
        asyncio.run(read_limited(_stream(b"x"), declared_length="5", limit=4))


def test_read_limited_refuses_a_declared_length_of_thousands_of_digits() -> None:
    """A Content-Length of 5000 digits is too large, not an int() error."""
    with pytest.raises(IngestError, match="too large"):
        asyncio.run(read_limited(_stream(b"x"), declared_length="9" * 5000, limit=4))


def test_read_limited_ignores_leading_zeros_of_a_declared_length() -> None:
    """A Content-Length padded with zeros is judged by its value."""
    declared = "0" * 30 + "5"
    body = asyncio.run(read_limited(_stream(b"abcde"), declared_length=declared, limit=5))
    assert body == b"abcde"


def test_v3_rows_sharing_an_idempotency_key_upgrade_and_the_first_keeps_it(
    tmp_path: Path,
) -> None:
    """Two rows a version-3 store kept under one key (told apart by eventId) both survive the
    upgrade, and a third event with that key is then a duplicate of the agent's own."""
    path = tmp_path / "v3.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in _MIGRATIONS[:3]:
        for statement in migration.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    for event_id in ("evt_1", "evt_2"):
        body = {"eventId": event_id, "idempotencyKey": "k", "type": "action", "name": event_id}
        db.execute(
            "INSERT INTO events (agent_id, dedupe_field, dedupe_key, body, received_at)"
            " VALUES ('a', 'eventId', ?, ?, 't')",
            (event_id, json.dumps({**body, "status": "success"})),
        )
    db.close()
    store = PlatformStore(path)
    assert [e.body["eventId"] for e in store.events()] == ["evt_1", "evt_2"]
    again = {**_action("evt_3"), "idempotencyKey": "k"}
    assert store.ingest_events("a", [again]).duplicates == 1
    assert store.ingest_events("b", [again]).stored == 1
