"""Review 3: the host a request names to the server, not only its URL's host, is governed.

A reverse proxy or a Kubernetes ingress routes by the Host header, a CDN by the TLS server name:
`http://ingress.internal/` with `Host: payments.internal` reaches payments.internal. The gate read
only the URL's host, so such a request to a governed host left unchecked. A request naming another
host than its URL's is now governed when either host is, and denied unsent (`host_ambiguous`):
the platform cannot be told one host when the request goes to two.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.instrumentation.tracengent_httpx import AsyncGatedTransport, GatedTransport
from tests.support.loopback import LoopbackServer, Reply, serve
from tests.unit.tools.stubs import ALLOW

from .conftest import either
from .egress_support import World, scripted_governor, send


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(lambda _: Reply(200, b"{}")) as running:
        yield running


async def test_a_host_header_naming_a_governed_host_is_not_sent(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], server: LoopbackServer
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=["payments.internal"])
    url = f"{server.url}/v1/refunds"
    headers = {"Host": "payments.internal"}

    def sync() -> None:
        with httpx.Client(transport=GatedTransport(httpx.HTTPTransport(), gate)) as http:
            http.post(url, json={"amount": 10}, headers=headers)

    async def coroutine() -> None:
        transport = AsyncGatedTransport(httpx.AsyncHTTPTransport(), gate)
        async with httpx.AsyncClient(transport=transport) as http:
            await http.post(url, json={"amount": 10}, headers=headers)

    with pytest.raises(ToolDeniedException) as denied:
        await either(mode, sync, coroutine)
    assert denied.value.outcome == "host_ambiguous"
    assert platform.requests == []
    assert server.received == []


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://api.example.com/v1", "evil.example"),
        ("https://cdn.example.net/v1", "api.example.com"),
        ("https://api.example.com/v1", "api.example.com, evil.example"),
    ],
)
async def test_a_governed_client_denies_any_second_host(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], url: str, named: str
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as denied:
        await send(mode, gate, world, "GET", url, headers={"Host": named})
    assert denied.value.outcome == "host_ambiguous"
    assert platform.requests == []
    assert world.received == []


async def test_a_tls_server_name_naming_another_host_is_denied(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, _ = scripted_governor(dict(ALLOW), spans[0], hosts=["api.example.com"])
    request = httpx.Request(
        "GET", "https://203.0.113.7/v1", extensions={"sni_hostname": "api.example.com"}
    )
    assert gate.is_governed(request)
    with pytest.raises(ToolDeniedException) as denied:
        await either(mode, lambda: gate.check(request), lambda: gate.check_async(request))
    assert denied.value.outcome == "host_ambiguous"


@pytest.mark.parametrize(
    "url",
    [
        "http://API.Example.com.:8080/v1",
        "http://[::1]:8080/v1",
        "https://bücher.example/v1",
        "http://u:p@api.example.com/v1",
    ],
)
async def test_the_host_header_httpx_writes_agrees_with_the_url(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], url: str
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(mode, gate, world, "GET", url)
    assert len(platform.requests) == 1
    assert len(world.received) == 1


async def test_the_same_host_in_another_spelling_is_one_host(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(
        mode, gate, world, "GET", "https://api.example.com/v1", headers={"Host": "API.example.COM."}
    )
    assert platform.requests[0]["host"] == "api.example.com"
    assert len(world.received) == 1
