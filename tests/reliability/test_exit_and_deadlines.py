"""Bounded: exit without close() flushes in bounded time; every governance call has a deadline."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.chaos import (
    EVENTS_PATH,
    TOKEN_PATH,
    Answer,
    ChaosServer,
    Stall,
    closed_port_url,
    sequence,
)
from tracengent import NotAuthorizedException, TracengentClient, TracengentOptions

from .conftest import chaos_options

AGENT = Path(__file__).with_name("exit_agent.py")
REPO = Path(__file__).resolve().parents[2]
EXIT_FLUSH_BOUND_S = 5.0
"""The processor's exit flush timeout (DEFAULT_EXIT_FLUSH_TIMEOUT_MS)."""


def run_agent(url: str, count: int) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the exit agent in a subprocess; return it and how long it took."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(AGENT), url, str(count)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done, time.monotonic() - started


def test_exit_without_close_delivers_the_buffered_events(chaos: ChaosServer) -> None:
    """An agent that never calls close() still delivers its 250 events at interpreter exit."""
    done, _ = run_agent(chaos.url, 250)
    assert done.returncode == 0, done.stderr
    names = {str(e["name"]) for e in chaos.acknowledged_events()}
    assert names == {f"exit-{i}" for i in range(250)}


def test_exit_without_close_is_bounded_and_says_what_it_left(chaos: ChaosServer) -> None:
    """With ingest stalled, the exit is bounded by the exit flush timeout and the loss is logged."""
    chaos.on(EVENTS_PATH, sequence(then=Stall()))
    done, elapsed = run_agent(chaos.url, 250)
    assert done.returncode == 0, done.stderr
    # Interpreter start-up and imports come on top of the flush bound.
    assert elapsed < EXIT_FLUSH_BOUND_S + 4.0
    assert "shutdown_timeout" in done.stderr


def test_the_default_governance_deadline_is_five_seconds() -> None:
    """The documented default deadline of a governance call is 5 s."""
    assert TracengentOptions(agent_id="a", ingest_key="agk_x").governance_timeout_s == 5.0


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_closed_port_denies_at_once(mode: str) -> None:
    """Nobody listening: authorize (token fetch included) denies at once, waiting neither for
    its 5 s deadline nor for a retry (a refused connection takes a few ms on loopback; the bound
    is a tenth of the deadline, so a slow machine does not fail it, and a wait would)."""
    async with TracengentClient(chaos_options(closed_port_url(), max_retries=0)) as client:
        client.authorize("warm:up")  # imports and connection pools, not the deadline under test
        started = time.monotonic()
        if mode == "sync":
            decision = client.authorize("payments:refund")
        else:
            decision = await client.authorize_async("payments:refund")
        elapsed = time.monotonic() - started
    assert not decision.allowed
    assert decision.reason
    assert elapsed < TracengentOptions(agent_id="a", ingest_key="agk_x").governance_timeout_s / 10


@pytest.mark.parametrize("stalled_path", ["/v1/authorize", TOKEN_PATH])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_stalled_platform_denies_within_the_deadline(
    chaos: ChaosServer, stalled_path: str, mode: str
) -> None:
    """A stalled authorize or token endpoint: a deny within governance_timeout_s + 0.25 s."""
    chaos.on(stalled_path, sequence(then=Stall()))
    async with TracengentClient(chaos_options(chaos.url, governance_timeout_s=0.5)) as client:
        started = time.monotonic()
        if mode == "sync":
            decision = client.authorize("payments:refund")
        else:
            decision = await client.authorize_async("payments:refund")
        elapsed = time.monotonic() - started
    assert not decision.allowed
    assert decision.reason
    assert elapsed < 0.5 + 0.25


async def test_a_stalled_tool_gate_denies_within_the_deadline(chaos: ChaosServer) -> None:
    """A stalled tool-authorize endpoint: MCP and function gates deny within the deadline."""
    chaos.on("/v1/tool-authorize", sequence(then=Stall()))
    async with TracengentClient(chaos_options(chaos.url, governance_timeout_s=0.4)) as client:
        started = time.monotonic()
        decisions = [
            client.tools.authorize_mcp("search", {}),
            await client.tools.authorize_function_async("pay", {}),
        ]
        elapsed = time.monotonic() - started
    assert not any(d.allowed for d in decisions)
    assert elapsed < 2 * 0.4 + 0.25


async def test_an_approval_wait_ends_at_its_timeout(chaos: ChaosServer) -> None:
    """An approval pending forever: wait_for_approval denies once approval_timeout_s has passed."""
    chaos.on("/v1/approvals/apr_1", sequence(then=Answer(body={"status": "pending"})))
    options = chaos_options(chaos.url, approval_timeout_s=0.4, approval_poll_interval_s=0.05)
    async with TracengentClient(options) as client:
        started = time.monotonic()
        decision = client.wait_for_approval("payments:refund", "apr_1")
        sync_s = time.monotonic() - started
        started = time.monotonic()
        decision_async = await client.wait_for_approval_async("payments:refund", "apr_1")
        async_s = time.monotonic() - started
    assert not decision.allowed
    assert "timed out" in decision.reason
    assert not decision_async.allowed
    assert 0.4 <= sync_s < 0.4 + 0.25
    assert 0.4 <= async_s < 0.4 + 0.25


async def test_an_approval_wait_stops_when_the_endpoint_keeps_failing(chaos: ChaosServer) -> None:
    """An approval endpoint answering 503 again and again ends the wait long before its timeout."""
    chaos.on("/v1/approvals/apr_1", sequence(then=Answer(503, {"error": "down"})))
    options = chaos_options(
        chaos.url, approval_timeout_s=30.0, approval_poll_interval_s=0.05, max_retries=0
    )
    pending = {
        "allowed": False,
        "status": "pending_approval",
        "reason": "big",
        "approvalId": "apr_1",
    }
    chaos.on("/v1/authorize", sequence(then=Answer(body=pending)))
    async with TracengentClient(options) as client:
        started = time.monotonic()
        with pytest.raises(NotAuthorizedException):
            await asyncio.wait_for(client.ensure_authorized_async("payments:refund"), 10)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert len(chaos.to("/v1/approvals/apr_1")) <= 5
