"""An `llm:call` reservation never reconciled gives its budget back after the policy's
`llm_reservation_ttl_seconds`, on the real local platform with an injected clock (no sleeping).

Before, an agent that crashed after authorizing `llm:call` (so never recorded its `llm_call`
event) held the reserved tokens for ever: every later call was denied once the budget was held.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.platform.conftest import fetch_token
from tracengent.platform import LocalPlatform, PolicyError, default_policy, parse_policy

_POLICY = """
llm_reservation_ttl_seconds = 120

[[agents]]
id = "spender"
client_id = "key_spender"
client_secret = "ags_spender"
permissions = ["llm:call"]
llm_token_budget = 10000
"""


def _ask(client: httpx.Client, tokens: int) -> dict[str, object]:
    answer = client.post(
        "/v1/authorize",
        json={"permission": "llm:call", "context": {"estimatedTokens": tokens, "model": "m"}},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_crashed_calls_reservation_expires_and_the_budget_comes_back(tmp_path: Path) -> None:
    now = [1_795_515_302.0]
    with (
        LocalPlatform(
            tmp_path / "db.sqlite3", parse_policy(_POLICY), clock=lambda: now[0]
        ) as platform,
        httpx.Client(base_url=platform.url) as client,
    ):
        token = fetch_token(platform.url, "key_spender", "ags_spender").json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        assert _ask(client, 6000)["status"] == "allowed"  # ... and the agent crashes
        now[0] += 119
        held = _ask(client, 6000)
        assert held["status"] == "denied"
        assert "4000 of 10000 left" in str(held["reason"])
        now[0] += 1
        assert _ask(client, 6000)["status"] == "allowed"
        usage = platform.store.token_usage("spender")
    assert (usage.used, usage.reserved) == (0, 6000)


def test_the_option_defaults_to_900_seconds_and_is_checked() -> None:
    minimal = _POLICY.replace("llm_reservation_ttl_seconds = 120\n", "")
    assert parse_policy(minimal).llm_reservation_ttl_seconds == 900
    assert default_policy().llm_reservation_ttl_seconds == 900
    assert parse_policy(_POLICY).llm_reservation_ttl_seconds == 120
    for bad in ("0", "-5", "1.5", '"60"', "true"):
        with pytest.raises(PolicyError, match="llm_reservation_ttl_seconds"):
            parse_policy(_POLICY.replace("= 120", f"= {bad}"))
