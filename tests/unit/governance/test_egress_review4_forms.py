"""Review 4: a body that is not JSON is not sent unredacted when the platform requires redactions.

The platform's redactions were applied to JSON bodies only, and any other body went out untouched:
`data={"card": "4242 ..."}` (a form, as Stripe's API takes), a multipart upload or JSON text
declared `text/plain` (which many servers parse as JSON all the same) carried the card the platform
required masked. Such a body is now denied when the allow requires redactions
(`redaction_unapplicable`), as a streamed or compressed JSON body is; without redactions it is sent
untouched, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.stubs import ALLOW, allow_redacting

from .egress_support import World, scripted_governor, send

URL = "https://api.example.com/v1/refunds"
CARD = "4242 4242 4242 4242"


def _form(mode: str) -> dict[str, object]:
    return {"data": {"amount": "10", "card": CARD}}


def _multipart(mode: str) -> dict[str, object]:
    return {"data": {"amount": "10"}, "files": {"card": ("card.txt", CARD.encode())}}


def _json_as_text(mode: str) -> dict[str, object]:
    content = b'{"amount":10,"card":"' + CARD.encode() + b'"}'
    return {"content": content, "headers": {"Content-Type": "text/plain"}}


def _text_without_content_type(mode: str) -> dict[str, object]:
    return {"content": f"amount=10&card={CARD}".encode()}


def _streamed_form(mode: str) -> dict[str, object]:
    def chunks() -> Iterator[bytes]:
        yield f"amount=10&card={CARD}".encode()

    async def async_chunks() -> object:
        yield f"amount=10&card={CARD}".encode()

    return {
        "content": chunks() if mode == "sync" else async_chunks(),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


BODIES = pytest.mark.parametrize(
    "body",
    [_form, _multipart, _json_as_text, _text_without_content_type, _streamed_form],
    ids=["form", "multipart", "JSON as text/plain", "text without Content-Type", "streamed form"],
)


@BODIES
async def test_a_body_the_redactions_cannot_reach_is_not_sent(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], body: Callable[[str], dict[str, object]]
) -> None:
    gate, _ = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as denied:
        await send(mode, gate, world, "POST", URL, **body(mode))
    assert denied.value.outcome == "redaction_unapplicable"
    assert "not JSON" in denied.value.reason
    assert world.received == []


@BODIES
async def test_without_redactions_such_a_body_goes_untouched(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], body: Callable[[str], dict[str, object]]
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(mode, gate, world, "POST", URL, **body(mode))
    assert "body" not in platform.requests[0]
    assert len(world.received) == 1


async def test_an_empty_non_json_body_has_nothing_to_redact(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, _ = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    await send(mode, gate, world, "GET", URL, headers={"Content-Type": "text/plain"})
    assert len(world.received) == 1
