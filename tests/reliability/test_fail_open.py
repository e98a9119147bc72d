"""`tool_governance_fail_open` opens HTTP egress only for an unavailable platform; never otherwise.

Each fail-open pass is counted (`EgressGovernor.fail_open_count`), logged, and marked on its span.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from tests.support.chaos import (
    TOKEN_PATH,
    Answer,
    ChaosServer,
    Fault,
    Stall,
    chaos_server,
    closed_port_url,
    sequence,
)
from tracengent import (
    ToolDeniedException,
    ToolPendingApprovalException,
    TracengentClient,
    governed_async_client,
    governed_client,
)

from .conftest import chaos_options

TOOL_PATH = "/tool/echo"


@pytest.fixture
def tool_server() -> Iterator[ChaosServer]:
    """A third-party tool server (answers 200 to anything)."""
    with chaos_server() as server:
        yield server


def _client(platform_url: str) -> tuple[TracengentClient, InMemorySpanExporter]:
    client = TracengentClient(
        chaos_options(
            platform_url, tool_governance_fail_open=True, governance_timeout_s=0.5, max_retries=1
        )
    )
    memory = InMemorySpanExporter()
    client.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    return client, memory


def _fail_open_spans(memory: InMemorySpanExporter) -> int:
    return sum(
        1 for s in memory.get_finished_spans() if (s.attributes or {}).get(A.AUTHZ_FAIL_OPEN)
    )


UNAVAILABLE: dict[str, Fault | None] = {
    "closed-port": None,
    "stalled": Stall(),
    "503-after-retries": Answer(503, {"error": "down"}),
}


@pytest.mark.parametrize("fault", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
async def test_fail_open_lets_egress_through_only_when_the_platform_is_unavailable(
    fault: Fault | None, tool_server: ChaosServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Unreachable, timed out, or 5xx after retries: the call proceeds, counted, logged, marked."""
    with chaos_server() as platform:
        url = closed_port_url() if fault is None else platform.url
        if fault is not None:
            platform.on("/v1/tool-authorize", sequence(then=fault))
        client, memory = _client(url)
        gate = client.egress_gate(govern_all=True)
        with caplog.at_level(logging.WARNING, logger="tracengent"):
            with governed_client(gate) as http:
                assert http.get(tool_server.url + TOOL_PATH).status_code == 200
            async with governed_async_client(gate) as ahttp:
                assert (await ahttp.get(tool_server.url + TOOL_PATH)).status_code == 200
        await client.aclose(timeout=1.0)
    assert len(tool_server.to(TOOL_PATH)) == 2
    assert gate.fail_open_count == 2
    assert _fail_open_spans(memory) == 2
    assert sum("failed open" in r.getMessage() for r in caplog.records) == 1  # rate-limited


CLOSED: dict[str, tuple[str, Fault]] = {
    "401": ("/v1/tool-authorize", Answer(401, {"error": "unauthorized"})),
    "403": ("/v1/tool-authorize", Answer(403, {"error": "forbidden"})),
    "deny": (
        "/v1/tool-authorize",
        Answer(
            body={"allowed": False, "status": "denied", "outcome": "policy_deny", "reason": "no"}
        ),
    ),
    "pending": (
        "/v1/tool-authorize",
        Answer(
            body={
                "allowed": False,
                "status": "pending_approval",
                "approvalId": "apr_9",
                "reason": "a person decides",
            }
        ),
    ),
    "unparseable": (
        "/v1/tool-authorize",
        Answer(body=b"<html>ok</html>", content_type="text/html"),
    ),
    "allowed-string": ("/v1/tool-authorize", Answer(body={"allowed": "true", "status": "allowed"})),
    "agent-disabled": (TOKEN_PATH, Answer(401, {"error": "invalid_client"})),
}


@pytest.mark.parametrize("fault", CLOSED.values(), ids=CLOSED.keys())
async def test_fail_open_never_opens_for_refusals_or_nonsense(
    fault: tuple[str, Fault], tool_server: ChaosServer, chaos: ChaosServer
) -> None:
    """401, 403, a deny, pending, an unparseable answer, a disabled agent: the call is not made."""
    path, answer = fault
    chaos.on(path, sequence(then=answer))
    client, memory = _client(chaos.url)
    gate = client.egress_gate(govern_all=True)
    refusals = (ToolDeniedException, ToolPendingApprovalException)
    with governed_client(gate) as http, pytest.raises(refusals):
        http.get(tool_server.url + TOOL_PATH)
    async with governed_async_client(gate) as ahttp:
        with pytest.raises(refusals):
            await ahttp.get(tool_server.url + TOOL_PATH)
    await client.aclose(timeout=1.0)
    assert tool_server.to(TOOL_PATH) == []
    assert gate.fail_open_count == 0
    assert _fail_open_spans(memory) == 0


async def test_mcp_and_function_gates_never_fail_open() -> None:
    """Even with fail-open set and the platform unreachable, MCP and function calls are denied."""
    client, _ = _client(closed_port_url())
    ran: list[object] = []
    result = client.tools.guard_mcp("search", {}, ran.append)
    decision = await client.tools.authorize_function_async("pay", {})
    await client.aclose(timeout=1.0)
    assert not result.allowed
    assert not decision.allowed
    assert ran == []
    with pytest.raises(ToolDeniedException):
        result.ensure_allowed()
