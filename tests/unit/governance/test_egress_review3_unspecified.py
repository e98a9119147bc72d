"""Review 3: the unspecified address is the loopback it connects to.

Linux and macOS connect a request to `0.0.0.0` (or `::`, or `::ffff:0.0.0.0`) to the local host's
loopback, so with `governed_hosts=["127.0.0.1"]` a request to `http://0.0.0.0:<port>/` reached a
server on 127.0.0.1 ungoverned, as `127.1` did before review 2. It is now read as the address it
reaches, on both sides, like the other spellings of an address.
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
from tests.unit.tools.stubs import DENY
from tracengent._governance._hosts import is_governed_host

from .conftest import either
from .egress_support import scripted_governor


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(lambda _: Reply(200, b"{}")) as running:
        yield running


@pytest.mark.parametrize("host", ["0.0.0.0", "0", "0x0", "0.0", "::ffff:0.0.0.0"])
def test_the_unspecified_ipv4_address_is_the_ipv4_loopback(host: str) -> None:
    assert is_governed_host(host, ["127.0.0.1"])
    assert is_governed_host(host, ["127.*"])
    assert not is_governed_host(host, ["10.0.0.1"])


@pytest.mark.parametrize("pattern", ["0.0.0.0", "0", "[::ffff:0.0.0.0]"])
def test_an_unspecified_pattern_governs_what_it_reaches(pattern: str) -> None:
    assert is_governed_host("0.0.0.0", [pattern])
    assert is_governed_host("127.0.0.1", [pattern])


@pytest.mark.parametrize("host", ["::", "[::]", "0:0:0:0:0:0:0:0", "[::%25lo]"])
def test_the_unspecified_ipv6_address_is_the_ipv6_loopback(host: str) -> None:
    assert is_governed_host(host, ["[::1]"])
    assert not is_governed_host(host, ["127.0.0.1"])


@pytest.mark.parametrize("host", ["0.0.0.0", "[::ffff:0.0.0.0]", "localhost"])
async def test_a_request_to_the_unspecified_address_is_authorized(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], server: LoopbackServer, host: str
) -> None:
    """It would reach the server on 127.0.0.1 (the unspecified address, or `localhost`): denied
    by the platform, nothing received."""
    gate, platform = scripted_governor(dict(DENY), spans[0], hosts=["127.0.0.1"])
    url = f"http://{host}:{server.url.rsplit(':', 1)[1]}/admin"

    def sync() -> None:
        with httpx.Client(transport=GatedTransport(httpx.HTTPTransport(), gate)) as http:
            http.get(url)

    async def coroutine() -> None:
        transport = AsyncGatedTransport(httpx.AsyncHTTPTransport(), gate)
        async with httpx.AsyncClient(transport=transport) as http:
            await http.get(url)

    with pytest.raises(ToolDeniedException):
        await either(mode, sync, coroutine)
    assert len(platform.requests) == 1
    assert server.received == []


IPV4_ONLY = {"127.0.0.1", "127.*"}
IPV4_HOSTS = {"127.0.0.1", "0.0.0.0"}


@pytest.mark.parametrize("pattern", ["127.0.0.1", "[::1]", "localhost", "LOCALHOST.", "127.*"])
@pytest.mark.parametrize("host", ["localhost", "LocalHost.", "127.0.0.1", "[::1]", "0.0.0.0"])
def test_localhost_and_the_loopback_govern_each_other(pattern: str, host: str) -> None:
    """`localhost` always reaches the loopback (RFC 6761), however either side spells it; the
    two loopback addresses stay two addresses."""
    other_family = (pattern in IPV4_ONLY and host == "[::1]") or (
        pattern == "[::1]" and host in IPV4_HOSTS
    )
    assert is_governed_host(host, [pattern]) is not other_family


def test_a_name_under_localhost_is_only_matched_as_a_name() -> None:
    assert not is_governed_host("api.localhost", ["127.0.0.1"])
    assert is_governed_host("api.localhost", ["*.localhost"])
    assert not is_governed_host("localhost", ["10.0.0.1", "example.com"])
