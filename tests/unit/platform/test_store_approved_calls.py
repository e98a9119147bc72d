"""The store's approved tool calls: an approval of a held call is used once, by that agent's
same call, within the TTL of its decision; a version-2 database upgrades keeping its approvals."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tracengent.platform import PlatformStore
from tracengent.platform._db import _MIGRATIONS, SCHEMA_VERSION

TTL = 3600.0


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


def _held(store: PlatformStore, digest: str = "d1", agent: str = "a", permission: str = "p") -> str:
    record = store.create_approval(
        agent_id=agent, permission=permission, context={}, ttl_seconds=TTL, call_digest=digest
    )
    return record.approval_id


def _use(
    store: PlatformStore, digest: str = "d1", agent: str = "a", permission: str = "p"
) -> str | None:
    used = store.use_approved_call(
        agent_id=agent, permission=permission, call_digest=digest, within_seconds=TTL
    )
    return None if used is None else used.approval_id


def test_an_approved_call_is_used_once(store: PlatformStore) -> None:
    """The approved approval is taken by the first use (marked used) and by no later one."""
    approval_id = _held(store)
    store.decide_approval(approval_id, True)
    assert _use(store) == approval_id
    assert _use(store) is None
    found = store.approval(approval_id)
    assert found is not None
    assert (found.status, found.used_at is not None) == ("approved", True)
    assert found.to_json()["usedAt"] == found.used_at


def test_pending_denied_and_expired_approvals_are_never_used(
    store: PlatformStore, clock: FakeClock
) -> None:
    """Only an approved approval is used: a pending, denied or expired one never is."""
    pending = _held(store, "pending")
    denied = _held(store, "denied")
    store.decide_approval(denied, False)
    expired = _held(store, "expired")
    assert [_use(store, d) for d in ("pending", "denied")] == [None, None]
    clock.now += TTL + 1
    assert [_use(store, d) for d in ("pending", "denied", "expired")] == [None, None, None]
    statuses = [store.approval(a) for a in (pending, denied, expired)]
    assert [s.status if s else None for s in statuses] == ["expired", "denied", "expired"]


def test_an_approval_is_usable_within_the_ttl_of_its_decision(
    store: PlatformStore, clock: FakeClock
) -> None:
    """An approval decided longer ago than the TTL allows nothing any more."""
    fresh, stale = _held(store, "fresh"), _held(store, "stale")
    store.decide_approval(stale, True)
    clock.now += TTL - 10
    store.decide_approval(fresh, True)
    clock.now += 11
    assert _use(store, "stale") is None
    assert _use(store, "fresh") == fresh


def test_only_the_same_agent_call_and_permission_use_it(store: PlatformStore) -> None:
    """Another digest, another agent or another permission does not take the approval."""
    approval_id = _held(store)
    store.decide_approval(approval_id, True)
    assert _use(store, digest="d2") is None
    assert _use(store, agent="b") is None
    assert _use(store, permission="q") is None
    assert _use(store) == approval_id


def test_an_approval_without_a_digest_allows_no_call(store: PlatformStore) -> None:
    """An `/v1/authorize` approval (no call digest) is never used by a tool call."""
    record = store.create_approval(agent_id="a", permission="p", context={}, ttl_seconds=TTL)
    store.decide_approval(record.approval_id, True)
    assert _use(store) is None


def test_a_version_2_database_upgrades_keeping_its_approvals(tmp_path: Path) -> None:
    """A version-2 approval survives the upgrade, reads as before, and allows no tool call."""
    path = tmp_path / "v2.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in _MIGRATIONS[:2]:
        for statement in migration.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    db.execute(
        "INSERT INTO approvals (id, agent_id, permission, context, created_at, expires_at_s,"
        " status, decided_at) VALUES ('apr_old', 'a', 'p', '{}', 't', 9e18, 'approved', 't')"
    )
    db.close()
    store = PlatformStore(path)
    with closing(sqlite3.connect(path)) as check, check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    check.close()
    old = store.approval("apr_old")
    assert old is not None
    assert (old.status, old.used_at) == ("approved", None)
    assert old.acting_for is None  # held before version 5: read as the agent's own authority
    assert _use(store) is None
    new = _held(store)
    store.decide_approval(new, True)
    assert _use(store) == new
