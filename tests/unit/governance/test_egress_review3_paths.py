"""Paths that servers split or resolve in more than one way are ambiguous and denied (review 3).

A backslash (literal or `%5C`) is a separator to IIS, to some Node and Windows-backed servers and
to several proxies, and a plain character to Starlette and Werkzeug; a segment whose part before
its first `;` is a dot segment (`..;`, `.;x`) is resolved by Tomcat and Spring, which drop path
parameters first. `/v1/flights/..;/admin` or `/v1/flights/x%5C..%5Cadmin` must not be told to the
platform as a flights path: the request is denied (`path_ambiguous`), unsent.
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
    "https://api.example.com/v1/flights/x%5C..%5Cadmin",
    "https://api.example.com/v1/flights/x%5c..%5cadmin",
    "https://api.example.com/v1/flights/x\\..\\admin",
    "https://api.example.com/v1/flights/..;/admin",
    "https://api.example.com/v1/flights/..;jsessionid=1/admin",
    "https://api.example.com/v1/flights/.;x/LIS",
    "https://api.example.com/v1/flights/%2e%2e;/admin",
]

ROUTED_AS_WRITTEN = {
    # A `;` in a segment that is not a dot segment is routed as the segment it is.
    "https://api.example.com/v1/flights/LIS;class=economy": "/v1/flights/LIS;class=economy",
    "https://api.example.com/v1/flights/...;/x": "/v1/flights/...;/x",
}


@pytest.mark.parametrize("url", AMBIGUOUS)
def test_server_path_refuses_a_backslash_or_parameterised_dot_segment(url: str) -> None:
    """`server_path` raises rather than guess how the server splits the path."""
    with pytest.raises(AmbiguousPathError):
        server_path(httpx.URL(url))


@pytest.mark.parametrize(("url", "path"), sorted(ROUTED_AS_WRITTEN.items()))
def test_server_path_keeps_other_segments_with_parameters(url: str, path: str) -> None:
    """Only dot segments are refused: other `;` parameters stay in the path told."""
    assert server_path(httpx.URL(url)) == path


@pytest.mark.parametrize("url", AMBIGUOUS)
async def test_such_a_path_is_denied_unsent(
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
