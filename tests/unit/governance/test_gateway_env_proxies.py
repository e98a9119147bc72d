"""A governed client honours the proxy environment variables, as the `httpx.Client` it stands for.

httpx reads `HTTP_PROXY` / `HTTPS_PROXY` / `ALL_PROXY` / `NO_PROXY` (with `trust_env`, the
default) only for a client it builds the transport of: `governed_client` hands it the gated
transport, so every request went straight to the server, around the proxy a plain client uses
(an egress proxy a network requires, or one that is the only way out). The proxied requests go
through the gate too.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.loopback import LoopbackServer, Reply, serve
from tracengent import governed_async_client, governed_client

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class RecordingGate:
    """An `EgressGate` that governs and allows every request, recording each one."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def is_governed(self, request: httpx.Request) -> bool:
        return True

    def check(self, request: httpx.Request) -> httpx.Request:
        self.checked.append(str(request.url))
        return request

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        return self.check(request)


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    """(a proxy, a server), with `HTTP_PROXY` naming the proxy and no other proxy variable."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with serve(lambda _: Reply(body=b"proxy")) as proxy, serve(lambda _: Reply()) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        yield proxy, server


def test_a_governed_client_goes_through_the_environments_proxy(
    servers: tuple[LoopbackServer, LoopbackServer],
) -> None:
    proxy, server = servers
    gate = RecordingGate()
    with governed_client(gate) as http:
        assert http.get(server.url + "/v1/x").content == b"proxy"
    assert proxy.paths() == [server.url + "/v1/x"]
    assert server.received == []
    assert gate.checked == [server.url + "/v1/x"]


async def test_a_governed_async_client_goes_through_the_environments_proxy(
    servers: tuple[LoopbackServer, LoopbackServer],
) -> None:
    proxy, server = servers
    gate = RecordingGate()
    async with governed_async_client(gate) as http:
        assert (await http.get(server.url + "/v1/x")).content == b"proxy"
    assert proxy.paths() == [server.url + "/v1/x"]
    assert server.received == []
    assert gate.checked == [server.url + "/v1/x"]


def test_no_proxy_and_trust_env_false_send_directly_and_gated(
    servers: tuple[LoopbackServer, LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, server = servers
    gate = RecordingGate()
    with governed_client(gate, trust_env=False) as http:
        http.get(server.url + "/a")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with governed_client(gate) as http:
        http.get(server.url + "/b")
    assert proxy.received == []
    assert server.paths() == ["/a", "/b"]
    assert gate.checked == [server.url + "/a", server.url + "/b"]


def test_a_given_inner_transport_is_used_as_is(
    servers: tuple[LoopbackServer, LoopbackServer],
) -> None:
    proxy, server = servers
    with governed_client(RecordingGate(), inner=httpx.HTTPTransport()) as http:
        http.get(server.url + "/a")
    assert proxy.received == []
    assert server.paths() == ["/a"]
