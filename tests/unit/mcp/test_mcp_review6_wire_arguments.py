"""Arguments the `mcp` SDK sends as JSON although they are not JSON-native Python values (a date,
a UUID, a Decimal, a tuple): recorded, and governed, as the server receives them."""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from mcp import Client
from mcp.server.mcpserver import MCPServer

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import ToolDecision
from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.unit.mcp.conftest import Traced
from tracengent._governance.tools import ToolAuthorizer, ToolGate
from tracengent._mcp import MCPGovernor, MCPPayloadWriter
from tracengent._scrubbing import Scrubber

ARGUMENTS = {
    "day": datetime.date(2026, 1, 5),
    "ref": uuid.UUID(int=5),
    "amount": Decimal("1.50"),
    "seats": (1, 2),
}
OPTIONS = TracengentOptions(agent_id="a", base_url="http://127.0.0.1:9", ingest_key="agk_x")
ON_THE_WIRE = {
    "day": "2026-01-05",
    "ref": "00000000-0000-0000-0000-000000000005",
    "amount": "1.50",
    "seats": [1, 2],
}


def _booking_server(received: list[dict[str, object]]) -> MCPServer:
    server = MCPServer("booking-server")

    @server.tool()
    def book(day: str, ref: str, amount: str, seats: list[int]) -> str:
        """Book, recording what arrived."""
        received.append({"day": day, "ref": ref, "amount": amount, "seats": seats})
        return "booked"

    return server


async def test_arguments_sent_as_json_are_recorded_as_the_server_receives_them(
    instrumentor: TracengentMCPInstrumentor, traced: Traced
) -> None:
    """A date, a UUID, a Decimal and a tuple reach the server as JSON; the call's span records
    that JSON as its arguments (it recorded none: the payload hook was handed the Python values,
    which it cannot encode, and dropped them)."""
    received: list[dict[str, object]] = []
    instrumentor.instrument(
        tracer_provider=traced.provider, payload_hook=MCPPayloadWriter(Scrubber())
    )
    async with Client(_booking_server(received)) as client:
        result = await client.call_tool("book", ARGUMENTS)
    assert not result.is_error
    assert received == [ON_THE_WIRE]
    (span,) = traced.tool_spans()
    recorded = (span.attributes or {}).get("gen_ai.tool.call.arguments")
    assert isinstance(recorded, str)
    assert json.loads(recorded) == ON_THE_WIRE


@dataclass
class AllowingPlatform:
    """Allows every tool call; records each `/v1/tool-authorize` request."""

    requests: list[JsonObject] = field(default_factory=list)

    async def tool_authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> ToolDecision:
        self.requests.append(request)
        return ToolDecision(allowed=True, status="allowed", outcome="policy_allow", reason="ok")


async def test_governed_arguments_the_sdk_sends_as_json_are_authorized_as_sent(
    instrumentor: TracengentMCPInstrumentor, traced: Traced
) -> None:
    """Governed, the same call is authorized with the JSON the server receives, and sent: it was
    denied (`sdk_error`, "not JSON") although the SDK sends it without governance."""
    received: list[dict[str, object]] = []
    platform = AllowingPlatform()
    tools = ToolGate(
        OPTIONS,
        platform=cast("ToolAuthorizer", None),
        async_platform=platform,
        tracer=traced.provider.get_tracer("gov"),
    )
    instrumentor.instrument(tracer_provider=traced.provider, gate=MCPGovernor(tools))
    async with Client(_booking_server(received)) as client:
        result = await client.call_tool("book", ARGUMENTS)
    assert not result.is_error
    assert [request.get("body") for request in platform.requests] == [ON_THE_WIRE]
    assert received == [ON_THE_WIRE]
