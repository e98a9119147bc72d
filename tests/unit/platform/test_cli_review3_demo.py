"""`tracengent demo --db` on a database that already holds a person's pending approval."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore


def test_demo_decides_only_its_own_approvals(tmp_path: Path) -> None:
    """The demo's simulated person leaves alone an approval that was waiting before it ran."""
    path = tmp_path / "dev.sqlite3"
    waiting = PlatformStore(path).create_approval(
        agent_id="demo-agent",
        permission="payments:refund",
        context={"amount": 900, "currency": "EUR"},
        ttl_seconds=3600,
        amount=900,
        currency="EUR",
    )
    result = CliRunner().invoke(main, ["demo", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert waiting.approval_id not in result.output
    after = PlatformStore(path).approval(waiting.approval_id)
    assert after is not None
    assert after.status == "pending"
    # The demo's own approval was still decided by its simulated person.
    assert "(a person approved apr_" in result.output
    assert "refund 800 EUR after the wait: approved" in result.output
