"""`AuthDecision.from_wire` / `ToolDecision.from_wire`: only an unambiguous allow allows."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.redaction import Redaction
from opentelemetry.exporter.tracengent.wire import (
    AuthDecision,
    AuthObligations,
    ToolDecision,
    usable_approval_id,
)

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
    """Every documented field of an allow is parsed; wrongly typed items of `chain` are dropped
    (obligations must be well formed: see below)."""
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
                "requireApprovalOver": 75,
                "currency": "EUR",
                "redactFields": ["$.card"],
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
        max_amount=100.0, require_approval_over=75.0, redact_fields=["$.card"], currency="EUR"
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
    """An integer too large for a float (valid JSON) is a limit the SDK cannot hold: the allow
    is a malformed decision (a deny naming it), never an exception or an allow without it."""
    decision = AuthDecision.from_wire(
        {"allowed": True, "status": "allowed", "obligations": {"maxAmount": 10**400}}
    )
    assert not decision.allowed
    assert "'obligations.maxAmount' must be a finite number" in decision.reason


@pytest.mark.parametrize(
    ("obligations", "named"),
    [
        ("redact $.card", "'obligations' must be an object"),
        ([{"redactFields": ["$.card"]}], "'obligations' must be an object"),
        ({"redactFields": "$.card"}, "'obligations.redactFields' must be a list"),
        ({"redactFields": ["$.card", 7]}, "cannot be applied: 7"),
        ({"redactFields": ["$..card"]}, "cannot be applied: '$..card'"),
        ({"maxAmount": "500"}, "'obligations.maxAmount' must be a finite number"),
        ({"requireApprovalOver": True}, "'obligations.requireApprovalOver' must be a finite"),
        ({"maxAmount": float("nan")}, "'obligations.maxAmount' must be a finite number"),
        ({"currency": 978}, "'obligations.currency' must be a string"),
    ],
)
@pytest.mark.parametrize("status", ["allowed", "pending_approval"])
def test_an_allow_with_obligations_it_cannot_read_is_a_deny(
    obligations: object, named: str, status: str
) -> None:
    """Obligations the SDK cannot read are never dropped silently: the allow (or the approval
    that would become one) is a malformed decision naming what was wrong."""
    decision = AuthDecision.from_wire(
        {"allowed": status == "allowed", "status": status, "obligations": obligations}
    )
    assert (decision.allowed, decision.status, decision.obligations) == (False, "denied", None)
    assert decision.reason.startswith("malformed decision from the platform")
    assert named in decision.reason


def test_a_deny_with_unreadable_obligations_stays_the_platforms_deny() -> None:
    """On a deny the obligations do not matter: its reason is kept."""
    decision = AuthDecision.from_wire(
        {"allowed": False, "status": "denied", "reason": "over budget", "obligations": "x"}
    )
    assert (decision.allowed, decision.reason, decision.obligations) == (False, "over budget", None)


def test_null_obligation_fields_are_absent() -> None:
    """`null` limits, currency and fields read as absent, not as malformed."""
    raw = {"maxAmount": None, "requireApprovalOver": None, "currency": None, "redactFields": None}
    decision = AuthDecision.from_wire({"allowed": True, "status": "allowed", "obligations": raw})
    assert decision.allowed
    assert decision.obligations == AuthObligations()


@pytest.mark.parametrize(
    ("raw", "usable"),
    [
        ("apr_1", "apr_1"),
        ("a/b", "a/b"),
        ("", None),
        ("  ", None),
        (".", None),
        ("..", None),
        (" .. ", None),
        (7, None),
        (None, None),
    ],
)
def test_only_an_id_that_names_an_approval_is_kept(raw: object, usable: str | None) -> None:
    """An empty id or a dot segment would make the poll read another path's answer."""
    assert usable_approval_id(raw) == usable
    pending = {"allowed": False, "status": "pending_approval", "approvalId": raw}
    assert AuthDecision.from_wire(pending).approval_id == usable
    assert ToolDecision.from_wire(pending).approval_id == usable


@pytest.mark.parametrize("path", ["$..card", "$.card*", "$.cards[*x]", "$['card']", ""])
def test_an_allow_whose_redaction_path_cannot_be_applied_is_a_deny(path: str) -> None:
    """A redaction path outside the grammar would be skipped, letting the value it names leave:
    on an allow it makes the decision malformed."""
    decision = ToolDecision.from_wire(
        {"allowed": True, "status": "allowed", "redactions": [{"field": path, "strategy": "mask"}]}
    )
    assert (decision.allowed, decision.outcome) == (False, "malformed_decision")
