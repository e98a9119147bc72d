"""The console over a database holding a record that is not valid JSON (edited by hand, damaged)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest
from starlette.testclient import TestClient

from tests.integration.console.conftest import event
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


@pytest.mark.parametrize("path", ["/console/api/state", "/console/api/fragments", "/"])
def test_a_record_that_is_not_json_is_a_clear_json_error(
    unraised: TestClient, store: PlatformStore, path: str
) -> None:
    """The page's script gets 503 and a detail it can show (as for a locked database), not a
    bare 500 it cannot parse; the security headers are still set."""
    store.ingest_events("demo-agent", [event("evt_1", "refund")])
    with closing(sqlite3.connect(store.path)) as db, db:
        db.execute("UPDATE events SET body = '{broken'")
    db.close()
    answer = unraised.get(path)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "unavailable"
    assert "not valid JSON" in answer.json()["detail"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
