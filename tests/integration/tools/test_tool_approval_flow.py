"""A held tool call runs once a person approves it, against the real local platform: the gate
waits for the approval (`ToolGate.wait_for_approval[_async]`, or `guard_*(wait_for_approval=True)`)
and the retry of the same call is allowed once, made with the redacted arguments; other arguments,
a second retry, a denied or expired approval are held or refused. HTTP egress through a governed
client too (its bytes reach a loopback tool server, which stands for the real API)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from opentelemetry import trace

from opentelemetry.exporter.tracengent.errors import (
    ToolDeniedException,
    ToolPendingApprovalException,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tests.integration.governance.conftest import AsyncPollSignal, PollSignal
from tests.support.loopback import LoopbackServer, Reply, serve
from tracengent import governed_async_client, governed_client
from tracengent._governance.egress import EgressGovernor
from tracengent._governance.tools import ToolGate, ToolGuardResult
from tracengent.platform import DEFAULT_POLICY_TOML, LocalPlatform, Policy, parse_policy
from tracengent.testing import RunningPlatform

T = TypeVar("T")

REFUNDS = "http://api.example.com/v1/refunds"
EMAIL: JsonObject = {"to": "a@example.com", "attachments": ["contract.pdf"]}
SENT: JsonObject = {"to": "a@example.com"}

_SEND_EMAIL = 'name = "send_email"\npermission = "mail:send"\napproval = true\n'
POLICY_TOML = DEFAULT_POLICY_TOML.replace(
    _SEND_EMAIL,
    _SEND_EMAIL + 'redactions = [{ field = "$.attachments", strategy = "remove" }]\n',
) + (
    '\n[[tools]]\ntransport = "mcp"\nname = "cancel_booking"\npermission = "flights:cancel"\n'
    'approval = true\nredactions = [{ field = "$.card", strategy = "mask" }]\n'
)


@pytest.fixture
def tracengent_policy() -> Policy:
    """The built-in policy, send_email also removing attachments, and an MCP tool held for
    approval (cancel_booking, masking $.card)."""
    assert _SEND_EMAIL in DEFAULT_POLICY_TOML
    return parse_policy(POLICY_TOML, source="<approval flow tests>")


class Gates:
    """demo-agent's tool gate and egress gate over real platform clients whose transports signal
    each approval poll (`polled`), so a test approves exactly when the gate waits."""

    def __init__(self, platform: RunningPlatform | LocalPlatform) -> None:
        options = (
            platform.options(governed_hosts=["api.example.com"], max_retries=0)
            if isinstance(platform, RunningPlatform)
            else RunningPlatform(platform).options(max_retries=0)
        )
        options.approval_poll_interval_s = 0.01
        options.approval_timeout_s = 30.0
        self.signal = PollSignal()
        self.async_signal = AsyncPollSignal()
        self.platform = PlatformClient(options, transport=self.signal)
        self.async_platform = AsyncPlatformClient(options, transport=self.async_signal)
        tracer = trace.get_tracer("tests")
        self.tools = ToolGate(
            options, platform=self.platform, async_platform=self.async_platform, tracer=tracer
        )
        self.egress = EgressGovernor(
            options,
            platform=self.platform,
            async_platform=self.async_platform,
            tracer=tracer,
            govern_all=True,
        )

    def egress_gate(self, *, govern_all: bool) -> EgressGovernor:
        """What `governed_client` asks a TracengentClient for."""
        return self.egress

    async def close(self) -> None:
        self.platform.close()
        await self.async_platform.aclose()


@pytest.fixture
async def gates(tracengent_platform: RunningPlatform) -> AsyncIterator[Gates]:
    opened = Gates(tracengent_platform)
    yield opened
    await opened.close()


@pytest.fixture
def tool_server() -> Iterator[LoopbackServer]:
    with serve(lambda _: Reply(200, b'{"ok":true}')) as running:
        yield running


async def _wait(gates: Gates, mode: str, approval_id: str) -> None:
    """`wait_for_approval` (mode `sync`) or its coroutine twin."""
    if mode == "sync":
        gates.tools.wait_for_approval(approval_id)
    else:
        await gates.tools.wait_for_approval_async(approval_id)


def _pending(result: ToolGuardResult[T]) -> str:
    """The approval id of a held guard result."""
    assert result.decision.pending, result
    assert result.decision.approval_id is not None
    return result.decision.approval_id


def test_approved_function_call_runs_once_with_redacted_arguments(
    gates: Gates, tracengent_platform: RunningPlatform
) -> None:
    """send_email: held; approved; the wait returns; the retry runs the function with the
    attachments removed, the decision naming the approval; a second retry is held again."""
    sent: list[JsonValue] = []
    approval_id = _pending(gates.tools.guard_function("send_email", EMAIL, sent.append))
    assert sent == []
    tracengent_platform.store.decide_approval(approval_id, True)
    gates.tools.wait_for_approval(approval_id)
    retried = gates.tools.guard_function("send_email", EMAIL, sent.append).ensure_allowed()
    assert sent == [SENT]
    assert retried.arguments == SENT
    assert (retried.decision.outcome, retried.decision.approval_id) == ("policy_allow", approval_id)
    assert approval_id in retried.decision.reason
    again = _pending(gates.tools.guard_function("send_email", EMAIL, sent.append))
    assert again != approval_id
    assert sent == [SENT]


def test_other_arguments_are_held_again(gates: Gates, tracengent_platform: RunningPlatform) -> None:
    """An approval of one email does not let another through: it is held with a new approval,
    and the approved email still goes once."""
    sent: list[JsonValue] = []
    approval_id = _pending(gates.tools.guard_function("send_email", EMAIL, sent.append))
    tracengent_platform.store.decide_approval(approval_id, True)
    other: JsonObject = {**EMAIL, "to": "b@example.com"}
    assert _pending(gates.tools.guard_function("send_email", other, sent.append)) != approval_id
    assert gates.tools.guard_function("send_email", EMAIL, sent.append).allowed
    assert sent == [SENT]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_denied_approval_raises_and_never_runs(
    gates: Gates, tracengent_platform: RunningPlatform, mode: str
) -> None:
    """A denied approval: the wait raises approval_denied; the retry is held, never run."""
    sent: list[JsonValue] = []
    approval_id = _pending(gates.tools.guard_function("send_email", EMAIL, sent.append))
    tracengent_platform.store.decide_approval(approval_id, False)
    with pytest.raises(ToolDeniedException) as caught:
        await _wait(gates, mode, approval_id)
    assert (caught.value.outcome, caught.value.reason) == ("approval_denied", "approval denied")
    assert _pending(gates.tools.guard_function("send_email", EMAIL, sent.append)) != approval_id
    assert sent == []


async def test_expired_approval_raises_and_never_runs(tmp_path: Path) -> None:
    """An approval nobody decided within the TTL: the wait raises approval_expired and the retry
    is held with a new approval."""
    now = [1_795_515_302.0]
    policy = parse_policy(POLICY_TOML, source="<approval flow tests>")
    with LocalPlatform(tmp_path / "db.sqlite3", policy, clock=lambda: now[0]) as platform:
        gates = Gates(platform)
        try:
            sent: list[JsonValue] = []
            approval_id = _pending(gates.tools.guard_function("send_email", EMAIL, sent.append))
            now[0] += 3601
            with pytest.raises(ToolDeniedException) as caught:
                await gates.tools.wait_for_approval_async(approval_id)
            assert caught.value.outcome == "approval_expired"
            retried = gates.tools.guard_function("send_email", EMAIL, sent.append)
            assert _pending(retried) != approval_id
            assert sent == []
        finally:
            await gates.close()


def test_guard_waits_for_a_person_and_runs_the_call(
    gates: Gates, tracengent_platform: RunningPlatform
) -> None:
    """guard_function(wait_for_approval=True) blocks until a person approves (while it polls),
    then runs the function once with the redacted arguments."""
    store = tracengent_platform.store

    def person() -> None:
        assert gates.signal.polled.wait(30)
        (held,) = store.approvals(status="pending")
        store.decide_approval(held.approval_id, True)

    approver = threading.Thread(target=person)
    approver.start()
    sent: list[JsonValue] = []
    result = gates.tools.guard_function("send_email", EMAIL, sent.append, wait_for_approval=True)
    approver.join(timeout=30)
    assert not approver.is_alive()
    assert (result.allowed, sent) == (True, [SENT])
    (used,) = store.approvals(status="approved")
    assert used.used_at is not None


async def test_async_mcp_guard_waits_and_runs_masked(
    gates: Gates, tracengent_platform: RunningPlatform
) -> None:
    """guard_mcp_async(wait_for_approval=True): the coroutine awaits the person's approval and
    calls the tool with the card masked."""
    store = tracengent_platform.store

    async def person() -> None:
        await asyncio.wait_for(gates.async_signal.polled.wait(), 30)
        (held,) = store.approvals(status="pending")
        store.decide_approval(held.approval_id, True)

    called: list[JsonValue] = []

    async def cancel(arguments: JsonValue) -> str:
        called.append(arguments)
        return "cancelled"

    args: JsonObject = {"booking": "B1", "card": "4242"}
    result, _ = await asyncio.gather(
        gates.tools.guard_mcp_async("cancel_booking", args, cancel, wait_for_approval=True),
        person(),
    )
    assert (result.allowed, result.value) == (True, "cancelled")
    assert called == [{"booking": "B1", "card": "***REDACTED***"}]


async def test_async_wait_then_retry(gates: Gates, tracengent_platform: RunningPlatform) -> None:
    """The async twin of the held → approved → retry flow for an MCP tool."""
    called: list[JsonValue] = []

    async def cancel(arguments: JsonValue) -> None:
        called.append(arguments)

    args: JsonObject = {"booking": "B2", "card": "4242"}
    held = await gates.tools.guard_mcp_async("cancel_booking", args, cancel)
    approval_id = _pending(held)
    tracengent_platform.store.decide_approval(approval_id, True)
    await gates.tools.wait_for_approval_async(approval_id)
    assert (await gates.tools.guard_mcp_async("cancel_booking", args, cancel)).allowed
    assert not (await gates.tools.guard_mcp_async("cancel_booking", args, cancel)).allowed
    assert called == [{"booking": "B2", "card": "***REDACTED***"}]


def test_concurrent_retries_run_the_call_once(
    gates: Gates, tracengent_platform: RunningPlatform
) -> None:
    """Six threads retry the approved call at once: the function runs exactly once."""
    sent: list[JsonValue] = []
    approval_id = _pending(gates.tools.guard_function("send_email", EMAIL, sent.append))
    tracengent_platform.store.decide_approval(approval_id, True)
    gates.tools.wait_for_approval(approval_id)
    start = threading.Barrier(6)
    allowed: list[bool] = []

    def retry() -> None:
        start.wait()
        allowed.append(gates.tools.guard_function("send_email", EMAIL, sent.append).allowed)

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(allowed) == [False] * 5 + [True]
    assert sent == [SENT]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_governed_client_retry_goes_out_masked_once_approved(
    gates: Gates, tracengent_platform: RunningPlatform, tool_server: LoopbackServer, mode: str
) -> None:
    """A refund over the threshold through a governed client: held, nothing sent; approved and
    waited for; the same request re-sent reaches the tool server with the card masked; another
    amount is held again."""
    body: JsonObject = {"amount": 700, "currency": "EUR", "card": "4242"}
    other: JsonObject = {**body, "amount": 701}
    if mode == "sync":
        with governed_client(gates, inner=httpx.HTTPTransport(proxy=tool_server.url)) as client:
            with pytest.raises(ToolPendingApprovalException) as held:
                client.post(REFUNDS, json=body)
            assert tool_server.received == []
            assert held.value.approval_id is not None
            tracengent_platform.store.decide_approval(held.value.approval_id, True)
            gates.tools.wait_for_approval(held.value.approval_id)
            assert client.post(REFUNDS, json=body).status_code == 200
            with pytest.raises(ToolPendingApprovalException):
                client.post(REFUNDS, json=other)
    else:
        inner = httpx.AsyncHTTPTransport(proxy=tool_server.url)
        async with governed_async_client(gates, inner=inner) as async_client:
            with pytest.raises(ToolPendingApprovalException) as held:
                await async_client.post(REFUNDS, json=body)
            assert tool_server.received == []
            assert held.value.approval_id is not None
            tracengent_platform.store.decide_approval(held.value.approval_id, True)
            await gates.tools.wait_for_approval_async(held.value.approval_id)
            assert (await async_client.post(REFUNDS, json=body)).status_code == 200
            with pytest.raises(ToolPendingApprovalException):
                await async_client.post(REFUNDS, json=other)
    (received,) = tool_server.received
    assert received.json() == {"amount": 700, "currency": "EUR", "card": "***REDACTED***"}
