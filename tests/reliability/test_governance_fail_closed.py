"""Governance is strictly fail-closed: every malformed or failed answer, through every governance
call (sync and async), is a deny or one of the documented governance exceptions; nothing else."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.support.chaos import (
    Answer,
    ChaosServer,
    Drop,
    Fault,
    Truncate,
    chaos_server,
    make_jwt,
    sequence,
)
from tracengent import (
    AuthDecision,
    DelegationException,
    NotAuthorizedException,
    ToolDecision,
    ToolDeniedException,
    ToolPendingApprovalException,
    TracengentClient,
    governed_async_client,
    governed_client,
)
from tracengent._governance.tools import ToolGuardResult

from .conftest import chaos_options

GOVERNANCE_ERRORS = (
    NotAuthorizedException,
    ToolDeniedException,
    ToolPendingApprovalException,
    DelegationException,
)
GOVERNED_PATHS = (
    "/v1/authorize",
    "/v1/tool-authorize",
    "/v1/approvals/apr_1",
    "/v1/delegations/dlg_1/attenuate",
)
TOOL_PATH = "/tool/echo"

BAD_ANSWERS: dict[str, Fault] = {
    "allowed-yes": Answer(body={"allowed": "yes", "status": "allowed"}),
    "allowed-string-false": Answer(body={"allowed": "false", "status": "allowed"}),
    "allowed-1": Answer(body={"allowed": 1, "status": "allowed"}),
    "empty-object": Answer(body={}),
    "array": Answer(body=[]),
    "null": Answer(body=None),
    "not-json": Answer(body=b"allowed: true"),
    "html-200": Answer(body=b"<html><body>OK</body></html>", content_type="text/html"),
    "true-without-status": Answer(body={"allowed": True}),
    "true-but-denied": Answer(body={"allowed": True, "status": "denied"}),
    "truncated": Truncate(body=b'{"allowed": true, "status": "all'),
    "connection-dropped": Drop(),
    "401-always": Answer(401, {"error": "unauthorized"}),
    "403": Answer(403, {"error": "forbidden"}),
    "500": Answer(500, {"error": "boom"}),
    "429": Answer(429, {"error": "slow down"}, headers=(("Retry-After", "0"),)),
}

Outcome = object
Call = Callable[[TracengentClient, ChaosServer], Outcome | Awaitable[Outcome]]


def _delegated(client: TracengentClient) -> str:
    return make_jwt(
        {
            "sub": "chaos-agent",
            "grant_id": "dlg_1",
            "acting_for": "u_1",
            "permissions": ["*"],
            "delegated_permissions": ["*"],
        }
    )


def _must_not_run(_: object) -> str:
    raise AssertionError("the tool ran although governance did not allow it")


async def _must_not_run_async(_: object) -> str:
    raise AssertionError("the tool ran although governance did not allow it")


def _guarded(result: ToolGuardResult[str]) -> ToolGuardResult[str]:
    result.ensure_allowed()
    return result


async def _guarded_async(result: Awaitable[ToolGuardResult[str]]) -> ToolGuardResult[str]:
    return _guarded(await result)


def _egress(client: TracengentClient, chaos: ChaosServer) -> object:
    with governed_client(client, base_url=chaos.url) as http:
        return http.post(TOOL_PATH, json={"card": "4242"})


async def _egress_async(client: TracengentClient, chaos: ChaosServer) -> object:
    async with governed_async_client(client, base_url=chaos.url) as http:
        return await http.post(TOOL_PATH, json={"card": "4242"})


def _attenuate(client: TracengentClient, _: ChaosServer) -> object:
    with client.begin_delegated_task(_delegated(client)) as session:
        return session.attenuate_for_call("agt_hotel", ["hotels:book"])


async def _attenuate_async(client: TracengentClient, _: ChaosServer) -> object:
    async with client.begin_delegated_task(_delegated(client)) as session:
        return await session.attenuate_for_call_async("agt_hotel", ["hotels:book"])


def _delegated_authorize(client: TracengentClient, _: ChaosServer) -> object:
    with client.begin_delegated_task(_delegated(client)) as session:
        return session.authorize("hotels:book")


async def _delegated_authorize_async(client: TracengentClient, _: ChaosServer) -> object:
    async with client.begin_delegated_task(_delegated(client)) as session:
        return await session.authorize_async("hotels:book")


CALLS: dict[str, Call] = {
    "authorize": lambda c, _: c.authorize("payments:refund", {"amount": 5}),
    "authorize_async": lambda c, _: c.authorize_async("payments:refund"),
    "ensure_authorized": lambda c, _: c.ensure_authorized("payments:refund"),
    "ensure_authorized_async": lambda c, _: c.ensure_authorized_async("payments:refund"),
    "wait_for_approval": lambda c, _: c.wait_for_approval("payments:refund", "apr_1"),
    "wait_for_approval_async": lambda c, _: c.wait_for_approval_async("payments:refund", "apr_1"),
    "authorize_mcp": lambda c, _: c.tools.authorize_mcp("search", {"q": "x"}),
    "authorize_mcp_async": lambda c, _: c.tools.authorize_mcp_async("search", {"q": "x"}),
    "authorize_function": lambda c, _: c.tools.authorize_function("transfer", {"to": "x"}),
    "authorize_function_async": lambda c, _: c.tools.authorize_function_async("transfer", {}),
    "guard_mcp": lambda c, _: _guarded(c.tools.guard_mcp("search", {}, _must_not_run)),
    "guard_mcp_async": lambda c, _: _guarded_async(
        c.tools.guard_mcp_async("search", {}, _must_not_run_async)
    ),
    "guard_function": lambda c, _: _guarded(c.tools.guard_function("pay", {}, _must_not_run)),
    "guard_function_async": lambda c, _: _guarded_async(
        c.tools.guard_function_async("pay", {}, _must_not_run_async)
    ),
    "governed_client": _egress,
    "governed_async_client": _egress_async,
    "delegated_authorize": _delegated_authorize,
    "delegated_authorize_async": _delegated_authorize_async,
    "attenuate": _attenuate,
    "attenuate_async": _attenuate_async,
}


@dataclass(frozen=True)
class Verdict:
    """How one governance call ended."""

    denied: bool
    detail: str


async def run_call(call: Call, client: TracengentClient, chaos: ChaosServer) -> Verdict:
    """Run a call; a deny (decision or governance exception) is `denied`; other errors propagate."""
    try:
        result = call(client, chaos)
        if inspect.isawaitable(result):
            result = await result
    except GOVERNANCE_ERRORS as exc:
        return Verdict(True, f"{type(exc).__name__}: {exc}")
    if isinstance(result, (AuthDecision, ToolDecision)):
        return Verdict(not result.allowed and bool(result.reason), result.reason)
    return Verdict(False, f"allowed through: {result!r}")


@pytest.fixture
def bad_platform(request: pytest.FixtureRequest) -> Iterator[ChaosServer]:
    """A chaos platform answering every governance endpoint with the parametrized bad answer."""
    with chaos_server() as server:
        for path in GOVERNED_PATHS:
            server.on(path, sequence(then=request.param))
        yield server


@pytest.mark.parametrize(
    "bad_platform", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys(), indirect=True
)
async def test_every_governance_call_denies_a_bad_answer(bad_platform: ChaosServer) -> None:
    """Each bad answer, through each governance call (sync and async) is a deny; no raw exception; no tool call."""
    options = chaos_options(
        bad_platform.url, max_retries=0, approval_timeout_s=0.3, governance_timeout_s=1.0
    )
    async with TracengentClient(options) as client:
        verdicts = {
            name: await run_call(call, client, bad_platform) for name, call in CALLS.items()
        }
    allowed = {name: v.detail for name, v in verdicts.items() if not v.denied}
    assert allowed == {}
    assert bad_platform.to(TOOL_PATH) == []


APPROVAL_FAULTS = ("allowed-yes", "null", "html-200", "truncated", "403", "500")


@pytest.mark.parametrize("bad", [BAD_ANSWERS[k] for k in APPROVAL_FAULTS], ids=APPROVAL_FAULTS)
async def test_a_pending_decision_with_a_bad_approval_answer_is_not_authorized(bad: Fault) -> None:
    """Pending approval, then an approval endpoint answering badly: NotAuthorizedException, in time."""
    with chaos_server() as chaos:
        pending = {
            "allowed": False,
            "status": "pending_approval",
            "reason": "over limit",
            "decisionId": "dec_p",
            "approvalId": "apr_1",
        }
        chaos.on("/v1/authorize", sequence(then=Answer(body=pending)))
        chaos.on("/v1/approvals/apr_1", sequence(then=bad))
        options = chaos_options(chaos.url, max_retries=0, approval_timeout_s=0.3)
        async with TracengentClient(options) as client:
            with pytest.raises(NotAuthorizedException):
                client.ensure_authorized("payments:refund", {"amount": 900})
            with pytest.raises(NotAuthorizedException):
                await client.ensure_authorized_async("payments:refund", {"amount": 900})


def test_the_parsers_allow_only_json_true_with_an_agreeing_status() -> None:
    """Only `allowed: true` with `status: allowed` allows; each other shape names what was wrong."""
    assert AuthDecision.from_wire({"allowed": True, "status": "allowed"}).allowed
    assert ToolDecision.from_wire({"allowed": True, "status": "allowed"}).allowed
    raws: tuple[object, ...] = (
        {"allowed": "true", "status": "allowed"},
        {"allowed": 1, "status": "allowed"},
        {"allowed": True},
        {"allowed": True, "status": "pending_approval"},
        [],
        None,
    )
    for raw in raws:
        auth, tool = AuthDecision.from_wire(raw), ToolDecision.from_wire(raw)
        assert not auth.allowed
        assert "malformed" in auth.reason
        assert not tool.allowed
        assert "malformed" in tool.reason
