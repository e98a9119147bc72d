"""Replays `wire_contract.json` through the PUBLIC API (`tracengent.*`), sync and async.

`test_replay.py` drives the wire layer directly; here each exchange is produced the way an agent
produces it — `TracengentClient.record`, decision traces, `authorize`/`ensure_authorized`,
`governed_client`, `client.tools`, `begin_delegated_task(...).attenuate_for_call` — through an
`httpx.MockTransport`, and each answer must come back as the public type.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
import pytest

import tracengent
from conformance.replay import (
    RecordedRequest,
    Recorder,
    entry,
    fixture_options,
    key_paths,
    load_fixture,
    make_jwt,
    normalize,
    produced_and_expected,
    trace_link_problems,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue

FIXTURE = load_fixture()
AGENT_TOKEN = make_jwt({"sub": "key_billing", "permissions": ["payments:*"]})
DELEGATED_TOKEN = make_jwt(
    {
        "sub": "agt_flights",
        "grant_id": "dlg_4",
        "acting_for": "u_42",
        "delegation_chain": ["agt_travel", "agt_flights"],
        "delegated_permissions": ["flights:*", "hotels:*"],
    }
)
CHILD_TOKEN = make_jwt({"sub": "agt_hotel", "grant_id": "dlg_5", "acting_for": "u_42"})
EVENTS = "/v1/ingest/events"
TRACES = "/v1/ingest/traces"
AMOUNT_EUR: JsonObject = {"amount": 42.5, "currency": "EUR"}
AMOUNT_OVER: JsonObject = {"amount": 900, "currency": "USD"}
T = TypeVar("T")


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each replay runs through the blocking and the coroutine form of the API."""
    return str(request.param)


async def either(mode: str, blocking: Callable[[], T], coroutine: Callable[[], Awaitable[T]]) -> T:
    """`blocking()` in sync mode, else `await coroutine()`."""
    return blocking() if mode == "sync" else await coroutine()


@asynccontextmanager
async def client_for(
    *names: str, token: str = AGENT_TOKEN, **overrides: object
) -> AsyncIterator[tuple[tracengent.TracengentClient, Recorder]]:
    """A public `TracengentClient` with the fixture's options, answered by entries `names`.

    The telemetry entries are always answered too, so a trace begun by a test is delivered.
    """
    wanted = ["oauth_token", "ingest_events_traced", "trace_close", *names]
    recorder = Recorder.for_fixture(FIXTURE, token=token, names=wanted)
    options = fixture_options(FIXTURE, **overrides)
    client = tracengent.TracengentClient(options, transport=recorder.transport())
    try:
        yield client, recorder
    finally:
        await client.aclose()


def assert_matches(request: RecordedRequest, name: str) -> None:
    """`request` equals fixture entry `name` modulo sentinels (method, headers, body)."""
    item = entry(name, FIXTURE)
    assert request.path == item["path"]
    produced, expected = produced_and_expected(request, item)
    assert produced == expected
    if item.get("request") is not None:
        # Compact JSON (wire contract, general rules).
        assert request.body == json.dumps(request.json(), separators=(",", ":")).encode()


def only(recorder: Recorder, name: str) -> RecordedRequest:
    """The one request sent to entry `name`'s path."""
    sent = recorder.to(str(entry(name, FIXTURE)["path"]))
    assert len(sent) == 1, [r.path for r in recorder.requests]
    return sent[0]


def events_sent(recorder: Recorder) -> list[JsonValue]:
    """Every event of every `/v1/ingest/events` batch, in the order sent."""
    events: list[JsonValue] = []
    for request in recorder.to(EVENTS):
        batch = request.json()
        assert isinstance(batch, list)
        events.extend(batch)
    return events


def fixture_events(name: str) -> list[JsonValue]:
    """Entry `name`'s request: a list of events."""
    request = entry(name, FIXTURE)["request"]
    assert isinstance(request, list)
    return request


# --- §2 events and §3 trace close -------------------------------------------------------------


def refund_attempt() -> tracengent.AgentEvent:
    """The fixture's second traced event, as an agent records it."""
    return tracengent.AgentEvent(
        name="POST api.stripe.com/v1/refunds",
        type=tracengent.EventTypes.TOOL_CALL,
        status=tracengent.EventStatuses.FAILURE,
        idempotency_key="r-1001",
        cost=tracengent.Money.eur(19.99),
        input={"order": "1001"},
        output={"error": "card_declined"},
        attributes={"method": "POST", "statusCode": 402},
        duration_ms=812.5,
        tags=["payments"],
    )


def plan() -> tracengent.LlmCallResult:
    """The fixture's LLM call: 512 tokens of gpt-4o-mini."""
    return tracengent.LlmCallResult("refund 19.99 EUR through stripe", 512, "gpt-4o-mini")


async def aplan() -> tracengent.LlmCallResult:
    """`plan`, awaitable."""
    return plan()


async def record_events_and_trace(client: tracengent.TracengentClient, mode: str) -> None:
    """A standalone action, then a decision trace (LLM call, failed refund) ending failed."""
    client.record(
        tracengent.AgentEvent(
            name="issue-invoice",
            type=tracengent.EventTypes.ACTION,
            status=tracengent.EventStatuses.SUCCESS,
            cost=tracengent.Money(42.5),
        )
    )
    trace = client.begin_trace("refund order 1001", actor_user_id="u_42")
    if mode == "sync":
        with trace:
            assert trace.track_llm_call("plan-refund", plan) == plan().value
            trace.record(refund_attempt())
            trace.complete("failed", "card declined")
    else:
        async with trace:
            assert await trace.track_llm_call_async("plan-refund", aplan) == plan().value
            trace.record(refund_attempt())
            trace.complete("failed", "card declined")


async def test_events_and_trace_close_match_fixture(mode: str) -> None:
    """Recorded events, then the trace close, are sent exactly as the fixture's §2/§3 entries."""
    async with client_for("ingest_events_standalone") as (client, recorder):
        await record_events_and_trace(client, mode)
        assert client.close()
        assert client.dropped_count == 0
    traced_entry = entry("ingest_events_traced", FIXTURE)
    for request in recorder.to(EVENTS):
        produced, expected = produced_and_expected(request, traced_entry)
        assert (produced["method"], produced["headers"]) == (
            expected["method"],
            expected["headers"],
        )
    standalone = fixture_events("ingest_events_standalone")
    traced = fixture_events("ingest_events_traced")
    assert normalize(events_sent(recorder)) == standalone + traced
    assert key_paths(events_sent(recorder)) == key_paths(standalone + traced)
    assert_matches(only(recorder, "trace_close"), "trace_close")
    paths = [r.path for r in recorder.requests]
    assert paths.index(TRACES) > max(i for i, p in enumerate(paths) if p == EVENTS)


async def test_trace_events_chain_and_carry_one_trace_id(mode: str) -> None:
    """The traced events share the close's traceId, chain by parentEventId, rootRequest once."""
    async with client_for("ingest_events_standalone") as (client, recorder):
        await record_events_and_trace(client, mode)
        client.close()
    sent = events_sent(recorder)
    standalone, traced = sent[0], sent[1:]
    assert isinstance(standalone, dict)
    assert not {"traceId", "parentEventId", "rootRequest", "durationMs"} & set(standalone)
    assert trace_link_problems(traced) == []
    first, second = traced
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    assert second["parentEventId"] == first["eventId"]
    close = recorder.last(TRACES).json()
    assert isinstance(close, dict)
    assert {first["traceId"], second["traceId"]} == {close["traceId"]}


# --- §1 token ---------------------------------------------------------------------------------


async def test_token_call_matches_fixture(mode: str) -> None:
    """The first governance call fetches §1's token (form fields in order); its claims are cached."""
    async with client_for("authorize_allowed") as (client, recorder):
        await either(
            mode,
            lambda: client.authorize("payments:refund", AMOUNT_EUR),
            lambda: client.authorize_async("payments:refund", AMOUNT_EUR),
        )
        assert client.has_permission("payments:refund")
        assert not client.has_permission("flights:book")
        provider = client.token_provider
        assert isinstance(provider, tracengent.AgentTokenProvider)
        assert provider.get_token() == AGENT_TOKEN
    assert recorder.requests[0].path == "/v1/oauth/token"
    assert_matches(only(recorder, "oauth_token"), "oauth_token")


# --- §4 authorize, §5 approvals ---------------------------------------------------------------


async def test_authorize_in_a_trace_matches_fixture(mode: str) -> None:
    """`authorize` inside a decision trace sends §4's request with its traceId; answer parsed."""
    async with client_for("authorize_allowed") as (client, recorder):
        with client.begin_trace("refund order 1001") as trace:
            decision = await either(
                mode,
                lambda: client.authorize("payments:refund", AMOUNT_EUR),
                lambda: client.authorize_async("payments:refund", AMOUNT_EUR),
            )
    request = only(recorder, "authorize_allowed")
    assert_matches(request, "authorize_allowed")
    body = request.json()
    assert isinstance(body, dict)
    assert body["traceId"] == trace.trace_id
    assert isinstance(decision, tracengent.AuthDecision)
    assert (decision.allowed, decision.status, decision.reason, decision.decision_id) == (
        True,
        "allowed",
        "within policy",
        "dec_7",
    )
    assert decision.obligations == tracengent.AuthObligations(
        max_amount=100, require_approval_over=75, redact_fields=["$.card"], currency="USD"
    )


async def test_ensure_authorized_returns_the_obligations(mode: str) -> None:
    """`ensure_authorized` on an allow returns the answer's obligations as `AuthObligations`."""
    async with client_for("authorize_allowed") as (client, _):
        obligations = await either(
            mode,
            lambda: client.ensure_authorized("payments:refund", AMOUNT_EUR),
            lambda: client.ensure_authorized_async("payments:refund", AMOUNT_EUR),
        )
    assert isinstance(obligations, tracengent.AuthObligations)
    assert (obligations.max_amount, obligations.redact_fields) == (100, ["$.card"])


async def test_pending_authorize_matches_fixture(mode: str) -> None:
    """A pending answer parses into a pending `AuthDecision` carrying the approval id."""
    async with client_for("authorize_pending") as (client, recorder):
        decision = await either(
            mode,
            lambda: client.authorize("payments:refund", AMOUNT_OVER),
            lambda: client.authorize_async("payments:refund", AMOUNT_OVER),
        )
    assert_matches(only(recorder, "authorize_pending"), "authorize_pending")
    assert (decision.allowed, decision.pending, decision.approval_id, decision.decision_id) == (
        False,
        True,
        "apr_3",
        "dec_8",
    )


async def test_ensure_authorized_waits_for_the_approval(mode: str) -> None:
    """`ensure_authorized` on pending polls §5's approval status and passes once approved."""
    async with client_for("authorize_pending", "approval_status") as (client, recorder):
        obligations = await either(
            mode,
            lambda: client.ensure_authorized("payments:refund", AMOUNT_OVER),
            lambda: client.ensure_authorized_async("payments:refund", AMOUNT_OVER),
        )
    assert obligations is None
    assert_matches(only(recorder, "authorize_pending"), "authorize_pending")
    assert_matches(only(recorder, "approval_status"), "approval_status")
    paths = [r.path for r in recorder.requests]
    assert paths.index("/v1/authorize") < paths.index("/v1/approvals/apr_3")


async def test_wait_for_approval_matches_fixture(mode: str) -> None:
    """`wait_for_approval` sends §5's GET and turns `approved` into an allowed `AuthDecision`."""
    async with client_for("approval_status") as (client, recorder):
        decision = await either(
            mode,
            lambda: client.wait_for_approval("payments:refund", "apr_3"),
            lambda: client.wait_for_approval_async("payments:refund", "apr_3"),
        )
    assert_matches(only(recorder, "approval_status"), "approval_status")
    assert isinstance(decision, tracengent.AuthDecision)
    assert decision.allowed
    assert not decision.pending


async def test_ensure_authorized_raises_when_the_approval_is_denied(mode: str) -> None:
    """A denied approval makes `ensure_authorized` raise `NotAuthorizedException`."""
    async with client_for("authorize_pending", "approval_status") as (client, recorder):
        recorder.answer("/v1/approvals/apr_3", 200, {"status": "denied", "approvalId": "apr_3"})
        with pytest.raises(tracengent.NotAuthorizedException) as raised:
            await either(
                mode,
                lambda: client.ensure_authorized("payments:refund", AMOUNT_OVER),
                lambda: client.ensure_authorized_async("payments:refund", AMOUNT_OVER),
            )
    assert raised.value.permission == "payments:refund"


# --- §7 delegation ----------------------------------------------------------------------------


async def test_delegated_authorize_matches_fixture(mode: str) -> None:
    """A delegated session authorizes with its token only, and gets `actingFor`/`chain` back."""
    async with client_for("authorize_delegated") as (client, recorder):
        session = client.begin_delegated_task(DELEGATED_TOKEN)
        context: JsonObject = {"amount": 310, "currency": "EUR"}
        decision = await either(
            mode,
            lambda: session.authorize("flights:book", context),
            lambda: session.authorize_async("flights:book", context),
        )
        await session.aclose()
    request = only(recorder, "authorize_delegated")
    assert_matches(request, "authorize_delegated")
    assert request.headers["authorization"] == f"Bearer {DELEGATED_TOKEN}"
    assert recorder.to("/v1/oauth/token") == []
    assert (decision.allowed, decision.acting_for, decision.chain) == (
        True,
        "u_42",
        ["agt_travel", "agt_flights"],
    )


async def test_attenuate_for_call_matches_fixture(mode: str) -> None:
    """`attenuate_for_call` sends §7's request as the delegated bearer; the child holds the token."""
    async with client_for("attenuate", token=CHILD_TOKEN) as (client, recorder):
        session = client.begin_delegated_task(DELEGATED_TOKEN)
        assert isinstance(session, tracengent.DelegatedSession)
        assert (session.grant_id, session.acting_for) == ("dlg_4", "u_42")
        child = await either(
            mode,
            lambda: session.attenuate_for_call(
                "agt_hotel",
                ["hotels:book"],
                max_amount=500,
                expires_in_seconds=300,
                reason="book the hotel for the trip",
            ),
            lambda: session.attenuate_for_call_async(
                "agt_hotel",
                ["hotels:book"],
                max_amount=500,
                expires_in_seconds=300,
                reason="book the hotel for the trip",
            ),
        )
        await session.aclose()
    request = only(recorder, "attenuate")
    assert_matches(request, "attenuate")
    assert request.headers["authorization"] == f"Bearer {DELEGATED_TOKEN}"
    assert isinstance(child, tracengent.DelegatedSession)
    assert (child.token, child.grant_id, child.is_delegated) == (CHILD_TOKEN, "dlg_5", True)


# --- §6 tool authorize ------------------------------------------------------------------------

CARD = "4242424242424242"
MCP_ARGS: JsonObject = {"from": "BER", "to": "LIS"}
FUNCTION_ARGS: JsonObject = {"amount": 250, "iban": "DE00123"}


def upstream(sent: list[httpx.Request]) -> httpx.MockTransport:
    """Stripe's stand-in: records what reached it and answers 200."""

    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        return httpx.Response(200, json={"id": "re_1"})

    return httpx.MockTransport(handle)


async def refund_through_governed_client(
    client: tracengent.TracengentClient, mode: str, sent: list[httpx.Request]
) -> httpx.Response:
    """POST the fixture's refund through a (sync or async) governed client."""
    url = "https://api.stripe.com/v1/refunds"
    params = {"expand": "charge"}
    body: JsonObject = {"amount": 1999, "card": CARD}
    headers = {"idempotency-key": "r-1001"}
    if mode == "sync":
        with tracengent.governed_client(client, inner=upstream(sent)) as http:
            return http.post(url, params=params, json=body, headers=headers)
    async with tracengent.governed_async_client(client, inner=upstream(sent)) as ahttp:
        return await ahttp.post(url, params=params, json=body, headers=headers)


async def test_governed_client_tool_authorize_matches_fixture(mode: str) -> None:
    """A governed request inside a trace sends §6's http request; the allow's mask is applied.

    httpx adds headers of its own (host, accept, user-agent, content-length, ...), so the
    fixture's `headers` must be a subset of what is sent; the rest of the body is compared whole.
    """
    sent: list[httpx.Request] = []
    async with client_for("tool_authorize_http") as (client, recorder):
        with client.begin_trace("refund order 1001") as trace:
            response = await refund_through_governed_client(client, mode, sent)
    assert response.status_code == 200
    request = only(recorder, "tool_authorize_http")
    produced, expected = produced_and_expected(request, entry("tool_authorize_http", FIXTURE))
    produced_body, expected_body = produced.pop("body"), expected.pop("body")
    produced.pop("key_order")
    expected.pop("key_order")
    assert produced == expected
    assert isinstance(produced_body, dict)
    assert isinstance(expected_body, dict)
    assert list(produced_body) == list(expected_body)
    produced_body, expected_body = dict(produced_body), dict(expected_body)  # FIXTURE is shared
    governed_headers = produced_body.pop("headers")
    fixture_headers = expected_body.pop("headers")
    assert isinstance(governed_headers, dict)
    assert isinstance(fixture_headers, dict)
    assert {k: governed_headers.get(k) for k in fixture_headers} == fixture_headers
    assert not {"authorization", "cookie", "traceparent"} & set(governed_headers)
    assert produced_body == expected_body
    assert key_paths(produced_body) == key_paths(expected_body)
    body = request.json()
    assert isinstance(body, dict)
    assert body["traceId"] == trace.trace_id
    (reached,) = sent
    assert reached.headers["idempotency-key"] == "r-1001"
    # The approved request carries the trace's W3C context (after the gate, not to the platform).
    assert reached.headers["traceparent"].split("-")[1] == trace.trace_id[4:36]
    assert httpx.Response(200, content=reached.content).json() == {
        "amount": 1999,
        "card": tracengent.MASK_TOKEN,
    }


async def test_mcp_tool_authorize_matches_fixture(mode: str) -> None:
    """`client.tools` gates an MCP call with §6's mcp request; the deny is a `ToolDecision`."""
    invoked: list[JsonValue] = []

    async def ainvoke(args: JsonValue) -> str:
        invoked.append(args)
        return "flights"

    def invoke(args: JsonValue) -> str:
        invoked.append(args)
        return "flights"

    async with client_for("tool_authorize_mcp") as (client, recorder):
        with client.begin_trace("fly to Lisbon"):
            result = await either(
                mode,
                lambda: client.tools.guard_mcp("search_flights", MCP_ARGS, invoke),
                lambda: client.tools.guard_mcp_async("search_flights", MCP_ARGS, ainvoke),
            )
    assert_matches(only(recorder, "tool_authorize_mcp"), "tool_authorize_mcp")
    assert isinstance(result, tracengent.ToolGuardResult)
    assert not result.allowed
    assert invoked == []
    decision = result.decision
    assert (decision.status, decision.outcome, decision.permission, decision.decision_id) == (
        "denied",
        "policy_deny",
        "flights:search",
        "dec_11",
    )
    with pytest.raises(tracengent.ToolDeniedException) as raised:
        result.ensure_allowed()
    assert (raised.value.permission, raised.value.outcome) == ("flights:search", "policy_deny")


async def test_function_tool_authorize_matches_fixture(mode: str) -> None:
    """`client.tools` gates a function call with §6's function request; pending is not run."""
    async with client_for("tool_authorize_function") as (client, recorder):
        decision = await either(
            mode,
            lambda: client.tools.authorize_function("transfer_funds", FUNCTION_ARGS),
            lambda: client.tools.authorize_function_async("transfer_funds", FUNCTION_ARGS),
        )
        guarded = client.tools.guard_function("transfer_funds", FUNCTION_ARGS, lambda a: a)
    for request in recorder.to("/v1/tool-authorize"):
        assert_matches(request, "tool_authorize_function")
    assert isinstance(decision, tracengent.ToolDecision)
    assert (decision.pending, decision.approval_id, decision.outcome) == (
        True,
        "apr_4",
        "approval_required",
    )
    with pytest.raises(tracengent.ToolPendingApprovalException) as raised:
        guarded.ensure_allowed()
    assert raised.value.approval_id == "apr_4"
