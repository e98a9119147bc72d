"""LLM token budgets over loopback: reservations racing on real threads, and a spent budget."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tracengent.platform import Policy, parse_policy
from tracengent.testing import RunningPlatform

_POLICY = """
[[agents]]
id = "spender"
ingest_key = "agk_spender"
permissions = ["llm:call"]
llm_token_budget = 100

[[agents]]
id = "no-llm"
ingest_key = "agk_no_llm"
permissions = ["llm:call"]
llm_token_budget = 0
"""


@pytest.fixture
def tracengent_policy() -> Policy:
    """`spender` may use 100 LLM tokens, `no-llm` none."""
    return parse_policy(_POLICY)


def _llm_call(platform: RunningPlatform, key: str, estimated: int) -> str:
    answer = httpx.post(
        f"{platform.url}/v1/authorize",
        json={"permission": "llm:call", "context": {"estimatedTokens": estimated, "model": None}},
        headers={"X-Ingest-Key": key},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    status = answer.json()["status"]
    assert isinstance(status, str)
    return status


def test_racing_reservations_never_overspend(tracengent_platform: RunningPlatform) -> None:
    """16 threads each reserving 30 of 100 tokens at once: exactly 3 are allowed."""
    with ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(lambda _: _llm_call(tracengent_platform, "agk_spender", 30), range(16))
        )
    assert statuses.count("allowed") == 3
    assert statuses.count("denied") == 13
    usage = tracengent_platform.store.token_usage("spender")
    assert (usage.used, usage.reserved) == (0, 90)


def test_a_budget_of_zero_allows_no_call(tracengent_platform: RunningPlatform) -> None:
    """An agent that may use no tokens is denied even a call estimated at 0 tokens."""
    assert _llm_call(tracengent_platform, "agk_no_llm", 0) == "denied"


def test_a_spent_budget_allows_no_call(tracengent_platform: RunningPlatform) -> None:
    """Once every token is reserved or used, a call estimated at 0 is denied too; while tokens
    are left it is allowed."""
    assert _llm_call(tracengent_platform, "agk_spender", 0) == "allowed"
    assert _llm_call(tracengent_platform, "agk_spender", 100) == "allowed"
    assert _llm_call(tracengent_platform, "agk_spender", 0) == "denied"


@pytest.mark.parametrize(("sent", "counted"), [("80.0", 80), ("79.5", 80), ("8e1", 80)])
def test_a_token_count_written_as_a_float_is_counted(
    tracengent_platform: RunningPlatform, sent: str, counted: int
) -> None:
    """`usage.tokens` is a JSON number: `80.0` (what an SDK writes for a float attribute) is the
    count 80, a fraction counts up; the budget is spent by it, not left untouched."""
    assert _llm_call(tracengent_platform, "agk_spender", 80) == "allowed"
    head = '[{"type":"llm_call","name":"chat","status":"success","usage":{"tokens":'
    event = f"{head}{sent}}}}}]"
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/ingest/events",
        content=event,
        headers={"X-Ingest-Key": "agk_spender", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    usage = tracengent_platform.store.token_usage("spender")
    assert (usage.used, usage.reserved) == (counted, 0)
    assert _llm_call(tracengent_platform, "agk_spender", 30) == "denied"
