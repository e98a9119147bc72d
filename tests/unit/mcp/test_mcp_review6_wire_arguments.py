"""Arguments the `mcp` SDK sends as JSON although they are not JSON-native Python values (a date,
a UUID, a Decimal, a tuple): recorded, and governed, as the server receives them."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

from mcp import Client
from mcp.server.mcpserver import MCPServer

from opentelemetry.instrumentation.tracengent_mcp import TracengentMCPInstrumentor
from tests.unit.mcp.conftest import Traced
from tracengent._mcp import MCPPayloadWriter
from tracengent._scrubbing import Scrubber

ARGUMENTS = {
    "day": datetime.date(2026, 1, 5),
    "ref": uuid.UUID(int=5),
    "amount": Decimal("1.50"),
    "seats": (1, 2),
}
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
