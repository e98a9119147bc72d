"""Review 3: a body without a Content-Type that the SDK does not read may still be JSON.

Servers (FastAPI among them) read a body without a Content-Type as JSON, so a streamed or
content-encoded one is as opaque as a streamed `application/json` one: when the platform requires
redactions it is denied (`redaction_unapplicable`), never sent unredacted; without redactions it
is sent untouched, as before.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.stubs import ALLOW, allow_redacting

from .egress_support import World, scripted_governor, send

URL = "https://api.example.com/v1/refunds"
DOCUMENT = b'{"amount":5000,"card":"4242 4242 4242 4242"}'


def _chunks() -> Iterator[bytes]:
    yield DOCUMENT


async def _async_chunks() -> AsyncIterator[bytes]:
    yield DOCUMENT


def _streamed(mode: str) -> dict[str, object]:
    return {"content": _chunks() if mode == "sync" else _async_chunks()}


def _gzipped(mode: str) -> dict[str, object]:
    return {"content": gzip.compress(DOCUMENT), "headers": {"Content-Encoding": "gzip"}}


BODIES = pytest.mark.parametrize("body", [_streamed, _gzipped], ids=["streamed", "gzipped"])


@BODIES
async def test_an_unread_body_without_content_type_is_not_sent_unredacted(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], body: Callable[[str], dict[str, object]]
) -> None:
    gate, _ = scripted_governor(allow_redacting("$.card"), spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as denied:
        await send(mode, gate, world, "POST", URL, **body(mode))
    assert denied.value.outcome == "redaction_unapplicable"
    assert world.received == []


@BODIES
async def test_an_unread_body_without_content_type_goes_untouched_without_redactions(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], body: Callable[[str], dict[str, object]]
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    kwargs = body(mode)
    await send(mode, gate, world, "POST", URL, **kwargs)
    assert "body" not in platform.requests[0]
    assert len(world.received) == 1


async def test_an_empty_body_without_content_type_is_no_body(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A GET (an empty in-memory body) with a stray Content-Encoding has nothing to redact."""
    gate, _ = scripted_governor(allow_redacting("$.card"), spans[0])
    world = World()
    await send(mode, gate, world, "GET", URL, headers={"Content-Encoding": "gzip"})
    assert len(world.received) == 1
