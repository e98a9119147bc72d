"""The store commands on a database they cannot use: one clear error line, exit code 1."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore


def _fails_cleanly(args: list[str], *expected: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    # click turned the error into its one-line message: no exception escaped the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: "), result.output
    for text in expected:
        assert text in result.output


@pytest.mark.parametrize(
    "command",
    [["traces"], ["approvals"], ["approve", "apr_x"], ["deny", "apr_x"], ["demo"]],
)
def test_a_file_that_is_not_a_database_is_named_in_the_error(
    tmp_path: Path, command: list[str]
) -> None:
    """A `--db` pointing at some other file says it cannot be opened (not a sqlite traceback)."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just notes\n" * 100)
    _fails_cleanly([*command, "--db", str(path)], str(path), "not a database")


def test_a_db_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    """A `--db` whose directory is a file cannot be created: the error says so."""
    parent = tmp_path / "file"
    parent.write_text("x")
    _fails_cleanly(["dev", "--port", "0", "--db", str(parent / "dev.sqlite3")], str(parent))


def test_a_newer_schema_is_refused_with_the_stores_message(tmp_path: Path) -> None:
    """A database written by a newer Tracengent: the upgrade hint, not a RuntimeError traceback."""
    path = tmp_path / "dev.sqlite3"
    PlatformStore(path)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA user_version = 999")
    _fails_cleanly(["approvals", "--db", str(path)], "newer than this Tracengent")


def test_dev_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    """`tracengent dev --db <not a database>` stops with one line before serving anything."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just notes\n" * 100)
    _fails_cleanly(["dev", "--db", str(path), "--port", "0"], "not a database")


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """A platform database another process holds the write lock of (beyond the busy timeout)."""
    path = tmp_path / "dev.sqlite3"
    PlatformStore(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield path
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_locked_database_is_a_clear_error(locked: Path) -> None:
    """`approve` on a database locked longer than the busy timeout says it is locked."""
    _fails_cleanly(["approve", "--db", str(locked), "apr_x"], "locked")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_dev_refuses_a_host_that_is_not_loopback(tmp_path: Path, host: str) -> None:
    """`dev` serves on loopback only (its built-in credentials are public): others are refused."""
    result = CliRunner().invoke(
        main, ["dev", "--db", str(tmp_path / "dev.sqlite3"), "--port", "0", "--host", host]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--host'" in result.output
    assert "listening on" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["traces"],
        ["approvals"],
        ["approve", "apr_x"],
        ["deny", "apr_x"],
        ["grant", "--from", "demo-agent", "--to", "hotel-agent", "--permissions", "hotels:book"],
    ],
)
def test_a_missing_database_is_an_error_not_a_new_file(tmp_path: Path, command: list[str]) -> None:
    """A mistyped `--db` is named, not silently created: a grant signed with a fresh file's key
    would be refused by the platform actually running, and `traces` would show nothing."""
    path = tmp_path / "typo.sqlite3"
    _fails_cleanly([*command, "--db", str(path)], str(path), "tracengent dev")
    assert not path.exists()
