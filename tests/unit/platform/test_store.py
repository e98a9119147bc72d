"""The platform store on its own: schema versioning, idempotent ingest, approvals, budgets."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform import PlatformStore, StoreError
from tracengent.platform._db import SCHEMA_VERSION


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1_795_515_302.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> PlatformStore:
    """A store on a fresh file."""
    return PlatformStore(tmp_path / "db.sqlite3", clock=clock)


def _event(event_id: str, **extra: object) -> JsonObject:
    event: JsonObject = {"eventId": event_id, "type": "action", "name": "n", "status": "success"}
    event.update(extra)  # type: ignore[arg-type]
    return event


def test_schema_version_and_wal_are_set(store: PlatformStore) -> None:
    """A new database carries the current user_version and runs in WAL mode."""
    with closing(sqlite3.connect(store.path)) as db, db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_newer_schema_is_refused(store: PlatformStore) -> None:
    """Opening a database written by a newer version fails with a message saying so."""
    db = sqlite3.connect(store.path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        PlatformStore(store.path)


def test_signing_key_is_shared_by_every_store_of_a_file(store: PlatformStore) -> None:
    """A second store on the same file reads the same signing key (CLI and server agree)."""
    assert PlatformStore(store.path).signing_key == store.signing_key
    assert len(store.signing_key) == 64


def test_resent_batch_stores_each_event_once_and_counts_duplicates(store: PlatformStore) -> None:
    """Re-ingesting a batch stores nothing new and counts every event as a duplicate."""
    batch = [_event("evt_1"), _event("evt_2")]
    assert store.ingest_events("a", batch).stored == 2
    again = store.ingest_events("a", batch)
    assert (again.stored, again.duplicates) == (0, 2)
    assert [e.body["eventId"] for e in store.events()] == ["evt_1", "evt_2"]
    counters = store.counters()["a"]
    assert (counters.events_received, counters.events_stored, counters.duplicates_ignored) == (
        4,
        2,
        2,
    )


def test_trace_without_close_is_open_and_close_sets_status(store: PlatformStore) -> None:
    """A trace with events only is `open`; its close gives status, summary and root request."""
    store.ingest_events("a", [_event("evt_1", traceId="trc_1", rootRequest="do it")])
    (trace,) = store.traces()
    assert (trace.status, trace.root_request) == ("open", "do it")
    close: JsonObject = {"traceId": "trc_1", "op": "Close", "status": "failed", "summary": "s"}
    assert store.ingest_trace_close("a", close)
    assert not store.ingest_trace_close("a", close)
    (trace,) = store.traces()
    assert (trace.status, trace.summary, trace.close) == ("failed", "s", close)


def test_traces_are_newest_first_and_limited(store: PlatformStore) -> None:
    """traces() orders by latest activity, newest first, and honours limit."""
    store.ingest_events("a", [_event("evt_1", traceId="trc_old")])
    store.ingest_events("a", [_event("evt_2", traceId="trc_new")])
    assert [t.trace_id for t in store.traces()] == ["trc_new", "trc_old"]
    assert [t.trace_id for t in store.traces(limit=1)] == ["trc_new"]


def test_pending_approval_expires_after_its_ttl(store: PlatformStore, clock: FakeClock) -> None:
    """An undecided approval reads `expired` once its TTL has passed and can no longer be decided."""
    approval = store.create_approval(agent_id="a", permission="p", context={}, ttl_seconds=60)
    assert approval.status == "pending"
    clock.now += 61
    found = store.approval(approval.approval_id)
    assert found is not None
    assert found.status == "expired"
    with pytest.raises(StoreError, match="already expired"):
        store.decide_approval(approval.approval_id, True)


def test_decide_approval_refuses_unknown_and_decided(store: PlatformStore) -> None:
    """Deciding an unknown id or an already-decided approval raises StoreError."""
    approval = store.create_approval(agent_id="a", permission="p", context={}, ttl_seconds=60)
    assert store.decide_approval(approval.approval_id, False).status == "denied"
    with pytest.raises(StoreError, match="already denied"):
        store.decide_approval(approval.approval_id, True)
    with pytest.raises(StoreError, match="unknown approval"):
        store.decide_approval("apr_nope", True)


def test_llm_event_releases_a_reservation_and_counts_actual_tokens(store: PlatformStore) -> None:
    """An llm_call event with usage.tokens releases one reservation and adds the actual tokens."""
    assert store.reserve_tokens("a", 1000, 600, "trc_1")
    assert not store.reserve_tokens("a", 1000, 500, None)
    store.ingest_events(
        "a", [_event("evt_1", type="llm_call", traceId="trc_1", usage={"tokens": 100})]
    )
    usage = store.token_usage("a")
    assert (usage.used, usage.reserved) == (100, 0)
    assert store.reserve_tokens("a", 1000, 900, None)


def test_llm_event_releases_its_traces_reservation_then_an_untraced_one_then_any(
    store: PlatformStore,
) -> None:
    """An llm_call event releases its own trace's reservation, else one made outside any trace
    (before an older one of another trace), else another trace's."""
    assert store.reserve_tokens("a", 10_000, 600, "trc_a")
    assert store.reserve_tokens("a", 10_000, 300, None)
    assert store.reserve_tokens("a", 10_000, 100, "trc_b")
    released: list[int] = []
    for trace_id in ("trc_b", "trc_c", "trc_c"):
        before = store.token_usage("a").reserved
        event = _event(f"evt_{len(released)}", type="llm_call", traceId=trace_id)
        store.ingest_events("a", [{**event, "usage": {"tokens": 0}}])
        released.append(before - store.token_usage("a").reserved)
    assert released == [100, 300, 600]


def test_llm_event_without_usage_releases_its_reservation_counting_nothing(
    store: PlatformStore,
) -> None:
    """A failed LLM call, recorded without usage, gives its reservation back and uses 0 tokens."""
    assert store.reserve_tokens("a", 1000, 800, "trc_1")
    failed = _event("evt_1", type="llm_call", status="failure", traceId="trc_1")
    store.ingest_events("a", [failed])
    usage = store.token_usage("a")
    assert (usage.used, usage.reserved) == (0, 0)
    assert store.reserve_tokens("a", 1000, 800, "trc_2")
