"""Delegation on the real local platform: `tracengent grant`, delegated authorize, attenuate (§7)."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest
from click.testing import CliRunner

from tests.integration.platform.conftest import AgentClient
from tracengent.cli import main
from tracengent.testing import RunningPlatform


def _grant(platform: RunningPlatform, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(
        main,
        [
            "grant",
            "--db",
            str(platform.store.path),
            "--from",
            "demo-agent",
            "--to",
            "hotel-agent",
            "--permissions",
            "hotels:*,payments:refund",
            "--max-amount",
            "300",
            "--ttl",
            "600",
            "--json",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.output)
    return body


@pytest.fixture
def delegated(
    agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> tuple[str, httpx.Client]:
    """A grant demo-agent → hotel-agent, and a client using the delegated token as bearer."""
    grant = _grant(tracengent_platform)
    return str(grant["grantId"]), agent_client(token=str(grant["accessToken"]))


def test_grant_prints_a_delegated_token_with_the_documented_claims(
    tracengent_platform: RunningPlatform,
) -> None:
    """The delegated JWT carries sub, grant_id, acting_for, delegation_chain, delegated_permissions, exp."""
    grant = _grant(tracengent_platform)
    claims = jwt.decode(
        str(grant["accessToken"]), tracengent_platform.store.signing_key, algorithms=["HS256"]
    )
    assert claims["sub"] == "hotel-agent"
    assert claims["grant_id"] == grant["grantId"]
    assert str(grant["grantId"]).startswith("dlg_")
    assert claims["acting_for"] == "demo-agent"
    assert claims["delegation_chain"] == ["demo-agent", "hotel-agent"]
    assert claims["delegated_permissions"] == ["hotels:*", "payments:refund"]
    assert claims["exp"] - claims["iat"] == 600
    (stored,) = tracengent_platform.store.grants()
    assert (stored.grant_id, stored.max_amount) == (grant["grantId"], 300.0)


def test_grant_of_a_permission_not_held_fails(tracengent_platform: RunningPlatform) -> None:
    """`tracengent grant` refuses to delegate what the delegating agent does not hold."""
    result = CliRunner().invoke(
        main,
        [
            "grant",
            "--db",
            str(tracengent_platform.store.path),
            "--from",
            "hotel-agent",
            "--to",
            "car-agent",
            "--permissions",
            "payments:refund",
        ],
    )
    assert result.exit_code != 0
    assert "does not hold payments:refund" in result.output


def test_delegated_authorize_carries_acting_for_and_chain(
    delegated: tuple[str, httpx.Client],
) -> None:
    """Authorizing with the delegated token answers actingFor and chain."""
    _, client = delegated
    body = client.post(
        "/v1/authorize", json={"permission": "payments:refund", "context": {"amount": 100}}
    ).json()
    assert (body["status"], body["actingFor"], body["chain"]) == (
        "allowed",
        "demo-agent",
        ["demo-agent", "hotel-agent"],
    )


def test_delegated_authorize_is_bounded_by_the_grant(delegated: tuple[str, httpx.Client]) -> None:
    """Outside the delegated permissions, or over the grant's max amount, is denied."""
    _, client = delegated
    outside = client.post("/v1/authorize", json={"permission": "flights:search"}).json()
    assert outside["status"] == "denied"
    assert "outside the delegated permissions" in outside["reason"]
    over = client.post(
        "/v1/authorize", json={"permission": "payments:refund", "context": {"amount": 400}}
    ).json()
    assert over["status"] == "denied"
    assert "delegated maximum" in over["reason"]


def test_delegated_obligations_carry_the_lower_of_the_rule_and_grant_caps(
    delegated: tuple[str, httpx.Client],
    agent_client: AgentClient,
    tracengent_platform: RunningPlatform,
) -> None:
    """Under the 300 EUR grant an allowed refund reports maxAmount 300 (not the rule's 1000), an
    unruled permission reports the grant's cap, and a grant above the rule reports the rule's."""
    _, client = delegated
    refund = client.post("/v1/authorize", json={"permission": "payments:refund"}).json()
    assert refund["status"] == "allowed"
    assert refund["obligations"] == {
        "maxAmount": 300.0,
        "requireApprovalOver": 500.0,
        "currency": "EUR",
        "redactFields": ["$.card"],
    }
    hotel = client.post("/v1/authorize", json={"permission": "hotels:book"}).json()
    assert (hotel["status"], hotel["obligations"]) == (
        "allowed",
        {"maxAmount": 300.0, "currency": "EUR"},
    )
    wide = _grant(tracengent_platform, "--max-amount", "5000")
    wide_refund = (
        agent_client(token=str(wide["accessToken"]))
        .post("/v1/authorize", json={"permission": "payments:refund"})
        .json()
    )
    assert wide_refund["obligations"]["maxAmount"] == 1000.0


def test_attenuate_within_the_parent_issues_an_extended_chain(
    delegated: tuple[str, httpx.Client],
    agent_client: AgentClient,
    tracengent_platform: RunningPlatform,
) -> None:
    """A narrower attenuation answers a token whose chain is extended by the grantee, usable for authorize."""
    grant_id, client = delegated
    answer = client.post(
        f"/v1/delegations/{grant_id}/attenuate",
        json={
            "grantedToAgentId": "car-agent",
            "permissions": ["hotels:book"],
            "maxAmount": 200,
            "expiresInSeconds": 300,
        },
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert (token["tokenType"], token["expiresIn"]) == ("Bearer", 300)
    assert token["jti"].startswith("j_")
    claims = jwt.decode(
        token["accessToken"], tracengent_platform.store.signing_key, algorithms=["HS256"]
    )
    assert claims["delegation_chain"] == ["demo-agent", "hotel-agent", "car-agent"]
    assert (claims["sub"], claims["acting_for"]) == ("car-agent", "demo-agent")
    child = agent_client(token=token["accessToken"])
    body = child.post("/v1/authorize", json={"permission": "hotels:book"}).json()
    assert (body["status"], body["chain"]) == (
        "allowed",
        ["demo-agent", "hotel-agent", "car-agent"],
    )


@pytest.mark.parametrize(
    ("request_body", "reason"),
    [
        ({"grantedToAgentId": "car-agent", "permissions": ["flights:search"]}, "wider"),
        ({"grantedToAgentId": "car-agent", "permissions": ["*"]}, "wider"),
        (
            {"grantedToAgentId": "car-agent", "permissions": ["hotels:book"], "maxAmount": 301},
            "maxAmount",
        ),
        (
            {
                "grantedToAgentId": "car-agent",
                "permissions": ["hotels:book"],
                "expiresInSeconds": 601,
            },
            "lifetime",
        ),
        ({"grantedToAgentId": "nobody", "permissions": ["hotels:book"]}, "unknown"),
    ],
)
def test_attenuate_beyond_the_parent_is_403(
    delegated: tuple[str, httpx.Client], request_body: dict[str, object], reason: str
) -> None:
    """Wider permissions, a larger amount, a longer lifetime or an unknown grantee is refused with 403."""
    grant_id, client = delegated
    answer = client.post(f"/v1/delegations/{grant_id}/attenuate", json=request_body)
    assert answer.status_code == 403
    assert reason in answer.json()["reason"]
    assert answer.json()["error"]


def test_attenuate_needs_a_delegated_token_of_that_grant(
    delegated: tuple[str, httpx.Client], demo: httpx.Client
) -> None:
    """The agent's own token, or a delegated token of another grant, gets 403."""
    grant_id, client = delegated
    body = {"grantedToAgentId": "car-agent", "permissions": ["hotels:book"]}
    assert demo.post(f"/v1/delegations/{grant_id}/attenuate", json=body).status_code == 403
    assert client.post("/v1/delegations/dlg_other/attenuate", json=body).status_code == 403


def test_malformed_attenuate_is_400(delegated: tuple[str, httpx.Client]) -> None:
    """A body without permissions is a 400, not a 403."""
    grant_id, client = delegated
    answer = client.post(
        f"/v1/delegations/{grant_id}/attenuate", json={"grantedToAgentId": "car-agent"}
    )
    assert answer.status_code == 400
