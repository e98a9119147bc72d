"""`AuthDecision.from_wire` / `ToolDecision.from_wire`: only an unambiguous allow allows."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.redaction import Redaction
from opentelemetry.exporter.tracengent.wire import AuthDecision, AuthObligations, ToolDecision

MALFORMED: list[object] = [
    None,
    [],
    "allowed",
    {},
    {"allowed": "yes", "status": "allowed"},
    {"allowed": "true", "status": "allowed"},
    {"allowed": 1, "status": "allowed"},
    {"allowed": True},
    {"allowed": True, "status": "ALLOWED"},
    {"allowed": True, "status": "pending_approval"},
    {"allowed": False, "status": "allowed"},
    {"allowed": True, "status": ["allowed"]},
    {"allowed": True, "status": {"allowed": True}},
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_auth_decision_is_a_deny(raw: object) -> None:
    """Every malformed decision parses to a deny whose reason says it was malformed."""
    decision = AuthDecision.from_wire(raw)
    assert not decision.allowed
    assert decision.status == "denied"
    assert decision.reason.startswith("malformed decision from the platform")


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_tool_decision_is_a_deny(raw: object) -> None:
    """Every malformed tool decision is a deny with outcome `malformed_decision`."""
    decision = ToolDecision.from_wire(raw)
    assert (decision.allowed, decision.outcome) == (False, "malformed_decision")


def test_full_auth_decision_is_carried_over() -> None:
    """Every documented field of an allow is parsed; wrongly typed optional ones are dropped."""
    decision = AuthDecision.from_wire(
        {
            "allowed": True,
            "status": "allowed",
            "reason": "ok",
            "decisionId": "dec_1",
            "actingFor": "u_1",
            "chain": ["a", 2, "b"],
            "obligations": {
                "maxAmount": 100,
                "requireApprovalOver": "75",
                "currency": "EUR",
                "redactFields": ["$.card", None],
            },
        }
    )
    assert decision.allowed
    assert (decision.decision_id, decision.acting_for, decision.chain) == (
        "dec_1",
        "u_1",
        ["a", "b"],
    )
    assert decision.obligations == AuthObligations(
        max_amount=100.0, require_approval_over=None, redact_fields=["$.card"], currency="EUR"
    )


def test_pending_decision_is_not_allowed() -> None:
    """A pending approval is not an allow and exposes its approval id."""
    decision = AuthDecision.from_wire(
        {"allowed": False, "status": "pending_approval", "approvalId": "apr_1"}
    )
    assert (decision.allowed, decision.pending, decision.approval_id) == (False, True, "apr_1")


def test_allow_with_an_unusable_redaction_is_a_deny() -> None:
    """An allow whose redaction cannot be applied must not let the unredacted body leave."""
    raw = {"allowed": True, "status": "allowed", "redactions": [{"field": "$.a", "strategy": "x"}]}
    decision = ToolDecision.from_wire(raw)
    assert (decision.allowed, decision.outcome) == (False, "malformed_decision")
    not_a_list = {"allowed": True, "status": "allowed", "redactions": "$.a"}
    assert not ToolDecision.from_wire(not_a_list).allowed


def test_deny_with_a_bad_redaction_stays_a_plain_deny() -> None:
    """On a deny nothing is sent, so a bad redaction is ignored and the platform's reason kept."""
    decision = ToolDecision.from_wire(
        {
            "allowed": False,
            "status": "denied",
            "outcome": "egress_deny",
            "reason": "host not allowed",
            "redactions": [7, {"field": "$.b", "strategy": "mask"}],
        }
    )
    assert (decision.outcome, decision.reason) == ("egress_deny", "host not allowed")
    assert decision.redactions == [Redaction("$.b", "mask")]


def test_allowed_tool_decision_carries_redactions() -> None:
    """A well-formed allow keeps its redactions in order."""
    decision = ToolDecision.from_wire(
        {
            "allowed": True,
            "status": "allowed",
            "outcome": "policy_allow",
            "redactions": [{"field": "$.card", "strategy": "mask"}, {"field": "$.cvv"}],
        }
    )
    assert decision.allowed
    assert decision.redactions == [Redaction("$.card", "mask"), Redaction("$.cvv", "remove")]


def test_huge_numbers_in_obligations_do_not_raise() -> None:
    """An integer too large for a float (valid JSON) reads as an absent limit."""
    decision = AuthDecision.from_wire(
        {"allowed": True, "status": "allowed", "obligations": {"maxAmount": 10**400}}
    )
    assert decision.allowed
    assert decision.obligations is not None
    assert decision.obligations.max_amount is None
