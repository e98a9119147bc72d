"""An amount whose currency is named but empty is in no known currency: denied, not read as the
policy's own currency (which could put an amount in a dearer currency under the cap)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.platform.conftest import AgentClient
from tracengent.testing import RunningPlatform


@pytest.mark.parametrize("currency", ["", "EUR", None])
def test_an_empty_currency_is_refused_not_taken_for_the_policy_one(
    demo: httpx.Client, tracengent_platform: RunningPlatform, currency: str | None
) -> None:
    """A 400 refund with `currency: ""` is denied naming the currency; in EUR (said or left out)
    it is allowed under the built-in 1000 EUR cap."""
    context: dict[str, object] = {"amount": 400}
    if currency is not None:
        context["currency"] = currency
    answer = demo.post(
        "/v1/authorize", json={"permission": "payments:refund", "context": context}
    ).json()
    if currency == "":
        assert (answer["allowed"], answer["status"]) == (False, "denied")
        assert "currency" in answer["reason"]
    else:
        assert (answer["allowed"], answer["status"]) == (True, "allowed")


def test_an_empty_currency_without_an_amount_is_not_a_reason_to_deny(
    agent_client: AgentClient,
) -> None:
    """A tool body naming no amount is not judged by its (empty) currency field."""
    answer = agent_client().post(
        "/v1/tool-authorize",
        json={
            "transport": "function",
            "functionName": "book_flight",
            "body": {"flight": "LH1", "currency": ""},
        },
    )
    assert answer.json()["status"] == "allowed", answer.text
