"""The `tracengent` script comes with the base package; its commands need the `platform` extra.
Without it, each says which extra to install in one `Error:` line (exit 1), not a traceback of
'No module named jwt'."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracengent.cli import main


def _run_without(
    monkeypatch: pytest.MonkeyPatch, missing: str, command: list[str], database: Path
) -> str:
    """`command`'s output, run as if the module `missing` were not installed."""
    database.touch()
    loaded = set(sys.modules)
    gone = (f"{missing}.", "tracengent.platform", "tracengent._demo", "tracengent.cli._render")
    for name in [n for n in sys.modules if n.startswith(gone)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)
    try:
        result = CliRunner().invoke(main, [*command, "--db", str(database)])
    finally:
        # What the failed import left behind goes too (monkeypatch restores the rest).
        for name in set(sys.modules) - loaded:
            del sys.modules[name]
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(
    "command",
    [
        ["dev", "--port", "0"],
        ["demo"],
        ["traces"],
        ["approvals"],
        ["approve", "apr_x"],
        ["deny", "apr_x"],
        ["grant", "--from", "demo-agent", "--to", "hotel-agent", "--permissions", "hotels:book"],
    ],
)
def test_a_command_without_pyjwt_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    output = _run_without(monkeypatch, "jwt", command, tmp_path / "dev.sqlite3")
    assert output.startswith("Error: this command needs the platform extra"), output
    assert "pip install 'tracengent[platform]'" in output
    assert "jwt" in output


@pytest.mark.parametrize("missing", ["starlette", "uvicorn"])
@pytest.mark.parametrize("command", [["dev", "--port", "0"], ["demo"]])
def test_serving_without_the_server_names_the_extra_before_listening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], missing: str
) -> None:
    """`dev` says so before it prints a banner announcing a server that never starts."""
    output = _run_without(monkeypatch, missing, command, tmp_path / "dev.sqlite3")
    assert output.startswith("Error: this command needs the platform extra"), output
    assert missing in output
