"""`wait_for_approval(..., timeout_s=0)` asks the platform once and settles on its answer.

Every public wait (the client's, a delegated session's, the tool gate's; sync and async) with
`timeout_s=0` came back "approval timed out after 0 s" without one `GET /v1/approvals/{id}`: the
poll's deadline was the end of the wait, already past. Against the real local platform now: one
GET, approved → an allow, still pending → a timeout deny.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.wire import AuthDecision
from tracengent import TracengentClient
from tracengent.platform import create_grant
from tracengent.testing import RunningPlatform

from .conftest import APPROVALS_PREFIX

REFUND = "payments:refund"
OVER_THRESHOLD: dict[str, JsonValue] = {"amount": 700, "currency": "EUR"}
NO_POLL_INTERVAL = 600.0
"""A poll interval no test waits out: a wait that paused between polls would hang the test."""


class CountingTransport(httpx.HTTPTransport):
    """A real transport counting the approval polls it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.polls = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(APPROVALS_PREFIX):
            with self._lock:
                self.polls += 1
        return super().handle_request(request)


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    """The async twin of `CountingTransport`."""

    def __init__(self) -> None:
        super().__init__()
        self.polls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(APPROVALS_PREFIX):
            self.polls += 1
        return await super().handle_async_request(request)


def _assert_timed_out(decision: AuthDecision, approval_id: str) -> None:
    assert (decision.allowed, decision.status) == (False, "denied")
    assert decision.approval_id == approval_id
    assert decision.reason == "approval timed out after 0 s"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_clients_wait_with_no_time_asks_once(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    """Pending: one GET, a timeout deny. Approved by a person: one more GET, an allow."""
    sync, concurrent = CountingTransport(), AsyncCountingTransport()
    client = TracengentClient(
        tracengent_platform.options(approval_poll_interval_s=NO_POLL_INTERVAL),
        transport=sync,
        async_transport=concurrent,
    )
    counter = sync if mode == "sync" else concurrent

    async def wait(approval_id: str) -> AuthDecision:
        if mode == "sync":
            return client.wait_for_approval(REFUND, approval_id, timeout_s=0)
        return await client.wait_for_approval_async(REFUND, approval_id, timeout_s=0)

    try:
        held = client.authorize(REFUND, OVER_THRESHOLD)
        assert held.pending, held.reason
        assert held.approval_id is not None
        _assert_timed_out(await wait(held.approval_id), held.approval_id)
        assert counter.polls == 1
        tracengent_platform.store.decide_approval(held.approval_id, True)
        approved = await wait(held.approval_id)
        assert (approved.allowed, approved.status) == (True, "allowed")
        assert approved.obligations == held.obligations
        assert counter.polls == 2
    finally:
        if mode == "sync":
            client.close(timeout=10)
        else:
            await client.aclose(timeout=10)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_delegated_sessions_wait_with_no_time_asks_once(
    tracengent_platform: RunningPlatform, mode: str, tracer: Tracer
) -> None:
    """The same under a delegated token (hotel-agent acting for demo-agent)."""
    _grant, issued = create_grant(
        tracengent_platform.store,
        tracengent_platform.policy,
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=[REFUND],
        ttl_seconds=600,
    )
    sync, concurrent = CountingTransport(), AsyncCountingTransport()
    client = TracengentClient(
        tracengent_platform.options("hotel-agent", approval_poll_interval_s=NO_POLL_INTERVAL),
        transport=sync,
        async_transport=concurrent,
    )
    session = client.begin_delegated_task(issued.access_token)
    counter = sync if mode == "sync" else concurrent

    async def wait(approval_id: str) -> AuthDecision:
        if mode == "sync":
            return session.wait_for_approval(REFUND, approval_id, timeout_s=0)
        return await session.wait_for_approval_async(REFUND, approval_id, timeout_s=0)

    try:
        held = session.authorize(REFUND, OVER_THRESHOLD)
        assert held.pending, held.reason
        assert held.approval_id is not None
        _assert_timed_out(await wait(held.approval_id), held.approval_id)
        assert counter.polls == 1
        tracengent_platform.store.decide_approval(held.approval_id, True)
        approved = await wait(held.approval_id)
        assert (approved.allowed, approved.acting_for) == (True, "demo-agent")
        assert counter.polls == 2
    finally:
        await session.aclose()
        if mode == "sync":
            client.close(timeout=10)
        else:
            await client.aclose(timeout=10)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_tool_gates_wait_with_no_time_asks_once(
    tracengent_platform: RunningPlatform, mode: str
) -> None:
    """A held `send_email`: pending → `approval_timeout` after one GET; approved → no raise."""
    sync, concurrent = CountingTransport(), AsyncCountingTransport()
    client = TracengentClient(
        tracengent_platform.options(approval_poll_interval_s=NO_POLL_INTERVAL),
        transport=sync,
        async_transport=concurrent,
    )
    counter = sync if mode == "sync" else concurrent

    async def wait(approval_id: str) -> None:
        if mode == "sync":
            client.tools.wait_for_approval(approval_id, timeout_s=0)
        else:
            await client.tools.wait_for_approval_async(approval_id, timeout_s=0)

    try:
        held = client.tools.authorize_function("send_email", {"to": "a@example.com"})
        assert held.pending, held.reason
        assert held.approval_id is not None
        with pytest.raises(ToolDeniedException) as raised:
            await wait(held.approval_id)
        assert raised.value.outcome == "approval_timeout"
        assert counter.polls == 1
        tracengent_platform.store.decide_approval(held.approval_id, True)
        await wait(held.approval_id)
        assert counter.polls == 2
    finally:
        if mode == "sync":
            client.close(timeout=10)
        else:
            await client.aclose(timeout=10)
