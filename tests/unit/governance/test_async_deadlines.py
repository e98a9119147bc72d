"""The coroutine gates give up after `governance_timeout_s` even when the transport stalls."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tracengent import (
    ToolDeniedException,
    TracengentClient,
    TracengentOptions,
    governed_async_client,
)

TIMEOUT_S = 0.3
# Generous: the gate must return near TIMEOUT_S, far from the transport's 60 s stall.
SLACK_S = 5.0


class StallingPlatform(httpx.AsyncBaseTransport):
    """Answers ingest at once; every governance call hangs for a minute."""

    def __init__(self) -> None:
        self.stalled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/ingest"):
            return httpx.Response(200, json={})
        self.stalled += 1
        await asyncio.sleep(60)
        return httpx.Response(200, json={"allowed": True, "status": "allowed"})


def _client(platform: StallingPlatform, **options: object) -> TracengentClient:
    settings: dict[str, object] = {
        "agent_id": "a",
        "ingest_key": "agk_x",
        "base_url": "http://platform.test",
        "governance_timeout_s": TIMEOUT_S,
        "max_retries": 0,
    }
    settings.update(options)
    # The async calls go to the stalling platform; telemetry (sync) is acknowledged at once.
    return TracengentClient(
        TracengentOptions(**settings),  # type: ignore[arg-type]
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json={})),
        async_transport=platform,
    )


async def test_the_async_tool_gate_denies_when_the_platform_stalls() -> None:
    """MCP and function decisions are bounded like `authorize_async`: a deny, in time."""
    platform = StallingPlatform()
    client = _client(platform)
    try:
        tools = client.tools
        for name, decide in (
            ("search", tools.authorize_mcp_async),
            ("refund", tools.authorize_function_async),
        ):
            started = time.monotonic()
            decision = await decide(name, {"amount": 5})
            assert time.monotonic() - started < TIMEOUT_S + SLACK_S
            assert not decision.allowed
            assert decision.outcome == "platform_unavailable"
            assert "deadline exceeded" in decision.reason
        assert platform.stalled == 2
    finally:
        client.close()


@pytest.mark.parametrize("fail_open", [False, True])
async def test_async_egress_is_bounded_and_a_stall_counts_as_unavailable(fail_open: bool) -> None:
    """A stalled platform is an unavailable one: denied in time (fail closed), or let through
    when a person chose fail-open, as the blocking gate treats its own timeout."""
    platform = StallingPlatform()
    client = _client(platform, tool_governance_fail_open=fail_open)
    sent: list[str] = []

    def tool(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, json={"ok": True})

    try:
        async with governed_async_client(client, inner=httpx.MockTransport(tool)) as http:
            started = time.monotonic()
            if fail_open:
                response = await http.post("https://tool.test/refund", json={"amount": 5})
                assert response.status_code == 200
                assert sent == ["https://tool.test/refund"]
            else:
                with pytest.raises(ToolDeniedException, match="deadline exceeded"):
                    await http.post("https://tool.test/refund", json={"amount": 5})
                assert sent == []
            assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    finally:
        client.close()
