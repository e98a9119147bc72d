"""The CLI on odd inputs: a policy file that is not UTF-8, odd fields of stored events."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore


def _fails_cleanly(args: list[str], *expected: str) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    # click turned the error into its one-line message: no exception escaped the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: "), result.output
    for text in expected:
        assert text in result.output, result.output
    return result.output


@pytest.mark.parametrize(
    "command",
    [
        ["dev", "--port", "0"],
        ["grant", "--from", "demo-agent", "--to", "demo-agent", "--permissions", "x"],
    ],
)
def test_a_policy_file_that_is_not_utf8_is_one_error_line(
    tmp_path: Path, command: list[str]
) -> None:
    """A --policy saved in another encoding (or a binary file) names the file, not a traceback."""
    PlatformStore(tmp_path / "dev.sqlite3")
    policy = tmp_path / "policy.toml"
    policy.write_bytes(b'\xff\xfe[[agents]]\nid = "caf\xe9"\n')
    _fails_cleanly(
        [*command, "--db", str(tmp_path / "dev.sqlite3"), "--policy", str(policy)],
        str(policy),
        "UTF-8",
    )


def test_a_cost_without_a_currency_shows_no_none(tmp_path: Path) -> None:
    """A cost whose currency is null (or not text) shows its amount alone, not `1.5 None`."""
    store = PlatformStore(tmp_path / "dev.sqlite3")
    store.ingest_events(
        "demo-agent",
        [
            {"eventId": "evt_1", "type": "action", "name": "a", "status": "success",
             "cost": {"amount": 1.5, "currency": None}},
            {"eventId": "evt_2", "type": "action", "name": "b", "status": "success",
             "cost": {"amount": 2, "currency": {"code": "EUR"}}},
            {"eventId": "evt_3", "type": "action", "name": "c", "status": "success",
             "cost": {"amount": 3, "currency": "EUR"}},
        ],
    )  # fmt: skip
    result = CliRunner().invoke(main, ["traces", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  - action a [success] cost 1.5" in lines
    assert "  - action b [success] cost 2" in lines
    assert "  - action c [success] cost 3 EUR" in lines


def _corrupt_first_event(store: PlatformStore) -> None:
    """Overwrite the stored body of the first event with text that is not JSON (a hand edit,
    a damaged copy): the file is still a database, one record is not."""
    with closing(sqlite3.connect(store.path)) as db, db:
        db.execute("UPDATE events SET body = '{broken' WHERE seq = (SELECT MIN(seq) FROM events)")
    db.close()


@pytest.mark.parametrize("command", [["traces"], ["traces", "--json"]])
def test_a_stored_record_that_is_not_json_is_one_error_line(
    tmp_path: Path, command: list[str]
) -> None:
    """A corrupt record is a database error naming the database, exit 1, not a JSON traceback."""
    store = PlatformStore(tmp_path / "dev.sqlite3")
    store.ingest_events(
        "demo-agent",
        [{"eventId": "evt_1", "traceId": "trc_1", "type": "action", "name": "a",
          "status": "success"}],
    )  # fmt: skip
    _corrupt_first_event(store)
    _fails_cleanly([*command, "--db", str(store.path)], "database error", "not valid JSON")
