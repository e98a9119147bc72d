"""Decisions the review found escaping the policy: non-finite amounts, delegated LLM budgets,
approval redaction, disabled links in a delegation chain, and secret comparison."""

from __future__ import annotations

import hmac
import math
import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tests.integration.platform.conftest import AgentClient, fetch_token
from tracengent.cli import main
from tracengent.platform import DelegationRefused, Policy, PolicyError, create_grant, parse_policy
from tracengent.platform._decide import Engine, Principal, RequestError
from tracengent.platform._delegation import attenuate
from tracengent.platform._tokens import issue_delegated_token
from tracengent.testing import RunningPlatform

_POLICY = """
currency = "EUR"

[currency_rates]
USD = 0.92

[[agents]]
id = "root-agent"
client_id = "key_root"
client_secret = "ags_root"
ingest_key = "agk_root"
permissions = ["llm:call", "mail:send", "payments:refund", "hotels:*"]
llm_token_budget = 10000

[[agents]]
id = "helper-agent"
client_id = "key_helper"
client_secret = "ags_helper"
ingest_key = "agk_helper"

[[agents]]
id = "retired-agent"
client_id = "key_retired"
client_secret = "ags_retired"
permissions = ["hotels:*"]
disabled = true

[[agents]]
id = "leaf-agent"
client_id = "key_leaf"
client_secret = "ags_leaf"

[[rules]]
permission = "payments:refund"
max_amount = 1000
require_approval_over = 500
redact_fields = ["$.card"]

[[rules]]
permission = "mail:send"
redact_fields = ["$.to"]

[[tools]]
transport = "function"
name = "send_email"
permission = "mail:send"
approval = true
redactions = [{ field = "$.attachments", strategy = "remove" }]

[egress]
allowlist = ["api.example.com"]

[[egress.routes]]
host = "api.example.com"
methods = ["POST"]
path = "/v1/refunds"
permission = "payments:refund"
approval = true
redactions = [{ field = "$.iban", strategy = "remove" }]
"""

_NON_FINITE = [math.nan, math.inf, 10**400]


@pytest.fixture
def tracengent_policy() -> Policy:
    """This module's platforms run `_POLICY`."""
    return parse_policy(_POLICY)


def _bearer(platform: RunningPlatform, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


# -- non-finite amounts -------------------------------------------------------------------------


@pytest.mark.parametrize("cap", _NON_FINITE, ids=["nan", "inf", "huge-int"])
def test_attenuate_refuses_a_non_finite_max_amount(
    tracengent_platform: RunningPlatform, cap: float
) -> None:
    """An attenuation whose maxAmount is not a finite number is a 400 and stores no child grant,
    even when the body decoder let the value through."""
    store, policy = tracengent_platform.store, tracengent_platform.policy
    parent, _ = create_grant(
        store,
        policy,
        from_agent="root-agent",
        to_agent="helper-agent",
        permissions=["hotels:book"],
        ttl_seconds=600,
        max_amount=500,
    )
    request: JsonObject = {
        "grantedToAgentId": "leaf-agent",
        "permissions": ["hotels:book"],
        "maxAmount": cap,
    }
    with pytest.raises(RequestError, match="'maxAmount' must be a finite number >= 0"):
        attenuate(store, policy, parent, request)
    assert [g.grant_id for g in store.grants()] == [parent.grant_id]


@pytest.mark.parametrize("cap", [math.nan, math.inf], ids=["nan", "inf"])
def test_create_grant_refuses_a_non_finite_max_amount(
    tracengent_platform: RunningPlatform, cap: float
) -> None:
    """A root grant with a NaN or infinite cap is refused, never stored as a grant without a cap."""
    with pytest.raises(DelegationRefused, match="finite number >= 0"):
        create_grant(
            tracengent_platform.store,
            tracengent_platform.policy,
            from_agent="root-agent",
            to_agent="helper-agent",
            permissions=["hotels:book"],
            ttl_seconds=600,
            max_amount=cap,
        )
    assert tracengent_platform.store.grants() == []


@pytest.mark.parametrize("cap", ["nan", "inf"])
def test_cli_grant_refuses_a_non_finite_max_amount(
    tracengent_platform: RunningPlatform, tmp_path: Path, cap: str
) -> None:
    """`tracengent grant --max-amount nan` is a usage error naming the option; nothing is stored."""
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(_POLICY, encoding="utf-8")
    result = CliRunner().invoke(
        main,
        [
            "grant",
            "--db",
            str(tracengent_platform.store.path),
            "--policy",
            str(policy_file),
            "--from",
            "root-agent",
            "--to",
            "helper-agent",
            "--permissions",
            "hotels:book",
            "--max-amount",
            cap,
        ],
    )
    assert result.exit_code == 2, result.output
    assert "'--max-amount': expected a finite number >= 0" in result.output
    assert tracengent_platform.store.grants() == []


def test_a_context_amount_beyond_float_range_is_denied(
    tracengent_platform: RunningPlatform,
) -> None:
    """An integer amount too large for a float is denied with a reason, not an OverflowError, even
    when the body decoder let it through."""
    root = tracengent_platform.policy.agent("root-agent")
    assert root is not None
    engine = Engine(tracengent_platform.policy, tracengent_platform.store)
    answer = engine.authorize(
        Principal(root), {"permission": "payments:refund", "context": {"amount": 10**400}}
    )
    assert answer["status"] == "denied"
    assert "context amount must be a finite number >= 0" in str(answer["reason"])
    assert tracengent_platform.store.approvals() == []


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ('[[rules]]\npermission = "x:y"\nmax_amount = nan\n', "rules[0].max_amount"),
        ('[[rules]]\npermission = "x:y"\nmax_amount = inf\n', "rules[0].max_amount"),
        ('[[rules]]\npermission = "x:y"\nmax_amount = 1e400\n', "rules[0].max_amount"),
        ('[[rules]]\npermission = "x:y"\nmax_amount = 1' + "0" * 400 + "\n", "rules[0].max_amount"),
        (
            '[[rules]]\npermission = "x:y"\nrequire_approval_over = nan\n',
            "rules[0].require_approval_over",
        ),
        ("[currency_rates]\nUSD = nan\n", "currency_rates.USD"),
        ("[currency_rates]\nUSD = inf\n", "currency_rates.USD"),
    ],
    ids=["max-nan", "max-inf", "max-1e400", "max-huge-int", "approval-nan", "rate-nan", "rate-inf"],
)
def test_policy_loader_refuses_non_finite_numbers(snippet: str, key: str) -> None:
    """A TOML nan/inf (or a number beyond float range) as a limit or rate is a PolicyError naming
    the key, not a limit that never denies."""
    text = f'[[agents]]\nid = "a"\npermissions = ["x:*"]\n\n{snippet}'
    with pytest.raises(PolicyError, match=re.escape(f"'{key}': expected a finite number >= ")):
        parse_policy(text)


# -- the LLM token budget under delegation ------------------------------------------------------


def _llm_delegate(platform: RunningPlatform, agent_client: AgentClient) -> httpx.Client:
    """helper-agent's client under a grant of `llm:call` from root-agent."""
    _, token = create_grant(
        platform.store,
        platform.policy,
        from_agent="root-agent",
        to_agent="helper-agent",
        permissions=["llm:call"],
        ttl_seconds=600,
    )
    return agent_client(token=token.access_token)


def test_a_delegate_spends_the_delegating_agents_llm_budget(
    tracengent_platform: RunningPlatform, agent_client: AgentClient
) -> None:
    """A delegate acting for root-agent is held to root-agent's budget, and what it reserves is
    gone from root-agent's own calls."""
    delegate = _llm_delegate(tracengent_platform, agent_client)
    over = delegate.post(
        "/v1/authorize", json={"permission": "llm:call", "context": {"estimatedTokens": 50000}}
    ).json()
    assert (over["status"], over["actingFor"]) == ("denied", "root-agent")
    assert "10000 of 10000 left for root-agent" in over["reason"]
    within = delegate.post(
        "/v1/authorize", json={"permission": "llm:call", "context": {"estimatedTokens": 6000}}
    ).json()
    assert within["status"] == "allowed"
    assert tracengent_platform.store.token_usage("root-agent").reserved == 6000
    own = agent_client("root-agent").post(
        "/v1/authorize", json={"permission": "llm:call", "context": {"estimatedTokens": 5000}}
    )
    assert own.json()["status"] == "denied"


def test_a_delegates_llm_call_event_releases_the_reservation_it_made_for_the_root(
    tracengent_platform: RunningPlatform, agent_client: AgentClient
) -> None:
    """The delegate reports its llm_call with its own credentials: that releases the reservation
    made on root-agent's budget and counts the actual tokens there, not against the delegate."""
    delegate = _llm_delegate(tracengent_platform, agent_client)
    allowed = delegate.post(
        "/v1/authorize", json={"permission": "llm:call", "context": {"estimatedTokens": 6000}}
    ).json()
    assert allowed["status"] == "allowed"
    store = tracengent_platform.store
    assert store.token_usage("root-agent").reserved == 6000
    event = {"type": "llm_call", "name": "plan", "status": "success", "usage": {"tokens": 1200}}
    posted = agent_client("helper-agent").post("/v1/ingest/events", json=[event])
    assert posted.status_code == 200
    root, helper = store.token_usage("root-agent"), store.token_usage("helper-agent")
    assert (root.used, root.reserved) == (1200, 0)
    assert (helper.used, helper.reserved) == (0, 0)


# -- approvals store what the call's redactions leave -------------------------------------------


def test_approval_of_a_function_call_is_stored_with_the_bindings_redactions(
    tracengent_platform: RunningPlatform, agent_client: AgentClient
) -> None:
    """The approval a bound function waits on keeps neither the binding's removed field nor the
    rule's masked one, in the store and at GET /v1/approvals/{id}."""
    client = agent_client("root-agent")
    answer = client.post(
        "/v1/tool-authorize",
        json={
            "transport": "function",
            "functionName": "send_email",
            "body": {"to": "bob@example.com", "subject": "hi", "attachments": ["PASSPORT-SCAN"]},
        },
    ).json()
    assert answer["status"] == "pending_approval"
    approval = tracengent_platform.store.approval(answer["approvalId"])
    assert approval is not None
    assert approval.context == {"to": MASK_TOKEN, "subject": "hi"}
    shown = client.get(f"/v1/approvals/{answer['approvalId']}").json()
    assert shown["context"] == {"to": MASK_TOKEN, "subject": "hi"}


def test_approval_of_an_egress_route_is_stored_with_the_routes_redactions(
    tracengent_platform: RunningPlatform, agent_client: AgentClient
) -> None:
    """An approval-gated route's stored approval drops the route's removed field and masks the
    rule's."""
    answer = (
        agent_client("root-agent")
        .post(
            "/v1/tool-authorize",
            json={
                "transport": "http",
                "method": "POST",
                "host": "api.example.com",
                "path": "/v1/refunds",
                "body": {"amount": 100, "iban": "DE89370400440532013000", "card": "4242"},
            },
        )
        .json()
    )
    assert answer["status"] == "pending_approval"
    approval = tracengent_platform.store.approval(answer["approvalId"])
    assert approval is not None
    assert approval.context == {"amount": 100, "card": MASK_TOKEN}


# -- denied requests are stored redacted too ----------------------------------------------------


def _stored_request(platform: RunningPlatform, answer: JsonObject) -> JsonObject:
    """The request the decision log keeps for `answer`."""
    (decision,) = [d for d in platform.store.decisions() if d.decision_id == answer["decisionId"]]
    return decision.request


def test_a_request_denied_for_a_permission_not_held_is_stored_with_the_rules_fields_masked(
    tracengent_platform: RunningPlatform, agent_client: AgentClient
) -> None:
    """helper-agent does not hold payments:refund: denied, and the card is masked in the log."""
    answer = (
        agent_client("helper-agent")
        .post(
            "/v1/authorize",
            json={"permission": "payments:refund", "context": {"amount": 10, "card": "4111"}},
        )
        .json()
    )
    assert answer["status"] == "denied"
    assert _stored_request(tracengent_platform, answer)["context"] == {
        "amount": 10,
        "card": MASK_TOKEN,
    }


def test_a_request_outside_the_grant_is_stored_with_the_rules_fields_masked(
    tracengent_platform: RunningPlatform, agent_client: AgentClient
) -> None:
    """A delegate of hotels:* asking for payments:refund is denied; the card is masked in the log."""
    _, token = create_grant(
        tracengent_platform.store,
        tracengent_platform.policy,
        from_agent="root-agent",
        to_agent="helper-agent",
        permissions=["hotels:*"],
        ttl_seconds=600,
    )
    answer = (
        agent_client(token=token.access_token)
        .post(
            "/v1/authorize",
            json={"permission": "payments:refund", "context": {"amount": 10, "card": "4111"}},
        )
        .json()
    )
    assert (answer["status"], answer["actingFor"]) == ("denied", "root-agent")
    assert "outside the delegated permissions" in answer["reason"]
    assert _stored_request(tracengent_platform, answer)["context"] == {
        "amount": 10,
        "card": MASK_TOKEN,
    }


def test_a_denied_tool_call_is_stored_with_the_rules_fields_masked(
    tracengent_platform: RunningPlatform, agent_client: AgentClient
) -> None:
    """helper-agent does not hold mail:send: its send_email call is denied and stored with the
    binding's removed field gone and the mail:send rule's field masked."""
    answer = (
        agent_client("helper-agent")
        .post(
            "/v1/tool-authorize",
            json={
                "transport": "function",
                "functionName": "send_email",
                "body": {"to": "bob@example.com", "subject": "hi", "attachments": ["SCAN"]},
            },
        )
        .json()
    )
    assert (answer["status"], answer["outcome"]) == ("denied", "policy_deny")
    assert _stored_request(tracengent_platform, answer)["body"] == {
        "to": MASK_TOKEN,
        "subject": "hi",
    }


# -- every agent of a delegation chain must still be active -------------------------------------


@pytest.mark.parametrize("middle", ["retired-agent", "removed-agent"])
def test_a_chain_through_a_disabled_or_removed_agent_is_refused(
    tracengent_platform: RunningPlatform, middle: str
) -> None:
    """A grant made before the policy disabled (or dropped) an intermediate agent gets 401."""
    store = tracengent_platform.store
    # As stored before the policy changed: root-agent -> middle -> leaf-agent.
    grant = store.create_grant(
        from_agent=middle,
        to_agent="leaf-agent",
        permissions=["hotels:book"],
        expires_at_s=store.clock() + 600,
        chain=["root-agent", middle, "leaf-agent"],
    )
    token = issue_delegated_token(store.signing_key, grant, now=store.clock())
    with _bearer(tracengent_platform, token.access_token) as client:
        answer = client.post("/v1/authorize", json={"permission": "hotels:book"})
    assert answer.status_code == 401
    assert f"agent {middle} in the token's delegation chain" in answer.json()["detail"]
    assert store.decisions() == []


def test_a_chain_of_active_agents_is_still_honoured(tracengent_platform: RunningPlatform) -> None:
    """The same three-hop chain through an active agent is decided as before."""
    store = tracengent_platform.store
    grant = store.create_grant(
        from_agent="helper-agent",
        to_agent="leaf-agent",
        permissions=["hotels:book"],
        expires_at_s=store.clock() + 600,
        chain=["root-agent", "helper-agent", "leaf-agent"],
    )
    token = issue_delegated_token(store.signing_key, grant, now=store.clock())
    with _bearer(tracengent_platform, token.access_token) as client:
        answer = client.post("/v1/authorize", json={"permission": "hotels:book"})
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["actingFor"]) == ("allowed", "root-agent")


# -- secrets are compared in constant time ------------------------------------------------------


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Every pair `hmac.compare_digest` is asked to compare (the real comparison still runs)."""
    pairs: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        pairs.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return pairs


def test_client_secret_is_compared_in_constant_time(
    tracengent_platform: RunningPlatform, compared: list[tuple[bytes, bytes]]
) -> None:
    """The token endpoint checks client_secret with hmac.compare_digest, and a wrong or non-ASCII
    secret is a 401, never a 500."""
    assert fetch_token(tracengent_platform.url, "key_root", "ags_root").status_code == 200
    assert compared == [(b"ags_root", b"ags_root")]
    for wrong in ("ags_roov", "%C3%A9"):
        answer = fetch_token(tracengent_platform.url, "key_root", wrong)
        assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")
    assert len(compared) == 3


def test_ingest_key_is_compared_against_every_agents_key(
    tracengent_platform: RunningPlatform, compared: list[tuple[bytes, bytes]]
) -> None:
    """An X-Ingest-Key is compared with each agent's key in constant time, not looked up by value."""
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/ingest/events",
        json=[{"type": "action", "name": "n", "status": "success"}],
        headers={"X-Ingest-Key": "agk_helper"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert compared == [(b"agk_root", b"agk_helper"), (b"agk_helper", b"agk_helper")]
    (event,) = tracengent_platform.store.events()
    assert event.agent_id == "helper-agent"
