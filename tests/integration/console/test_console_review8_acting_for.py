"""An approval held under a delegated token was asked on another agent's authority: the console
and `tracengent approvals` say whose, so the person deciding does not take it for the delegate's
own request."""

from __future__ import annotations

from click.testing import CliRunner
from starlette.testclient import TestClient

from tracengent.cli import main
from tracengent.platform import PlatformStore


def _held(store: PlatformStore, acting_for: str | None) -> str:
    return store.create_approval(
        agent_id="hotel-agent",
        permission="hotels:book",
        context={"amount": 800},
        ttl_seconds=600,
        amount=800,
        currency="EUR",
        acting_for=acting_for,
    ).approval_id


def test_the_console_shows_whom_a_delegated_approval_acts_for(
    console: TestClient, store: PlatformStore
) -> None:
    delegated = _held(store, "demo-agent")
    own = _held(store, None)
    html = console.get("/console/api/fragments").json()["approvals"]
    delegated_row = html.split(f'data-approval-id="{delegated}"')[1].split("</tr>")[0]
    own_row = html.split(f'data-approval-id="{own}"')[1].split("</tr>")[0]
    assert '<span class="acting-for">acting for demo-agent</span>' in delegated_row
    assert "for hotel-agent acting for demo-agent" in delegated_row  # the buttons' label
    assert "acting for" not in own_row


def test_tracengent_approvals_shows_whom_a_delegated_approval_acts_for(
    store: PlatformStore,
) -> None:
    delegated = _held(store, "demo-agent")
    own = _held(store, None)
    result = CliRunner().invoke(main, ["approvals", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    lines = {line.split(" ")[0]: line for line in result.output.splitlines()}
    assert " hotel-agent (acting for demo-agent) hotels:book 800 EUR " in lines[delegated]
    assert "acting for" not in lines[own]
