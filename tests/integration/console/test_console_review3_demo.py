"""`tracengent demo` against a database a real agent uses at the same time: the demo's simulated
person decides only the approvals the demo's own agent asked for."""

from __future__ import annotations

from pathlib import Path

from tracengent import _demo
from tracengent.platform import ApprovalRecord, LocalPlatform


def test_the_demo_leaves_alone_an_approval_a_real_agent_asks_for_meanwhile(
    tmp_path: Path,
) -> None:
    """A real request that arrives while the demo runs (before the demo's own) stays pending."""
    with LocalPlatform(tmp_path / "dev.sqlite3") as platform:
        store = platform.store
        real: list[ApprovalRecord] = []
        lines: list[str] = []

        def echo(line: str) -> None:
            lines.append(line)
            if line.startswith("2. Authorization"):
                # A real agent, on the same platform, asks a person for a refund right now.
                real.append(
                    store.create_approval(
                        agent_id="demo-agent",
                        permission="payments:refund",
                        context={"amount": 900, "currency": "EUR"},
                        ttl_seconds=3600,
                        amount=900,
                        currency="EUR",
                    )
                )

        # As `tracengent demo` gives it.
        _demo.run(
            _demo.DemoPlatform.of_local(platform),
            echo,
        )
        (request,) = real
        after = store.approval(request.approval_id)
        assert after is not None
        assert after.status == "pending"
        assert not any(request.approval_id in line for line in lines)
        assert "   refund 800 EUR after the wait: approved" in lines
