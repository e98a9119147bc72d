"""The console while another process holds the database's write lock past the busy timeout."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.integration.console.conftest import csrf_token
from tracengent.platform import PlatformStore, default_policy
from tracengent.platform._app import create_app


@pytest.fixture
def unraised(store: PlatformStore) -> Iterator[TestClient]:
    """The platform app over `store`, answering server errors as a real server would."""
    with TestClient(
        create_app(default_policy(), store),
        base_url="http://127.0.0.1:8080",
        raise_server_exceptions=False,
    ) as client:
        yield client


def test_a_decision_on_a_locked_database_is_a_clear_json_error(
    unraised: TestClient, store: PlatformStore
) -> None:
    """The page's script gets 503 and a JSON detail it can show, not a bare 500; nothing decided."""
    approval = store.create_approval(
        agent_id="demo-agent", permission="payments:refund", context={}, ttl_seconds=600
    )
    token = csrf_token(unraised.get("/").text)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        answer = unraised.post(
            f"/console/approvals/{approval.approval_id}/approve",
            headers={"X-Tracengent-CSRF": token, "Accept": "application/json"},
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "unavailable"
    assert "locked" in answer.json()["detail"]
    assert answer.headers["cache-control"] == "no-store"
    still = store.approval(approval.approval_id)
    assert still is not None
    assert still.status == "pending"
