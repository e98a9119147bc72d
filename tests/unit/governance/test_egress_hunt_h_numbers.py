"""Hunt H: a redacted JSON body keeps its numbers exactly, and a number no double holds is refused
with a reason (not asked of the platform as an unencodable request).

The body was parsed with floats and re-encoded from them: a number of more than 17 significant
digits reached the server rounded (an amount changed by the SDK), one beyond a double's range
(`1e400`) became infinity, which the request to the platform cannot carry, so the call was
denied as "not serializable as JSON" though nothing was wrong with what the app sent.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tests.unit.tools.stubs import ALLOW, allow_redacting

from .egress_support import World, scripted_governor, send

URL = "https://api.example.com/v1/refunds"
JSON = {"Content-Type": "application/json"}

EXACT = (
    b'{"amount":0.30000000000000000001,"pi":3.14159265358979323846264338327950288,'
    b'"tiny":1e-400,"huge_int":123456789012345678901234567890,"neg":-0.0,"exp":1.5E+300,'
    b'"items":[{"price":19.999999999999999999,"card":"4242"}],"card":"4242 4242 4242 4242"}'
)


@pytest.mark.parametrize("strategy", ["remove", "mask"])
async def test_a_redacted_body_keeps_every_number_exactly(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], strategy: str
) -> None:
    gate, platform = scripted_governor(allow_redacting("$.card", strategy), spans[0])
    world = World()
    await send(mode, gate, world, "POST", URL, content=EXACT, headers=JSON)
    (sent,) = world.bodies
    received = json.loads(sent, parse_float=Decimal)
    original = json.loads(EXACT, parse_float=Decimal)
    if strategy == "remove":
        del original["card"]
    else:
        original["card"] = received["card"]
        assert received["card"] != "4242 4242 4242 4242"
    assert received == original
    assert str(received["amount"]) == "0.30000000000000000001"
    assert str(received["items"][0]["price"]) == "19.999999999999999999"
    assert b'"neg":-0.0' in sent
    assert received["huge_int"] == 123456789012345678901234567890
    assert len(platform.requests) == 1


async def test_a_redacted_utf16_body_keeps_its_numbers_and_charset(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, _ = scripted_governor(allow_redacting("$.card"), spans[0])
    world = World()
    document = '{"amount":0.30000000000000000001,"card":"4242","name":"Zoë"}'
    headers = {"Content-Type": "application/json; charset=utf-16"}
    await send(mode, gate, world, "POST", URL, content=document.encode("utf-16"), headers=headers)
    (sent,) = world.bodies
    assert json.loads(sent.decode("utf-16"), parse_float=Decimal) == {
        "amount": Decimal("0.30000000000000000001"),
        "name": "Zoë",
    }


@pytest.mark.parametrize(
    ("content", "told"),
    [
        (b'{"amount":1e400,"card":"4242"}', "1e400"),
        (b'{"amount":-2.5E+999}', "-2.5E+999"),
        (b'{"amount":NaN}', "NaN"),
        (b'{"amount":[Infinity]}', "Infinity"),
    ],
)
@pytest.mark.parametrize("answer", [ALLOW, allow_redacting("$.card")], ids=["plain", "redacting"])
async def test_a_number_no_double_holds_is_denied_saying_so(
    mode: str,
    spans: tuple[Tracer, InMemorySpanExporter],
    content: bytes,
    told: str,
    answer: JsonObject,
) -> None:
    gate, _ = scripted_governor(answer, spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as denied:
        await send(mode, gate, world, "POST", URL, content=content, headers=JSON)
    assert denied.value.outcome in ("body_unreadable", "redaction_unapplicable")
    assert told in denied.value.reason
    assert "serializable" not in denied.value.reason
    assert world.received == []


async def test_the_platform_is_asked_without_such_a_body(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """As for any unreadable body: the request to the platform (which could not carry infinity)
    names no body, and the allow is then refused for the body."""
    gate, platform = scripted_governor(ALLOW, spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as denied:
        await send(mode, gate, world, "POST", URL, content=b'{"amount":1e400}', headers=JSON)
    assert denied.value.outcome == "body_unreadable"
    (asked,) = platform.requests
    assert "body" not in asked
