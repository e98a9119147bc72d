"""Review 2, against the real local platform and a real server on 127.0.0.1: with
`governed_hosts=["127.0.0.1"]`, another spelling of the address (`2130706433`, `127.1`,
`0x7f000001`, `[::ffff:127.0.0.1]`) is authorized before it leaves, not sent ungoverned."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.instrumentation.tracengent_httpx import (
    AsyncGatedTransport,
    EgressGate,
    GatedTransport,
)
from tracengent import TracengentClient
from tracengent.testing import RunningPlatform

from .test_egress_review import ToolServer, tool_server

__all__ = ["tool_server"]


@pytest.fixture
async def loopback_client(tracengent_platform: RunningPlatform) -> AsyncIterator[TracengentClient]:
    """`demo-agent`'s client, governing 127.0.0.1."""
    opened = TracengentClient(
        tracengent_platform.options(governed_hosts=["127.0.0.1"], max_retries=0)
    )
    yield opened
    await opened.aclose(timeout=5)


def _post_sync(gate: EgressGate, url: str) -> None:
    with httpx.Client(transport=GatedTransport(httpx.HTTPTransport(), gate)) as http:
        http.post(url, json={"card": "4242"})


async def _post(mode: str, gate: EgressGate, url: str) -> None:
    """POST `url` directly (no proxy) through a sync or async gated client."""
    if mode == "sync":
        _post_sync(gate, url)
        return
    transport = AsyncGatedTransport(httpx.AsyncHTTPTransport(), gate)
    async with httpx.AsyncClient(transport=transport) as http:
        await http.post(url, json={"card": "4242"})


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f000001", "[::ffff:127.0.0.1]"])
async def test_another_spelling_of_the_governed_address_is_authorized(
    tracengent_platform: RunningPlatform,
    loopback_client: TracengentClient,
    tool_server: ToolServer,
    mode: str,
    host: str,
) -> None:
    """The default policy does not allow the host: denied, nothing reaches the server, and the
    platform stored the decision."""
    port = tool_server.url.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/v1/anything"
    gate = loopback_client.egress_gate(govern_all=False)
    with pytest.raises(ToolDeniedException):
        await _post(mode, gate, url)
    assert tool_server.received == []
    assert [d.kind for d in tracengent_platform.store.decisions()] == ["tool"]
