"""`tracengent grant` with a lifetime beyond any clock: a usage error, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore


@pytest.mark.parametrize("ttl", [str(10**400), str(10**12)])
def test_a_ttl_beyond_a_century_is_a_usage_error(tmp_path: Path, ttl: str) -> None:
    """`--ttl` takes at most 100 years; more is refused like any bad option value (exit 2)."""
    result = CliRunner().invoke(
        main,
        [
            "grant", "--db", str(tmp_path / "dev.sqlite3"), "--from", "demo-agent",
            "--to", "hotel-agent", "--permissions", "hotels:book", "--ttl", ttl,
        ],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--ttl'" in result.output
    assert "grant dlg_" not in result.output


def test_a_century_is_accepted(tmp_path: Path) -> None:
    """The longest lifetime allowed still creates the grant."""
    PlatformStore(tmp_path / "dev.sqlite3")
    result = CliRunner().invoke(
        main,
        [
            "grant", "--db", str(tmp_path / "dev.sqlite3"), "--from", "demo-agent",
            "--to", "hotel-agent", "--permissions", "hotels:book", "--ttl", str(3_155_760_000),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.startswith("grant dlg_")
