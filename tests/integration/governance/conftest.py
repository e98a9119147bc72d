"""Helpers for governance tests against the real local platform (`tracengent_platform`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tracengent._governance.authorization import Authorizer
from tracengent._governance.delegation import DelegatedSession, begin_delegated_task

APPROVALS_PREFIX = "/v1/approvals/"


class PollSignal(httpx.HTTPTransport):
    """A real transport that sets `polled` when an approval poll goes out (no sleeps needed)."""

    def __init__(self) -> None:
        super().__init__()
        self.polled = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(APPROVALS_PREFIX):
            self.polled.set()
        return super().handle_request(request)


class AsyncPollSignal(httpx.AsyncHTTPTransport):
    """The async twin of `PollSignal`, signalling an `asyncio.Event`."""

    def __init__(self) -> None:
        super().__init__()
        self.polled = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(APPROVALS_PREFIX):
            self.polled.set()
        return await super().handle_async_request(request)


@pytest.fixture
def tracer() -> Iterator[Tracer]:
    """A tracer exporting to memory (governance spans are not under test here)."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    yield provider.get_tracer("tracengent-integration")
    provider.shutdown()


_OPEN_CLIENTS: list[PlatformClient | AsyncPlatformClient | DelegatedSession] = []


@pytest.fixture(autouse=True)
async def close_platform_clients() -> AsyncIterator[None]:
    """Close every platform client a test made (open sockets would be ResourceWarnings)."""
    yield
    while _OPEN_CLIENTS:
        client = _OPEN_CLIENTS.pop()
        if isinstance(client, PlatformClient):
            client.close()
        else:
            await client.aclose()


def real_authorizer(
    options: TracengentOptions,
    tracer: Tracer,
    *,
    transport: httpx.BaseTransport | None = None,
    async_transport: httpx.AsyncBaseTransport | None = None,
) -> Authorizer:
    """An Authorizer over real platform clients (closed after the test)."""
    platform = PlatformClient(options, transport=transport)
    async_platform = AsyncPlatformClient(options, transport=async_transport)
    _OPEN_CLIENTS.extend((platform, async_platform))
    return Authorizer(options, platform=platform, async_platform=async_platform, tracer=tracer)


def delegated_session(options: TracengentOptions, token: str, tracer: Tracer) -> DelegatedSession:
    """A delegated session over real platform clients (closed after the test)."""
    session = begin_delegated_task(options, token, tracer=tracer)
    _OPEN_CLIENTS.append(session)
    return session
