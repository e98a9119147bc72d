"""Fixtures for MCP against the real local platform and a real MCP server (stdio and HTTP).

The policy allows `search_flights`, denies `delete_account` (the agent lacks its permission),
holds `send_invoice` for approval and masks `$.card` of `book_hotel`. The MCP server is a
subprocess (`mcp_server.py`) that records every call it receives in a JSON-lines file.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient
from tracengent import TracengentClient, _state
from tracengent._mcp import instrument_mcp
from tracengent.testing import RunningPlatform

SERVER_SCRIPT = Path(__file__).with_name("mcp_server.py")

POLICY = """
currency = "EUR"

[[agents]]
id = "demo-agent"
client_id = "key_demo"
client_secret = "ags_demo"
permissions = ["flights:*", "hotels:*", "invoices:send"]

[[tools]]
transport = "mcp"
name = "search_flights"
permission = "flights:search"

[[tools]]
transport = "mcp"
name = "delete_account"
permission = "accounts:delete"

[[tools]]
transport = "mcp"
name = "send_invoice"
permission = "invoices:send"
approval = true

[[tools]]
transport = "mcp"
name = "book_hotel"
permission = "hotels:book"
redactions = [{ field = "$.card", strategy = "mask" }]
"""

Transport = Literal["stdio", "http"]


@pytest.fixture
def tracengent_policy(tmp_path: Path) -> Path:
    """The MCP test policy (module docstring)."""
    path = tmp_path / "mcp-policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@dataclass
class ServerRecord:
    """What the MCP server subprocess recorded: one dict per tool call it received."""

    path: Path

    def calls(self) -> list[dict[str, object]]:
        """Every recorded call, in order (empty when none reached the server)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]


@pytest.fixture
def record(tmp_path: Path) -> ServerRecord:
    """Where the MCP server records the calls it receives."""
    return ServerRecord(tmp_path / "calls.jsonl")


@pytest.fixture
def http_server(record: ServerRecord) -> Iterator[str]:
    """A streamable HTTP MCP server subprocess on a free 127.0.0.1 port; its endpoint URL.

    The test binds the socket and hands it to the server, so it accepts connections at once.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "http", str(fd), str(record.path)],
        pass_fds=[fd],
    )
    listener.close()
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=30)


def connect(
    transport: Transport, record: ServerRecord, http_url: str | None
) -> AbstractAsyncContextManager[ClientSession]:
    """An initialized client session to the test server over `transport`."""

    @asynccontextmanager
    async def session() -> AsyncIterator[ClientSession]:
        if transport == "stdio":
            params = StdioServerParameters(
                command=sys.executable, args=[str(SERVER_SCRIPT), "stdio", str(record.path)]
            )
            streams = stdio_client(params)
        else:
            assert http_url is not None
            streams = streamable_http_client(http_url)
        async with streams as (read, write), ClientSession(read, write) as opened:
            await opened.initialize()
            yield opened

    return session()


@dataclass
class Agent:
    """A Tracengent client on the platform, MCP instrumented, its spans also kept in memory."""

    client: TracengentClient
    spans: InMemorySpanExporter


@pytest.fixture
async def agent(
    tracengent_platform: RunningPlatform, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Agent]:
    """`demo-agent` with MCP instrumented and governed; uninstrumented and closed after."""
    # No global SDK provider: the client makes its own, so the test owns every span it sees.
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)
    options = tracengent_platform.options(max_retries=0, flush_interval_ms=50)
    client = TracengentClient(options)
    spans = InMemorySpanExporter()
    client.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    async_platform = AsyncPlatformClient(options)
    instrumentor = instrument_mcp(
        options,
        tracer=client.tracer,
        tracer_provider=client.tracer_provider,
        platform=client.platform,
        async_platform=async_platform,
    )
    try:
        yield Agent(client, spans)
    finally:
        instrumentor.uninstrument()
        await async_platform.aclose()
        client.close(timeout=10)
        _state.reset_for_tests()
