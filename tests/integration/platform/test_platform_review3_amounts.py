"""Amount limits on converted amounts: an amount exactly at a limit is within it, whatever the
binary rounding of `amount * rate` (100 USD at 1.1 is 110 EUR, not 110.00000000000001)."""

from __future__ import annotations

import httpx
import pytest

from tracengent.platform import Policy, parse_policy
from tracengent.testing import RunningPlatform

_POLICY = """
currency = "EUR"

[currency_rates]
USD = 1.1
JPY = 0.0061

[[agents]]
id = "payer"
ingest_key = "agk_payer"
permissions = ["payments:*"]

[[rules]]
permission = "payments:refund"
max_amount = 110

[[rules]]
permission = "payments:payout"
require_approval_over = 61
"""


@pytest.fixture
def tracengent_policy() -> Policy:
    """A cap of 110 EUR on refunds, approval over 61 EUR on payouts."""
    return parse_policy(_POLICY)


def _status(platform: RunningPlatform, permission: str, amount: float, currency: str) -> str:
    answer = httpx.post(
        f"{platform.url}/v1/authorize",
        json={"permission": permission, "context": {"amount": amount, "currency": currency}},
        headers={"X-Ingest-Key": "agk_payer"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    status = answer.json()["status"]
    assert isinstance(status, str)
    return status


@pytest.mark.parametrize(
    ("permission", "amount", "currency"),
    [("payments:refund", 100, "USD"), ("payments:payout", 10000, "JPY")],
    ids=["at-the-cap", "at-the-threshold"],
)
def test_an_amount_converting_exactly_to_a_limit_is_within_it(
    tracengent_platform: RunningPlatform, permission: str, amount: float, currency: str
) -> None:
    """100 USD * 1.1 = 110 EUR is not over the 110 EUR cap; 10000 JPY * 0.0061 = 61 EUR is not
    over the 61 EUR approval threshold."""
    assert _status(tracengent_platform, permission, amount, currency) == "allowed"


@pytest.mark.parametrize(
    ("permission", "amount", "expected"),
    [("payments:refund", 100.01, "denied"), ("payments:payout", 10000.01, "pending_approval")],
)
def test_a_cent_over_is_still_over(
    tracengent_platform: RunningPlatform, permission: str, amount: float, expected: str
) -> None:
    """Just over the limit after conversion stays over it."""
    currency = "USD" if permission == "payments:refund" else "JPY"
    assert _status(tracengent_platform, permission, amount, currency) == expected


@pytest.mark.parametrize(
    ("permission", "amount", "shown"),
    [
        ("payments:payout", 10000.01, "61.000061 EUR is over the approval threshold 61.00 EUR"),
        ("payments:refund", 1e300, "1.1e+300 EUR exceeds the limit 110.00 EUR"),
    ],
)
def test_a_reason_shows_the_amount_that_decided(
    tracengent_platform: RunningPlatform, permission: str, amount: float, shown: str
) -> None:
    """An amount a fraction of a cent over a limit is not shown as the limit itself ('61.00
    EUR is over the approval threshold 61.00 EUR'), nor a huge one as 300 digits."""
    currency = "USD" if permission == "payments:refund" else "JPY"
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/authorize",
        json={"permission": permission, "context": {"amount": amount, "currency": currency}},
        headers={"X-Ingest-Key": "agk_payer"},
        timeout=10,
    )
    assert f"amount {shown}" in answer.json()["reason"]
