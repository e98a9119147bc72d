"""`tracengent demo --db` on a database that already holds traces: it shows its own, not those."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore


def test_demo_shows_only_what_it_recorded(tmp_path: Path) -> None:
    """The demo's closing tree holds the traces and events of its run, not every one the
    database held before (a real dev database would print all of them)."""
    path = tmp_path / "dev.sqlite3"
    PlatformStore(path).ingest_events(
        "demo-agent",
        [
            {"eventId": "evt_old1", "traceId": "trc_earlier", "type": "action",
             "name": "earlier step", "status": "success", "rootRequest": "an earlier request"},
            {"eventId": "evt_old2", "type": "action", "name": "earlier standalone",
             "status": "success"},
        ],
    )  # fmt: skip
    result = CliRunner().invoke(main, ["demo", "--db", str(path)])
    assert result.exit_code == 0, result.output
    shown = result.output.split("what the platform stored:", 1)[1]
    assert "'Refund order 42'" in shown
    assert "earlier" not in shown
    assert "trc_earlier" not in shown


def test_demo_help_names_the_database_it_uses_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --db the demo runs on a temporary database (not $TRACENGENT_DEV_DB, which its
    help claimed): the help says so, and the configured database is left untouched."""
    configured = tmp_path / "configured.sqlite3"
    monkeypatch.setenv("TRACENGENT_DEV_DB", str(configured))
    runner = CliRunner()
    shown = " ".join(runner.invoke(main, ["demo", "--help"]).output.split())
    assert "TRACENGENT_DEV_DB" not in shown
    assert "temporary database" in shown
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert not configured.exists()
