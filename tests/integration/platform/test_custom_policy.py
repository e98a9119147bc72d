"""The `tracengent_policy` fixture override: the platform runs the policy a test module gives."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import httpx
import pytest

from tests.integration.platform.conftest import fetch_token
from tracengent.testing import RunningPlatform


@pytest.fixture
def tracengent_policy() -> Path:
    """This module's platforms run the shipped example policy."""
    return Path(str(resources.files("tracengent.platform") / "example_policy.toml"))


def test_platform_runs_the_overridden_policy(tracengent_platform: RunningPlatform) -> None:
    """The example policy's agent gets a token; the built-in demo agent does not exist there."""
    assert fetch_token(tracengent_platform.url, "key_demo", "ags_demo").status_code == 401
    token = fetch_token(tracengent_platform.url, "key_travel", "ags_travel").json()["access_token"]
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/authorize",
        json={"permission": "payments:refund", "context": {"amount": 300, "currency": "EUR"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.json()["status"] == "pending_approval"


def test_options_refuses_an_agent_missing_from_the_policy(
    tracengent_platform: RunningPlatform,
) -> None:
    """options() for an agent the policy does not define raises a config error."""
    with pytest.raises(ValueError, match="not in the platform's policy"):
        tracengent_platform.options("demo-agent")
