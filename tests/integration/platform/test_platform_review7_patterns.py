"""A requested permission is one permission, never a pattern: `payments:*` (or `*`) asked of
`/v1/authorize` matched no rule, so an agent holding `payments:*` got an allow with no cap for
any amount, though every refund is capped (wire contract §9: patterns are granted, not asked)."""

from __future__ import annotations

import httpx
import pytest

from tracengent.platform import Policy, parse_policy
from tracengent.testing import RunningPlatform

_POLICY = """
[[agents]]
id = "payer"
ingest_key = "agk_payer"
permissions = ["payments:*"]

[[agents]]
id = "root"
ingest_key = "agk_root"
permissions = ["*"]

[[rules]]
permission = "payments:refund"
max_amount = 1000
"""


@pytest.fixture
def tracengent_policy() -> Policy:
    """Refunds are capped at 1000 EUR; payer holds payments:*, root holds everything."""
    return parse_policy(_POLICY)


def _authorize(platform: RunningPlatform, key: str, permission: str) -> dict[str, object]:
    answer = httpx.post(
        f"{platform.url}/v1/authorize",
        json={"permission": permission, "context": {"amount": 5000}},
        headers={"X-Ingest-Key": key},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


@pytest.mark.parametrize(
    ("key", "permission"),
    [("agk_payer", "payments:*"), ("agk_root", "*"), ("agk_root", "payments:*")],
)
def test_a_pattern_is_denied_not_allowed_past_the_rules(
    tracengent_platform: RunningPlatform, key: str, permission: str
) -> None:
    answer = _authorize(tracengent_platform, key, permission)
    assert (answer["allowed"], answer["status"]) == (False, "denied")
    assert "pattern" in str(answer["reason"])


def test_a_permission_the_pattern_covers_is_decided_by_its_rule(
    tracengent_platform: RunningPlatform,
) -> None:
    """The cap still denies a 5000 refund, and an uncapped payments permission is allowed."""
    refund = _authorize(tracengent_platform, "agk_payer", "payments:refund")
    assert (refund["status"], "exceeds the limit" in str(refund["reason"])) == ("denied", True)
    assert _authorize(tracengent_platform, "agk_payer", "payments:payout")["allowed"] is True
