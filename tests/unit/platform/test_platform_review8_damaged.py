"""The platform's endpoints over a record damaged in the database (edited by hand, a damaged
copy): a `503` naming the damaged record, as the console answers, not a bare `500` (and an
ASGI traceback in the server's log); the governance answer is still a deny."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tracengent.platform import PlatformStore, create_grant, default_policy
from tracengent.platform._app import create_app


@pytest.fixture
def store(tmp_path: Path) -> PlatformStore:
    return PlatformStore(tmp_path / "dev.sqlite3")


@pytest.fixture
def unraised(store: PlatformStore) -> Iterator[TestClient]:
    with TestClient(
        create_app(default_policy(), store),
        base_url="http://127.0.0.1:8080",
        raise_server_exceptions=False,
    ) as client:
        yield client


def _damage(store: PlatformStore, sql: str) -> None:
    with closing(sqlite3.connect(store.path)) as db, db:
        db.execute(sql)
    db.close()


def test_a_damaged_approval_is_a_503_naming_it(unraised: TestClient, store: PlatformStore) -> None:
    held = store.create_approval(
        agent_id="demo-agent", permission="payments:refund", context={}, ttl_seconds=600
    )
    _damage(store, "UPDATE approvals SET context = '{broken'")
    answer = unraised.get(f"/v1/approvals/{held.approval_id}", headers={"X-Ingest-Key": "agk_demo"})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "unavailable"
    assert "not valid JSON" in answer.json()["detail"]


def test_a_damaged_grant_denies_with_a_503_naming_it(
    unraised: TestClient, store: PlatformStore
) -> None:
    _, token = create_grant(
        store,
        default_policy(),
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=["hotels:book"],
        ttl_seconds=600,
    )
    _damage(store, "UPDATE grants SET chain = '[broken'")
    answer = unraised.post(
        "/v1/authorize",
        json={"permission": "hotels:book"},
        headers={"Authorization": f"Bearer {token.access_token}"},
    )
    assert answer.status_code == 503, answer.text
    assert "database error" in answer.json()["detail"]
    assert store.decisions() == []
