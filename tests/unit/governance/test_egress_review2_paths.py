"""A path holding an encoded dot segment or slash is ambiguous and denied (review 2).

Starlette and Werkzeug route `/v1/admin/%2e%2e/%2e%2e/v1/flights` under `/v1/admin/`, and do not
split `%2F`; other servers and proxies decode first. The SDK cannot know which the server is, so
it never tells the platform one reading: the request is denied (`path_ambiguous`), unsent.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.stubs import ALLOW
from tracengent._governance._egress_url import AmbiguousPathError, server_path

from .egress_support import World, scripted_governor, send

AMBIGUOUS = [
    "https://api.example.com/v1/admin/%2e%2e/%2e%2e/v1/flights",
    "https://api.example.com/v1/admin/x%2F..%2F..%2F..%2Fv1%2Fflights",
    "https://api.example.com/v1/flights/%2E%2E/admin",
    "https://api.example.com/v1/flights/.%2e/admin",
    "https://api.example.com/v1/flights/%2e/LIS",
    "https://api.example.com/v1/flights/..%2Fadmin",
    "https://api.example.com/v1/flights%2fadmin",
]


@pytest.mark.parametrize("url", AMBIGUOUS)
def test_server_path_refuses_an_ambiguous_path(url: str) -> None:
    """`server_path` raises rather than guess how the server routes the path."""
    with pytest.raises(AmbiguousPathError):
        server_path(httpx.URL(url))


@pytest.mark.parametrize("url", AMBIGUOUS)
async def test_an_ambiguous_path_is_denied_unsent(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], url: str
) -> None:
    """Even a platform that would allow everything is not asked: denied, nothing sent."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as caught:
        await send(mode, gate, world, "GET", url)
    assert caught.value.outcome == "path_ambiguous"
    assert platform.requests == []
    assert world.received == []


async def test_an_encoded_character_in_a_segment_is_decoded(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Other percent-encodings are decoded per segment, as servers route them."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(mode, gate, world, "GET", "https://api.example.com/v1/flights/S%C3%A3o%20Paulo")
    assert platform.requests[0]["path"] == "/v1/flights/São Paulo"
    assert len(world.received) == 1
