"""The CLI's answers to a new user's usual mistakes say what to do next, in one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore


def test_dev_on_a_port_in_use_suggests_another_port(tmp_path: Path) -> None:
    """`tracengent dev` on a taken port (another `tracengent dev` still running) names the
    address and the option that picks another, not just the OS error."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["dev", "--port", str(port), "--db", str(tmp_path / "dev.sqlite3")]
        )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith(f"Error: cannot listen on 127.0.0.1:{port}: "), result.output
    assert "--port 0" in result.output


def test_approve_of_an_unknown_id_says_where_the_ids_are(tmp_path: Path) -> None:
    """`tracengent approve` of an id the database does not hold (a typo, another --db) says
    which command lists the pending approvals."""
    db = str(tmp_path / "dev.sqlite3")
    PlatformStore(db)
    result = CliRunner().invoke(main, ["approve", "apr_nope", "--db", db])
    assert result.exit_code == 1, result.output
    assert "unknown approval 'apr_nope'" in result.output
    assert "tracengent approvals --status pending" in result.output


def test_a_blank_dev_db_setting_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`TRACENGENT_DEV_DB` of only spaces (a chart's empty default) is the default database in
    the user's data dir, not a file named by spaces in the working directory."""
    from tracengent.cli._store_commands import default_db_path

    monkeypatch.delenv("TRACENGENT_DEV_DB", raising=False)
    default = default_db_path()
    assert default.name == "dev.sqlite3"
    monkeypatch.setenv("TRACENGENT_DEV_DB", "   ")
    assert default_db_path() == default
    monkeypatch.setenv("TRACENGENT_DEV_DB", "/tmp/mine.sqlite3")
    assert str(default_db_path()) == "/tmp/mine.sqlite3"
