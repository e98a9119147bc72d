"""A tool decision whose `outcome` names a deny (`policy_deny`, `egress_deny`) is no unambiguous
allow, whatever `allowed` and `status` say: it parses to a deny that says why."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.wire import ToolDecision


@pytest.mark.parametrize("outcome", ["policy_deny", "egress_deny"])
def test_an_allow_whose_outcome_is_a_deny_is_a_malformed_deny(outcome: str) -> None:
    decision = ToolDecision.from_wire(
        {"allowed": True, "status": "allowed", "outcome": outcome, "reason": "ok"}
    )

    assert decision.allowed is False
    assert decision.status == "denied"
    assert decision.outcome == "malformed_decision"
    assert decision.reason == (
        f"malformed tool decision from the platform: 'allowed' is true but 'outcome' is {outcome!r}"
    )


@pytest.mark.parametrize("outcome", [None, "policy_allow", "no_binding"])
def test_an_allow_whose_outcome_is_no_deny_still_allows(outcome: str | None) -> None:
    raw: dict[str, object] = {"allowed": True, "status": "allowed"}
    if outcome is not None:
        raw["outcome"] = outcome

    decision = ToolDecision.from_wire(raw)

    assert (decision.allowed, decision.status, decision.outcome) == (True, "allowed", outcome)


def test_a_deny_keeps_its_own_outcome() -> None:
    decision = ToolDecision.from_wire(
        {"allowed": False, "status": "denied", "outcome": "egress_deny", "reason": "host"}
    )

    assert (decision.allowed, decision.outcome, decision.reason) == (False, "egress_deny", "host")
