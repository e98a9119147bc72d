"""Review 3: a request that passed a gate skips the gates below it, and only that request.

A `GatedTransport` (or `governed_client`) whose inner transport makes requests of its own while
it sends the approved one (a token refresh, a lookup) must not let those requests past the
zero-code gate: each is authorized like any other request of the process.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from opentelemetry.instrumentation.tracengent_httpx import (
    AsyncGatedTransport,
    GatedTransport,
    TracengentHTTPXInstrumentor,
)
from tests.support.loopback import LoopbackServer, Reply, serve


class Refused(Exception):
    """The stub gate's deny."""


class SecretGate:
    """Governs every request; refuses the ones to `/secret`, records what it checked."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def is_governed(self, request: httpx.Request) -> bool:
        return True

    def check(self, request: httpx.Request) -> httpx.Request:
        self.checked.append(request.url.path)
        if request.url.path == "/secret":
            raise Refused(request.url.path)
        return request

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        return self.check(request)


class FetchingFirst(httpx.BaseTransport):
    """An inner transport that GETs `url` with a client of its own before sending the request."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with httpx.Client() as own:
            own.get(self._url)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncFetchingFirst(httpx.AsyncBaseTransport):
    """The async twin of `FetchingFirst`."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with httpx.AsyncClient() as own:
            await own.get(self._url)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(lambda _: Reply(200, b"{}")) as running:
        yield running


@pytest.fixture
def gate() -> Iterator[SecretGate]:
    """The gate of zero-code gating (and of the client under test)."""
    stub = SecretGate()
    instrumentor = TracengentHTTPXInstrumentor()
    instrumentor.instrument(gate=stub)
    yield stub
    instrumentor.uninstrument()


def test_a_request_made_while_an_approved_one_is_sent_is_gated(
    server: LoopbackServer, gate: SecretGate
) -> None:
    inner = FetchingFirst(f"{server.url}/secret")
    with httpx.Client(transport=GatedTransport(inner, gate)) as http, pytest.raises(Refused):
        http.get(f"{server.url}/public")
    assert gate.checked == ["/public", "/secret"]
    assert server.paths() == []


async def test_an_async_request_made_while_an_approved_one_is_sent_is_gated(
    server: LoopbackServer, gate: SecretGate
) -> None:
    inner = AsyncFetchingFirst(f"{server.url}/secret")
    async with httpx.AsyncClient(transport=AsyncGatedTransport(inner, gate)) as http:
        with pytest.raises(Refused):
            await http.get(f"{server.url}/public")
    assert gate.checked == ["/public", "/secret"]
    assert server.paths() == []


def test_the_approved_request_itself_is_checked_once(
    server: LoopbackServer, gate: SecretGate
) -> None:
    """Below the gate, the patched `HTTPTransport` does not authorize the same request again."""
    with httpx.Client(transport=GatedTransport(httpx.HTTPTransport(), gate)) as http:
        http.get(f"{server.url}/public")
    assert gate.checked == ["/public"]
    assert server.paths() == ["/public"]
