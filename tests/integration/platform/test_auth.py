"""Token issue and verification on the real local platform (wire contract §1)."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest

from tests.integration.platform.conftest import AgentClient, fetch_token
from tracengent.platform import LocalPlatform
from tracengent.testing import RunningPlatform

_EVENT = [{"type": "action", "name": "n", "status": "success"}]


def test_token_is_a_signed_jwt_with_subject_permissions_and_expiry(
    tracengent_platform: RunningPlatform,
) -> None:
    """A token request answers a Bearer JWT verifiable with the store's key, carrying sub/permissions/exp."""
    answer = fetch_token(tracengent_platform.url, "key_demo", "ags_demo")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    claims = jwt.decode(
        body["access_token"], tracengent_platform.store.signing_key, algorithms=["HS256"]
    )
    assert claims["sub"] == "demo-agent"
    assert "payments:refund" in claims["permissions"]
    assert claims["exp"] - claims["iat"] == 900


def test_refreshed_token_works_as_well(agent_client: AgentClient) -> None:
    """Requesting a second token (a refresh) gives one the platform accepts too."""
    agent_client()
    second = agent_client()
    assert second.post("/v1/ingest/events", json=_EVENT).status_code == 200


def test_wrong_secret_and_unknown_client_get_401(tracengent_platform: RunningPlatform) -> None:
    """A bad secret or an unknown client id is refused with 401 invalid_client."""
    for client_id, secret in (("key_demo", "ags_wrong"), ("key_nobody", "ags_demo")):
        answer = fetch_token(tracengent_platform.url, client_id, secret)
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"


def test_disabled_agent_gets_401_for_token_and_ingest_key(
    tracengent_platform: RunningPlatform,
) -> None:
    """A disabled agent cannot get a token nor use its ingest key."""
    assert fetch_token(tracengent_platform.url, "key_disabled", "ags_disabled").status_code == 401
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/ingest/events",
        json=_EVENT,
        headers={"X-Ingest-Key": "agk_disabled"},
    )
    assert answer.status_code == 401
    assert tracengent_platform.store.events() == []


def test_unsupported_grant_type_is_400(tracengent_platform: RunningPlatform) -> None:
    """A grant type other than client_credentials is a 400."""
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/oauth/token",
        data={"grant_type": "password", "client_id": "key_demo", "client_secret": "ags_demo"},
    )
    assert answer.status_code == 400


def test_forged_token_gets_401(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """A JWT signed with another key is refused and nothing is stored."""
    forged = jwt.encode(
        {
            "iss": "tracengent-local",
            "sub": "demo-agent",
            "exp": 4_102_444_800,
            "permissions": ["*"],
        },
        "not-the-platform-key-but-long-enough-for-hs256",
        algorithm="HS256",
    )
    answer = agent_client(token=forged).post("/v1/ingest/events", json=_EVENT)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert tracengent_platform.store.events() == []


def test_expired_token_gets_401(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """A correctly signed but expired JWT is refused."""
    expired = jwt.encode(
        {"iss": "tracengent-local", "sub": "demo-agent", "exp": 1_000_000_000},
        tracengent_platform.store.signing_key,
        algorithm="HS256",
    )
    answer = agent_client(token=expired).post(
        "/v1/authorize", json={"permission": "flights:search"}
    )
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_tokens_are_checked_against_the_injected_clock_ahead_of_real_time(
    tmp_path: Path,
) -> None:
    """With an injected clock years ahead of the wall clock the platform accepts the tokens it
    issues (their iat is the injected now), and refuses them once that clock passes their expiry."""
    now = [4_102_444_800.0]
    with LocalPlatform(tmp_path / "db.sqlite3", clock=lambda: now[0]) as platform:
        token = fetch_token(platform.url, "key_demo", "ags_demo").json()["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["iat"] == int(now[0])
        with httpx.Client(
            base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client:
            assert client.post("/v1/ingest/events", json=_EVENT).status_code == 200
            now[0] += 901
            assert client.post("/v1/ingest/events", json=_EVENT).status_code == 401


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_token_from_after_the_injected_now_gets_401(tmp_path: Path, claim: str) -> None:
    """A signed token whose iat or nbf lies after the injected clock's now is refused, even when
    the wall clock is past it."""
    now = 1_000_000_000.0
    with LocalPlatform(tmp_path / "db.sqlite3", clock=lambda: now) as platform:
        claims = {"iss": "tracengent-local", "sub": "demo-agent", "exp": int(now) + 7200}
        early = jwt.encode(
            {**claims, claim: int(now) + 3600}, platform.store.signing_key, algorithm="HS256"
        )
        answer = httpx.post(
            f"{platform.url}/v1/authorize",
            json={"permission": "flights:search"},
            headers={"Authorization": f"Bearer {early}"},
            timeout=10,
        )
    assert answer.status_code == 401
    assert answer.json()["detail"] == f"token is not yet valid ({claim})"


def test_missing_credentials_get_401(tracengent_platform: RunningPlatform) -> None:
    """A call with neither Bearer nor ingest key is refused with 401."""
    answer = httpx.post(f"{tracengent_platform.url}/v1/authorize", json={"permission": "p:q"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_ingest_key_authenticates_as_its_agent(tracengent_platform: RunningPlatform) -> None:
    """The legacy X-Ingest-Key stores events under the key's agent."""
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/ingest/events",
        json=_EVENT,
        headers={"X-Ingest-Key": "agk_hotel"},
    )
    assert answer.status_code == 200
    assert [e.agent_id for e in tracengent_platform.store.events()] == ["hotel-agent"]


def test_options_helper_gives_the_agents_client_credentials(
    tracengent_platform: RunningPlatform,
) -> None:
    """The fixture's options() carries the platform URL and the agent's client credentials."""
    options = tracengent_platform.options("hotel-agent", flush_interval_ms=50).validate()
    assert (options.base_url, options.agent_id) == (tracengent_platform.url, "hotel-agent")
    assert (options.client_id, options.client_secret) == ("key_hotel", "ags_hotel")
    assert options.flush_interval_ms == 50
