"""A tracked client honours the proxy environment variables, as the `httpx.Client` it stands for.

httpx reads `HTTP_PROXY` / `HTTPS_PROXY` / `ALL_PROXY` / `NO_PROXY` (with `trust_env`, the
default) only for a client it builds the transport of: `tracked_client` hands it the tracking
transport, so every request went straight to the server, around the proxy a plain client uses.
A request through the proxy is recorded as any other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from tests.support.loopback import LoopbackServer, Reply, serve
from tracengent import tracked_async_client, tracked_client

from .conftest import ClientHarness

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    """(a proxy, a server), with `HTTP_PROXY` naming the proxy and no other proxy variable."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with serve(lambda _: Reply(body=b"proxy")) as proxy, serve(lambda _: Reply()) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        yield proxy, server


def _tracked_urls(harness: ClientHarness) -> list[object]:
    return [
        span.attributes.get(A.URL_FULL)
        for span in harness.memory.get_finished_spans()
        if span.attributes is not None and span.attributes.get(A.TRACKED) is True
    ]


def test_a_tracked_client_goes_through_the_environments_proxy(
    client_harness: ClientHarness, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    proxy, server = servers
    with tracked_client(client_harness.client) as http:
        assert http.get(server.url + "/v1/x").content == b"proxy"
    assert proxy.paths() == [server.url + "/v1/x"]
    assert server.received == []
    assert _tracked_urls(client_harness) == [server.url + "/v1/x"]


async def test_a_tracked_async_client_goes_through_the_environments_proxy(
    client_harness: ClientHarness, servers: tuple[LoopbackServer, LoopbackServer]
) -> None:
    proxy, server = servers
    async with tracked_async_client(client_harness.client) as http:
        assert (await http.get(server.url + "/v1/x")).content == b"proxy"
    assert proxy.paths() == [server.url + "/v1/x"]
    assert server.received == []
    assert _tracked_urls(client_harness) == [server.url + "/v1/x"]


def test_no_proxy_and_trust_env_false_send_directly(
    client_harness: ClientHarness,
    servers: tuple[LoopbackServer, LoopbackServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, server = servers
    with tracked_client(client_harness.client, trust_env=False) as http:
        http.get(server.url + "/a")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with tracked_client(client_harness.client) as http:
        http.get(server.url + "/b")
    assert proxy.received == []
    assert server.paths() == ["/a", "/b"]
    assert _tracked_urls(client_harness) == [server.url + "/a", server.url + "/b"]
