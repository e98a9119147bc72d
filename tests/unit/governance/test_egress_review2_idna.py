"""The platform is told the host as it goes on the wire (review 2): IDNA-ASCII, lower-case, no
trailing dot, the form `governed_hosts` match and the Host header carries. Before, it was told
`url.host` (Unicode), so a policy naming `xn--bcher-kva.example` denied its own host."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW

from .egress_support import World, scripted_governor, send


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://bücher.example/books", "xn--bcher-kva.example"),
        ("https://xn--bcher-kva.example/books", "xn--bcher-kva.example"),
        ("https://API.Example.com./v1/flights", "api.example.com"),
        ("https://api.example.com/v1/flights", "api.example.com"),
        ("http://[::1]:8080/v1", "::1"),
    ],
)
async def test_platform_is_told_the_wire_host(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], url: str, host: str
) -> None:
    """Whatever form the application wrote, the platform sees the ASCII wire host."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    await send(mode, gate, World(), "GET", url)
    assert platform.requests[0]["host"] == host
