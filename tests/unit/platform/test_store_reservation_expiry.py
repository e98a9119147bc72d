"""LLM token reservations expire (review): one no `llm_call` event releases held its budget for
ever, so an agent that crashed between authorizing `llm:call` and recording the call spent its
budget on nothing. The store's clock is injected: nothing sleeps."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform import PlatformStore
from tracengent.platform._db import _MIGRATIONS
from tracengent.platform._store_ingest import RESERVATION_TTL_SECONDS


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1_795_515_302.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> PlatformStore:
    return PlatformStore(tmp_path / "db.sqlite3", clock=clock)


def _llm_call(event_id: str, trace_id: str | None, tokens: int) -> JsonObject:
    event: JsonObject = {
        "eventId": event_id,
        "type": "llm_call",
        "name": "chat",
        "status": "success",
        "usage": {"tokens": tokens},
    }
    if trace_id is not None:
        event["traceId"] = trace_id
    return event


def test_an_unreleased_reservation_gives_its_budget_back_after_its_ttl(
    store: PlatformStore, clock: FakeClock
) -> None:
    """Held until `ttl_seconds` have passed (to the second), then not counted: the budget is back."""
    assert store.reserve_tokens("a", 1000, 800, "trc_crashed", ttl_seconds=60)
    clock.now += 59.5
    assert store.token_usage("a").reserved == 800
    assert not store.reserve_tokens("a", 1000, 800, None, ttl_seconds=60)
    clock.now += 0.5
    usage = store.token_usage("a")
    assert (usage.used, usage.reserved) == (0, 0)
    assert store.reserve_tokens("a", 1000, 800, None, ttl_seconds=60)


def test_the_default_ttl_is_the_documented_one(store: PlatformStore, clock: FakeClock) -> None:
    assert RESERVATION_TTL_SECONDS == 900
    assert store.reserve_tokens("a", 1000, 800, None)
    clock.now += RESERVATION_TTL_SECONDS - 1
    assert store.token_usage("a").reserved == 800
    clock.now += 1
    assert store.token_usage("a").reserved == 0


def test_another_calls_event_releases_a_live_reservation_not_a_crashed_one(
    store: PlatformStore, clock: FakeClock
) -> None:
    """A crashed call's expired reservation (older, outside any trace) is not what a later call's
    event releases: that would leave the later call's reservation held until it expires."""
    assert store.reserve_tokens("a", 1000, 700, None, ttl_seconds=60)
    clock.now += 61
    assert store.reserve_tokens("a", 1000, 400, None, ttl_seconds=60)
    store.ingest_events("a", [_llm_call("evt_1", None, 350)])
    usage = store.token_usage("a")
    assert (usage.used, usage.reserved) == (350, 0)
    assert store.reserve_tokens("a", 1000, 650, None, ttl_seconds=60)


def test_a_late_event_releases_its_own_traces_expired_reservation(
    store: PlatformStore, clock: FakeClock
) -> None:
    """A call that outlived its reservation: its event (same trace) settles that one, and
    another trace's live reservation stays held for its own call."""
    assert store.reserve_tokens("a", 1000, 300, "trc_slow", ttl_seconds=60)
    clock.now += 61
    assert store.reserve_tokens("a", 1000, 500, "trc_other", ttl_seconds=60)
    store.ingest_events("a", [_llm_call("evt_1", "trc_slow", 200)])
    usage = store.token_usage("a")
    assert (usage.used, usage.reserved) == (200, 500)


def test_reservations_of_a_version_5_database_expire_after_the_upgrade(tmp_path: Path) -> None:
    """One held (never released) before expiry existed gets the default TTL from the upgrade,
    by the wall clock (the migration's), so it no longer holds the budget for ever."""
    path = tmp_path / "v5.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in _MIGRATIONS[:5]:
        for statement in migration.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 5")
    db.execute("INSERT INTO reservations (agent_id, trace_id, tokens) VALUES ('a', NULL, 800)")
    db.close()
    clock = FakeClock()
    upgraded = PlatformStore(path, clock=clock)
    with closing(sqlite3.connect(path)) as check, check:
        (expires_at_s,) = check.execute("SELECT expires_at_s FROM reservations").fetchone()
    check.close()
    # The default TTL from the upgrade (a minute's slack for a slow test run).
    assert abs(expires_at_s - (time.time() + RESERVATION_TTL_SECONDS)) < 60
    clock.now = expires_at_s - 1
    assert upgraded.token_usage("a").reserved == 800
    clock.now = expires_at_s
    assert upgraded.token_usage("a").reserved == 0
