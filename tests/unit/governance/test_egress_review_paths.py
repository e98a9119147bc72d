"""The platform is told the path servers route: literal dot segments removed, segments decoded."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW
from tracengent._governance._egress_url import remove_dot_segments, server_path

from .egress_support import World, scripted_governor, send


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        # RFC 3986 §5.2.4's own examples, then §5.4's resolved against base /b/c/d;p.
        ("/a/b/c/./../../g", "/a/g"),
        ("mid/content=5/../6", "mid/6"),
        ("/b/c/./g", "/b/c/g"),
        ("/b/c/.", "/b/c/"),
        ("/b/c/./", "/b/c/"),
        ("/b/c/..", "/b/"),
        ("/b/c/../", "/b/"),
        ("/b/c/../g", "/b/g"),
        ("/b/c/../..", "/"),
        ("/b/c/../../g", "/g"),
        ("/b/c/../../../g", "/g"),
        ("/b/c/../../../../g", "/g"),
        ("/./g", "/g"),
        ("/../g", "/g"),
        ("/b/c/g.", "/b/c/g."),
        ("/b/c/.g", "/b/c/.g"),
        ("/b/c/g..", "/b/c/g.."),
        ("/b/c/..g", "/b/c/..g"),
        ("/b/c/./../g", "/b/g"),
        ("/b/c/./g/.", "/b/c/g/"),
        ("/b/c/g/./h", "/b/c/g/h"),
        ("/b/c/g/../h", "/b/c/h"),
        # Edges: empty, the root, bare dots, empty segments kept.
        ("", ""),
        ("/", "/"),
        (".", ""),
        ("..", ""),
        ("../x", "x"),
        ("./x", "x"),
        ("/a//../b", "/a/b"),
        ("/v1/flights/../admin/users", "/v1/admin/users"),
    ],
)
def test_remove_dot_segments(path: str, resolved: str) -> None:
    """`remove_dot_segments` resolves as RFC 3986 §5.2.4 (including its worked examples)."""
    assert remove_dot_segments(path) == resolved


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://api.example.com/v1/flights/../admin/users", "/v1/admin/users"),
        ("https://api.example.com/v1/flights/./LIS", "/v1/flights/LIS"),
        ("https://api.example.com/v1/caf%C3%A9", "/v1/café"),
        ("https://api.example.com/v1/a%20b/", "/v1/a b/"),
        ("https://api.example.com/v1/%2e%2ex", "/v1/..x"),
        ("https://api.example.com", "/"),
    ],
)
def test_server_path_resolves_then_decodes(url: str, path: str) -> None:
    """Literal dot segments are resolved, then each segment is percent-decoded."""
    assert server_path(httpx.URL(url)) == path


async def test_platform_is_told_the_resolved_path(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A request for `/v1/flights/../admin/users` is authorized as `/v1/admin/users`."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(mode, gate, world, "GET", "https://api.example.com/v1/flights/../admin/users")
    assert platform.requests[0]["path"] == "/v1/admin/users"
    assert world.received[0].url.raw_path == b"/v1/admin/users"
