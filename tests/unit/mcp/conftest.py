"""Fixtures for the MCP instrumentation: an in-process MCP server, spans kept in memory, fakes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest
from mcp.server.mcpserver import Context, MCPServer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor


class GateSaysNo(Exception):
    """The fake gate's own deny."""


@dataclass
class FakeGate:
    """A `ToolCallGate` that records what it was asked and answers as told."""

    deny: bool = False
    replace_with: Mapping[str, object] | None = None
    answer_nonsense: bool = False
    asked: list[tuple[str, Mapping[str, object] | None]] = field(default_factory=list)

    async def check_async(
        self, tool: str, arguments: Mapping[str, object] | None
    ) -> Mapping[str, object] | None:
        self.asked.append((tool, arguments))
        if self.deny:
            raise GateSaysNo(tool)
        if self.answer_nonsense:
            return "nonsense"  # type: ignore[return-value]  # the point of the test
        return self.replace_with if self.replace_with is not None else arguments


@dataclass
class FakeHook:
    """A `PayloadHook` writing `repr`-free JSON-ish text, or failing when told."""

    fail: bool = False
    seen: list[object] = field(default_factory=list)

    def payload_text(self, value: object) -> str | None:
        self.seen.append(value)
        if self.fail:
            raise RuntimeError("hook broke")
        return f"payload:{sorted(value) if isinstance(value, dict) else value}"


@dataclass
class ServerLog:
    """What the in-process server's tools received: (tool, arguments, _meta)."""

    calls: list[tuple[str, dict[str, object], dict[str, object]]] = field(default_factory=list)


@pytest.fixture
def server_log() -> ServerLog:
    """The in-process server's record of calls."""
    return ServerLog()


@pytest.fixture
def server(server_log: ServerLog) -> MCPServer:
    """An in-process MCP server: `echo` records and echoes; `boom` fails (a tool error)."""
    mcp_server = MCPServer("unit-test-server")

    @mcp_server.tool()
    def echo(text: str, ctx: Context) -> str:
        """Echo `text`."""
        server_log.calls.append(("echo", {"text": text}, dict(ctx.request_context.meta or {})))
        return text

    @mcp_server.tool()
    def boom(ctx: Context) -> str:
        """Fail."""
        server_log.calls.append(("boom", {}, dict(ctx.request_context.meta or {})))
        raise ValueError("broken tool")

    return mcp_server


@dataclass
class Traced:
    """The provider the instrumentation writes to and the spans it finished."""

    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        """Every finished span, in end order."""
        return list(self.exporter.get_finished_spans())

    def tool_spans(self) -> list[ReadableSpan]:
        """The finished `execute_tool` spans."""
        return [s for s in self.spans() if s.name.startswith("execute_tool ")]


@pytest.fixture
def traced() -> Iterator[Traced]:
    """A private SDK provider with an in-memory exporter."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Traced(provider, exporter)
    provider.shutdown()


@pytest.fixture
def instrumentor() -> Iterator[TracengentMCPInstrumentor]:
    """The instrumentor, always uninstrumented after the test (it is a process-wide singleton)."""
    instance = TracengentMCPInstrumentor()
    yield instance
    instance.uninstrument()
