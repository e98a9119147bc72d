"""Tool gates against the real local platform (default policy) and a loopback tool server.

The tool server is a real HTTP server on 127.0.0.1 recording the bytes it receives. Requests for
`api.example.com` (the host the default policy governs) reach it as their HTTP proxy, so what it
records is exactly what would have left the machine.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import (
    ToolDeniedException,
    ToolPendingApprovalException,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from opentelemetry.instrumentation.tracengent_httpx import TracengentHTTPXInstrumentor
from tests.support.loopback import LoopbackServer, Reply, serve
from tracengent import governed_async_client, governed_client
from tracengent._governance.egress import EgressGovernor
from tracengent._governance.tools import ToolGate
from tracengent.testing import RunningPlatform

REFUNDS = "http://api.example.com/v1/refunds"


class Gates:
    """The egress and tool gates of `demo-agent`, wired to the running platform."""

    def __init__(self, platform: RunningPlatform, *, fail_open: bool = False) -> None:
        self.options = platform.options(
            governed_hosts=["api.example.com"],
            max_retries=0,
            tool_governance_fail_open=fail_open,
        )
        self.platform = PlatformClient(self.options)
        self.async_platform = AsyncPlatformClient(self.options)
        self.tools = ToolGate(
            self.options,
            platform=self.platform,
            async_platform=self.async_platform,
            tracer=trace.get_tracer("tests"),
        )

    async def close(self) -> None:
        """Close both platform clients (their pooled connections)."""
        self.platform.close()
        await self.async_platform.aclose()

    def egress_gate(self, *, govern_all: bool) -> EgressGovernor:
        """What `governed_client` asks a TracengentClient for."""
        return EgressGovernor(
            self.options,
            platform=self.platform,
            async_platform=self.async_platform,
            tracer=trace.get_tracer("tests"),
            govern_all=govern_all,
        )


@pytest.fixture
async def gates(tracengent_platform: RunningPlatform) -> AsyncIterator[Gates]:
    opened = Gates(tracengent_platform)
    yield opened
    await opened.close()


@pytest.fixture
def tool_server() -> Iterator[LoopbackServer]:
    with serve(lambda _: Reply(200, b'{"ok":true}')) as running:
        yield running


@pytest.fixture
def zero_code(gates: Gates) -> Iterator[None]:
    instrumentor = TracengentHTTPXInstrumentor()
    instrumentor.instrument(gate=gates.egress_gate(govern_all=False))
    yield
    instrumentor.uninstrument()


def test_denied_call_never_reaches_the_tool_server(
    zero_code: None, tool_server: LoopbackServer, tracengent_platform: RunningPlatform
) -> None:
    """Zero-code: a route the policy does not allow raises and the tool server receives nothing."""
    with (
        httpx.Client(proxy=tool_server.url) as client,
        pytest.raises(ToolDeniedException) as caught,
    ):
        client.delete("http://api.example.com/v1/accounts/42")
    assert caught.value.outcome == "policy_deny"
    assert tool_server.received == []
    (decision,) = tracengent_platform.store.decisions()
    assert (decision.kind, decision.status) == ("tool", "denied")


def test_redacted_call_reaches_the_tool_server_masked(
    zero_code: None, tool_server: LoopbackServer, tracengent_platform: RunningPlatform
) -> None:
    """Zero-code: the refund's card is masked in the bytes the tool server received."""
    with httpx.Client(proxy=tool_server.url) as client:
        response = client.post(
            REFUNDS,
            json={"amount": 100, "currency": "EUR", "card": "4242 4242 4242 4242"},
            headers={"Authorization": "Bearer third-party-secret"},
        )
    assert response.status_code == 200
    (received,) = tool_server.received
    assert received.path == REFUNDS
    assert received.json() == {"amount": 100, "currency": "EUR", "card": "***REDACTED***"}
    assert received.headers["content-length"] == str(len(received.body))
    assert received.headers["authorization"] == "Bearer third-party-secret"
    (decision,) = tracengent_platform.store.decisions()
    assert "third-party-secret" not in json.dumps(decision.request)
    assert "4242" not in json.dumps(decision.request)


def test_allowed_call_passes_untouched(
    zero_code: None, tool_server: LoopbackServer, tracengent_platform: RunningPlatform
) -> None:
    """Zero-code: an allowed GET with a query is authorized, then reaches the tool server as
    sent."""
    with httpx.Client(proxy=tool_server.url) as client:
        assert client.get("http://api.example.com/v1/flights?from=AMS").status_code == 200
    assert tool_server.paths() == ["http://api.example.com/v1/flights?from=AMS"]
    (decision,) = tracengent_platform.store.decisions()
    assert (decision.kind, decision.status) == ("tool", "allowed")


def test_ungoverned_hosts_are_not_authorized(
    zero_code: None, tool_server: LoopbackServer, tracengent_platform: RunningPlatform
) -> None:
    """Zero-code: a host outside governed_hosts is sent without asking the platform, while a
    governed host's call on the same instrumentation is asked about."""
    with httpx.Client() as client:
        assert client.get(f"{tool_server.url}/health").status_code == 200
    assert tracengent_platform.store.decisions() == []
    with httpx.Client(proxy=tool_server.url) as client:
        assert client.get("http://api.example.com/v1/flights").status_code == 200
    assert len(tracengent_platform.store.decisions()) == 1


def test_govern_all_does_not_gate_the_platforms_own_calls(
    gates: Gates, tool_server: LoopbackServer, tracengent_platform: RunningPlatform
) -> None:
    """With every host governed zero-code, the gate's own platform calls are not gated (no loop):
    the one call is authorized once, and the platform is never asked about itself."""
    instrumentor = TracengentHTTPXInstrumentor()
    instrumentor.instrument(gate=gates.egress_gate(govern_all=True))
    try:
        with httpx.Client(proxy=tool_server.url) as client:
            assert client.get("http://api.example.com/v1/flights").status_code == 200
    finally:
        instrumentor.uninstrument()
    assert len(tool_server.received) == 1
    (decision,) = tracengent_platform.store.decisions()
    assert (decision.kind, decision.status) == ("tool", "allowed")
    assert decision.request["host"] == "api.example.com"


async def _post_refund(mode: str, gates: Gates, tool_server: LoopbackServer) -> None:
    body = {"amount": 1, "card": "4242"}
    if mode == "sync":
        inner = httpx.HTTPTransport(proxy=tool_server.url)
        with governed_client(gates, inner=inner) as client:
            client.post(REFUNDS, json=body)
    else:
        async_inner = httpx.AsyncHTTPTransport(proxy=tool_server.url)
        async with governed_async_client(gates, inner=async_inner) as async_client:
            await async_client.post(REFUNDS, json=body)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_fail_closed_with_the_platform_stopped(
    gates: Gates, tool_server: LoopbackServer, tracengent_platform: RunningPlatform, mode: str
) -> None:
    """With the platform down, a governed client raises and nothing reaches the tool server."""
    tracengent_platform.platform.stop()
    with pytest.raises(ToolDeniedException) as caught:
        await _post_refund(mode, gates, tool_server)
    assert caught.value.outcome == "platform_unavailable"
    assert tool_server.received == []


async def test_fail_open_with_the_platform_stopped(
    tracengent_platform: RunningPlatform, tool_server: LoopbackServer
) -> None:
    """With fail-open chosen and the platform down, the call proceeds and is counted."""
    gates = Gates(tracengent_platform, fail_open=True)
    tracengent_platform.platform.stop()
    gate = gates.egress_gate(govern_all=True)
    inner = httpx.HTTPTransport(proxy=tool_server.url)
    with governed_client(gate, inner=inner) as client:
        assert client.get("http://api.example.com/v1/flights").status_code == 200
    await gates.close()
    assert gate.fail_open_count == 1
    assert len(tool_server.received) == 1


async def test_async_governed_client_redacts(gates: Gates, tool_server: LoopbackServer) -> None:
    """The async governed client sends the redacted body to the tool server."""
    inner = httpx.AsyncHTTPTransport(proxy=tool_server.url)
    async with governed_async_client(gates, inner=inner) as client:
        await client.post(REFUNDS, json={"amount": 10, "card": "4242"})
    (received,) = tool_server.received
    assert received.json() == {"amount": 10, "card": "***REDACTED***"}


def test_pending_refund_raises_and_does_not_leave(
    gates: Gates, tool_server: LoopbackServer
) -> None:
    """A refund above the approval threshold is held: pending raised, nothing sent."""
    inner = httpx.HTTPTransport(proxy=tool_server.url)
    with (
        governed_client(gates, inner=inner) as client,
        pytest.raises(ToolPendingApprovalException) as caught,
    ):
        client.post(REFUNDS, json={"amount": 700, "currency": "EUR", "card": "4242"})
    assert caught.value.approval_id is not None
    assert caught.value.approval_id.startswith("apr_")
    assert tool_server.received == []


def test_mcp_gate_against_the_default_policy(gates: Gates) -> None:
    """A bound MCP tool is allowed; an unbound one is denied by policy."""
    allowed = gates.tools.authorize_mcp("search_flights", {"from": "AMS"})
    denied = gates.tools.authorize_mcp("drop_database", {})
    assert (allowed.allowed, allowed.outcome, allowed.permission) == (
        True,
        "policy_allow",
        "flights:search",
    )
    assert (denied.allowed, denied.outcome) == (False, "policy_deny")


async def test_function_gate_against_the_default_policy(gates: Gates) -> None:
    """book_flight runs with the passport removed; send_email is held for approval."""
    invoked: list[JsonValue] = []

    async def book(arguments: JsonValue) -> str:
        invoked.append(arguments)
        return "booked"

    result = await gates.tools.guard_function_async(
        "book_flight", {"flight": "KL1", "passport": "X123"}, book
    )
    assert (result.allowed, result.value, invoked) == (True, "booked", [{"flight": "KL1"}])
    held = gates.tools.guard_function("send_email", {"to": "a@example.com"}, invoked.append)
    assert held.decision.pending
    with pytest.raises(ToolPendingApprovalException):
        held.ensure_allowed()
    assert len(invoked) == 1


def test_spans_with_otel_httpx_active(
    tracengent_platform: RunningPlatform, tool_server: LoopbackServer
) -> None:
    """With OTel's httpx instrumentation on, a governed call makes one client span and one
    governance span; the platform call itself makes none."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gates = Gates(tracengent_platform)
    gate = EgressGovernor(
        gates.options,
        platform=gates.platform,
        async_platform=gates.async_platform,
        tracer=provider.get_tracer("tests"),
    )
    otel, ours = HTTPXClientInstrumentor(), TracengentHTTPXInstrumentor()
    otel.instrument(tracer_provider=provider)
    ours.instrument(gate=gate)
    try:
        with httpx.Client(proxy=tool_server.url) as client:
            client.post(REFUNDS, json={"amount": 5, "card": "4242"})
    finally:
        ours.uninstrument()
        otel.uninstrument()
        gates.platform.close()
    spans = exporter.get_finished_spans()
    client_spans = [s for s in spans if s.kind is SpanKind.CLIENT]
    governance = [s for s in spans if (s.attributes or {}).get(A.GOVERNANCE_KIND)]
    assert len(spans) == 2
    assert len(client_spans) == 1
    client_attributes = client_spans[0].attributes or {}
    assert REFUNDS in (client_attributes.get(A.URL_FULL), client_attributes.get(A.HTTP_URL_OLD))
    assert [(s.attributes or {}).get(A.AUTHZ_STATUS) for s in governance] == ["allowed"]
