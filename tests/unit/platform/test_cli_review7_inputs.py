"""The CLI on odd inputs: a policy file that is not UTF-8."""

from __future__ import annotations

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
