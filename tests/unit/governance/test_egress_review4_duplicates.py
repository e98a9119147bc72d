"""Review 4: a JSON body naming a key twice in one object is not read one way and sent another.

Python's `json` keeps the last of two equal keys, so the platform was shown `{"amount": 5}` of
`{"amount": 5000, "amount": 5}`, while a server keeping the first (simdjson, several validators)
refunds 5000; and a card hidden in the first of two `card` keys, the second already the mask, was
"redacted" to the document the platform saw and sent as it was, card included. RFC 8259 leaves
such an object's meaning to the receiver: the body is unreadable, denied unsent.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.stubs import ALLOW, allow_redacting

from .egress_support import World, scripted_governor, send

URL = "https://api.example.com/v1/refunds"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        pytest.param(b'{"amount":5000,"amount":5}', JSON, id="top level"),
        pytest.param(b'{"refund":{"amount":5000,"amount":5}}', JSON, id="nested"),
        pytest.param(b'[{"amount":5000,"amount":5}]', JSON, id="in an array"),
        pytest.param(b'{"amount":5000,"\\u0061mount":5}', JSON, id="escaped spelling"),
        pytest.param(b'{"amount":5000,"amount":5}', {}, id="no Content-Type"),
        pytest.param(
            '{"amount":5000,"amount":5}'.encode("utf-16"),
            {"Content-Type": "application/json; charset=utf-16"},
            id="utf-16",
        ),
    ],
)
async def test_a_key_named_twice_is_denied_unsent(
    mode: str,
    spans: tuple[Tracer, InMemorySpanExporter],
    content: bytes,
    headers: dict[str, str],
) -> None:
    gate, _ = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as denied:
        await send(mode, gate, world, "POST", URL, content=content, headers=headers)
    assert denied.value.outcome == "body_unreadable"
    assert "twice" in denied.value.reason
    assert world.received == []


async def test_a_card_behind_its_masked_twin_is_not_sent(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, _ = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    content = b'{"amount":5,"card":"4242 4242 4242 4242","card":"***REDACTED***"}'
    with pytest.raises(ToolDeniedException) as denied:
        await send(mode, gate, world, "POST", URL, content=content, headers=JSON)
    assert denied.value.outcome == "redaction_unapplicable"
    assert world.received == []


async def test_equal_keys_in_different_objects_are_read(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    content = b'{"amount":5,"items":[{"amount":2},{"amount":3}]}'
    await send(mode, gate, world, "POST", URL, content=content, headers=JSON)
    assert platform.requests[0]["body"] == {"amount": 5, "items": [{"amount": 2}, {"amount": 3}]}
    assert world.bodies == [content]
