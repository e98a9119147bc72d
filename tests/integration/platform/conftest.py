"""Fixtures of the local platform tests: an httpx client per agent against the real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tracengent.testing import RunningPlatform

AgentClient = Callable[..., httpx.Client]


def fetch_token(base_url: str, client_id: str, client_secret: str) -> httpx.Response:
    """POST /v1/oauth/token with client credentials, form-encoded in the contract's order."""
    return httpx.post(
        f"{base_url}/v1/oauth/token",
        content=f"grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )


@pytest.fixture
def agent_client(tracengent_platform: RunningPlatform) -> Iterator[AgentClient]:
    """A factory of httpx clients authenticated as a policy agent (Bearer) or with a raw token."""
    clients: list[httpx.Client] = []

    def make(agent_id: str = "demo-agent", *, token: str | None = None) -> httpx.Client:
        if token is None:
            agent = tracengent_platform.policy.agent(agent_id)
            assert agent is not None
            assert agent.client_id is not None
            assert agent.client_secret is not None
            answer = fetch_token(tracengent_platform.url, agent.client_id, agent.client_secret)
            assert answer.status_code == 200, answer.text
            token = answer.json()["access_token"]
        client = httpx.Client(
            base_url=tracengent_platform.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def demo(agent_client: AgentClient) -> httpx.Client:
    """A client authenticated as demo-agent."""
    return agent_client()
