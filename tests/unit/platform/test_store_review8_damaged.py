"""A stored event or trace close body that is JSON but not an object (a hand edit, a damaged
copy: `[]`, `null`, `5`) or not text at all (an integer, an empty blob): the console and the CLI
treat it as the damaged record it is (503 with a detail, one `Error:` line), not as an
AttributeError (a bare 500, a traceback)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from tracengent.cli import main
from tracengent.platform import PlatformStore, default_policy
from tracengent.platform._app import create_app

_DAMAGE = ["[]", "null", "5", '"text"', "true", 5, None]


@pytest.fixture
def store(tmp_path: Path) -> PlatformStore:
    store = PlatformStore(tmp_path / "dev.sqlite3")
    store.ingest_events(
        "demo-agent",
        [
            {"eventId": "evt_1", "traceId": "trc_1", "type": "action", "name": "a",
             "status": "success"},
            {"eventId": "evt_2", "type": "action", "name": "b", "status": "success"},
        ],
    )  # fmt: skip
    return store


@pytest.fixture
def unraised(store: PlatformStore) -> Iterator[TestClient]:
    with TestClient(
        create_app(default_policy(), store),
        base_url="http://127.0.0.1:8080",
        raise_server_exceptions=False,
    ) as client:
        yield client


def _damage(store: PlatformStore, sql: str, value: object) -> None:
    with closing(sqlite3.connect(store.path)) as db, db:
        db.execute(sql, (value,))
    db.close()


def _damage_events(store: PlatformStore, value: object) -> None:
    if value is None:
        # `body` is NOT NULL: an empty blob instead.
        value = b""
    _damage(store, "UPDATE events SET body = ?", value)


@pytest.mark.parametrize("value", _DAMAGE)
@pytest.mark.parametrize("path", ["/console/api/state", "/console/api/fragments", "/"])
def test_the_console_answers_503_for_an_event_that_is_not_an_object(
    unraised: TestClient, store: PlatformStore, path: str, value: object
) -> None:
    _damage_events(store, value)
    answer = unraised.get(path)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "unavailable"
    assert "database error" in answer.json()["detail"]


@pytest.mark.parametrize("value", ["[]", "null", 5])
def test_the_console_answers_503_for_a_trace_close_that_is_not_an_object(
    unraised: TestClient, store: PlatformStore, value: object
) -> None:
    store.ingest_trace_close("demo-agent", {"traceId": "trc_1", "op": "Close", "status": "failed"})
    _damage(store, "UPDATE trace_closes SET body = ?", value)
    answer = unraised.get("/console/api/state")
    assert answer.status_code == 503, answer.text
    assert "database error" in answer.json()["detail"]


@pytest.mark.parametrize("value", _DAMAGE)
@pytest.mark.parametrize("command", [["traces"], ["traces", "--json"]])
def test_the_cli_says_one_error_line_for_an_event_that_is_not_an_object(
    store: PlatformStore, command: list[str], value: object
) -> None:
    _damage_events(store, value)
    result = CliRunner().invoke(main, [*command, "--db", str(store.path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("Error: database error"), result.output
    assert "Traceback" not in result.output


def test_the_cli_names_what_the_record_holds_instead(store: PlatformStore) -> None:
    _damage_events(store, "[]")
    result = CliRunner().invoke(main, ["traces", "--db", str(store.path)])
    assert "expected a JSON object, got an array" in result.output, result.output
