"""`/v1/authorize` and `/v1/approvals/{id}` on the real local platform (wire contract §4, §5)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from opentelemetry.exporter.tracengent.redaction import MASK_TOKEN
from tests.integration.platform.conftest import fetch_token
from tracengent.cli import main
from tracengent.platform import LocalPlatform
from tracengent.testing import RunningPlatform


def _refund(client: httpx.Client, amount: float, currency: str = "EUR") -> dict[str, object]:
    answer = client.post(
        "/v1/authorize",
        json={
            "permission": "payments:refund",
            "context": {"amount": amount, "currency": currency},
            "traceId": "trc_1",
        },
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_refund_within_limit_is_allowed_with_obligations(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """120 EUR is allowed; the answer carries the rule's obligations and a stored decision id."""
    body = _refund(demo, 120)
    assert (body["allowed"], body["status"]) == (True, "allowed")
    assert body["obligations"] == {
        "maxAmount": 1000.0,
        "requireApprovalOver": 500.0,
        "currency": "EUR",
        "redactFields": ["$.card"],
    }
    (decision,) = tracengent_platform.store.decisions()
    assert decision.decision_id == body["decisionId"]
    assert (decision.status, decision.trace_id, decision.reason) == (
        "allowed",
        "trc_1",
        body["reason"],
    )


def test_refund_over_limit_is_denied_with_reason(demo: httpx.Client) -> None:
    """1200 EUR is over the 1000 EUR limit: denied, and the reason says so."""
    body = _refund(demo, 1200)
    assert (body["allowed"], body["status"]) == (False, "denied")
    assert "exceeds the limit 1000.00 EUR" in str(body["reason"])


def test_permission_not_held_is_denied(demo: httpx.Client) -> None:
    """A permission the agent does not hold is denied."""
    body = demo.post("/v1/authorize", json={"permission": "admin:delete"}).json()
    assert (body["allowed"], body["status"]) == (False, "denied")
    assert "does not hold" in body["reason"]


def test_amount_is_converted_into_the_policy_currency(demo: httpx.Client) -> None:
    """1100 USD is 1012 EUR (over the limit) while 1050 USD is 966 EUR (pending approval)."""
    assert _refund(demo, 1100, "USD")["status"] == "denied"
    assert _refund(demo, 1050, "USD")["status"] == "pending_approval"
    assert _refund(demo, 500, "USD")["status"] == "allowed"


def test_currency_without_rate_is_denied(demo: httpx.Client) -> None:
    """An amount in a currency the policy cannot convert fails closed."""
    body = _refund(demo, 10, "JPY")
    assert body["status"] == "denied"
    assert "JPY" in str(body["reason"])


def test_malformed_authorize_request_is_400(demo: httpx.Client) -> None:
    """A request without a permission, or with a non-object context, is a 400."""
    assert demo.post("/v1/authorize", json={"context": {}}).status_code == 400
    assert demo.post("/v1/authorize", json={"permission": "p:q", "context": 3}).status_code == 400
    assert demo.post("/v1/authorize", json=["p:q"]).status_code == 400


@pytest.mark.parametrize(
    "context",
    [0, False, "", [], 3, "x", [1]],
    ids=["zero", "false", "empty-string", "empty-array", "number", "string", "array"],
)
def test_a_context_that_is_not_an_object_is_400_even_when_falsy(
    demo: httpx.Client, tracengent_platform: RunningPlatform, context: object
) -> None:
    """A falsy non-object context (0, false, "", []) is refused like any other, and not decided."""
    answer = demo.post("/v1/authorize", json={"permission": "payments:refund", "context": context})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "'context' must be a JSON object"
    assert tracengent_platform.store.decisions() == []


@pytest.mark.parametrize("request_body", [{}, {"context": None}], ids=["missing", "null"])
def test_a_missing_or_null_context_is_an_empty_one(
    demo: httpx.Client, request_body: dict[str, object]
) -> None:
    """Without a context (absent or null) the permission is decided on its own."""
    answer = demo.post("/v1/authorize", json={"permission": "payments:refund", **request_body})
    assert (answer.status_code, answer.json()["status"]) == (200, "allowed")


def test_pending_refund_is_approved_through_the_store(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """800 EUR is held with a stored approval; approving it in the store makes the poll say approved."""
    body = _refund(demo, 800)
    assert (body["allowed"], body["status"]) == (False, "pending_approval")
    approval_id = str(body["approvalId"])
    assert approval_id.startswith("apr_")
    poll = demo.get(f"/v1/approvals/{approval_id}").json()
    assert (poll["status"], poll["approvalId"], poll["permission"]) == (
        "pending",
        approval_id,
        "payments:refund",
    )
    assert (poll["amount"], poll["currency"], poll["traceId"]) == (800, "EUR", "trc_1")
    tracengent_platform.store.decide_approval(approval_id, True)
    assert demo.get(f"/v1/approvals/{approval_id}").json()["status"] == "approved"


def test_pending_refund_is_denied_with_the_cli_while_the_server_runs(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """`tracengent deny` on the server's database is seen by the next poll; a second deny fails."""
    approval_id = str(_refund(demo, 700)["approvalId"])
    db = str(tracengent_platform.store.path)
    listed = CliRunner().invoke(main, ["approvals", "--db", db, "--status", "pending"])
    assert listed.exit_code == 0
    assert approval_id in listed.output
    result = CliRunner().invoke(main, ["deny", approval_id, "--db", db])
    assert result.exit_code == 0, result.output
    assert demo.get(f"/v1/approvals/{approval_id}").json()["status"] == "denied"
    again = CliRunner().invoke(main, ["approve", approval_id, "--db", db])
    assert again.exit_code != 0
    assert "already denied" in again.output
    unknown = CliRunner().invoke(main, ["approve", "apr_unknown", "--db", db])
    assert unknown.exit_code != 0
    assert "unknown approval" in unknown.output


def test_approval_of_another_agent_is_not_found(
    demo: httpx.Client, agent_client: object, tracengent_platform: RunningPlatform
) -> None:
    """An agent cannot read another agent's approval (404)."""
    approval_id = str(_refund(demo, 800)["approvalId"])
    token = fetch_token(tracengent_platform.url, "key_hotel", "ags_hotel").json()["access_token"]
    answer = httpx.get(
        f"{tracengent_platform.url}/v1/approvals/{approval_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 404


def test_approval_expires_after_the_policy_ttl(tmp_path: Path) -> None:
    """With the injected clock past approval_ttl_seconds a pending approval polls as expired (and the
    900 s token has expired on the way)."""
    now = [1_795_515_302.0]
    with (
        LocalPlatform(tmp_path / "db.sqlite3", clock=lambda: now[0]) as platform,
        httpx.Client(base_url=platform.url) as client,
    ):

        def login() -> None:
            token = fetch_token(platform.url, "key_demo", "ags_demo").json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"

        login()
        approval_id = _refund(client, 800)["approvalId"]
        now[0] += 3599
        assert client.get(f"/v1/approvals/{approval_id}").status_code == 401
        login()
        assert client.get(f"/v1/approvals/{approval_id}").json()["status"] == "pending"
        now[0] += 2
        poll = client.get(f"/v1/approvals/{approval_id}").json()
    assert poll["status"] == "expired"


def test_llm_budget_reserves_denies_and_reconciles(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """Reservations count against the 10 000 budget; an llm_call event releases one and counts actuals."""

    def ask(tokens: int) -> str:
        answer = demo.post(
            "/v1/authorize",
            json={"permission": "llm:call", "context": {"estimatedTokens": tokens, "model": "m"}},
        )
        return str(answer.json()["status"])

    assert ask(6000) == "allowed"
    assert ask(5000) == "denied"
    event = {"type": "llm_call", "name": "chat", "status": "success", "usage": {"tokens": 1000}}
    assert demo.post("/v1/ingest/events", json=[event]).status_code == 200
    usage = tracengent_platform.store.token_usage("demo-agent")
    assert (usage.used, usage.reserved) == (1000, 0)
    assert ask(9000) == "allowed"
    assert ask(1) == "denied"
    reason = tracengent_platform.store.decisions()[-1].reason
    assert "LLM token budget exceeded" in reason


def test_llm_call_event_of_a_trace_releases_that_traces_reservation(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """The llm_call event of trace T releases T's reservation, not an older one made outside any
    trace: that call is still running and its 5000 tokens stay reserved."""
    untraced = {"permission": "llm:call", "context": {"estimatedTokens": 5000}}
    traced = {**untraced, "context": {"estimatedTokens": 100}, "traceId": "trc_T"}
    for request in (untraced, traced):
        assert demo.post("/v1/authorize", json=request).json()["status"] == "allowed"
    event = {"type": "llm_call", "name": "chat", "status": "success", "traceId": "trc_T"}
    posted = demo.post("/v1/ingest/events", json=[{**event, "usage": {"tokens": 100}}])
    assert posted.status_code == 200
    usage = tracengent_platform.store.token_usage("demo-agent")
    assert (usage.used, usage.reserved) == (100, 5000)
    more = {**untraced, "context": {"estimatedTokens": 9800}}
    assert demo.post("/v1/authorize", json=more).json()["status"] == "denied"


def test_failed_llm_calls_recorded_without_usage_give_their_budget_back(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A governed LLM call that failed is recorded without usage: its reservation is released, so
    failed calls never lock the agent out of a budget it did not use."""
    request = {"permission": "llm:call", "context": {"estimatedTokens": 4000}}
    failed = {"type": "llm_call", "name": "chat", "status": "failure"}
    for attempt in range(3):
        assert demo.post("/v1/authorize", json=request).json()["status"] == "allowed", attempt
        assert demo.post("/v1/ingest/events", json=[failed]).status_code == 200
    usage = tracengent_platform.store.token_usage("demo-agent")
    assert (usage.used, usage.reserved) == (0, 0)


def test_invalid_estimated_tokens_is_denied(demo: httpx.Client) -> None:
    """A non-integer estimate fails closed."""
    answer = demo.post(
        "/v1/authorize", json={"permission": "llm:call", "context": {"estimatedTokens": "many"}}
    )
    assert answer.json()["status"] == "denied"


def test_stored_decision_and_approval_mask_the_rules_redact_fields(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """The refund rule's `$.card` is masked in the decision log and in the approval a person sees."""
    body = demo.post(
        "/v1/authorize",
        json={"permission": "payments:refund", "context": {"amount": 800, "card": "4242 4242"}},
    ).json()
    (decision,) = tracengent_platform.store.decisions()
    (approval,) = tracengent_platform.store.approvals()
    assert approval.approval_id == body["approvalId"]
    assert "4242" not in str(decision.request)
    assert approval.context == {"amount": 800, "card": MASK_TOKEN}
