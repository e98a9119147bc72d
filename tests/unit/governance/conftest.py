"""Fixtures for governance unit tests: an in-memory span pipeline and a scripted platform."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tracengent._governance.authorization import Authorizer
from tracengent._governance.delegation import DelegatedSession

from .fakes import FakePlatform

T = TypeVar("T")


@pytest.fixture
def spans() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    """A tracer whose finished spans land in an in-memory exporter."""
    provider = TracerProvider(shutdown_on_exit=False)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("tracengent-test"), exporter
    provider.shutdown()


def governance_spans(exporter: InMemorySpanExporter, kind: str) -> list[ReadableSpan]:
    """The finished governance spans of one kind."""
    return [
        s
        for s in exporter.get_finished_spans()
        if s.attributes is not None and s.attributes.get(A.GOVERNANCE_KIND) == kind
    ]


def make_options(base_url: str = "http://platform.test", **overrides: object) -> TracengentOptions:
    """Client-credential options with short governance timings for tests."""
    values: dict[str, object] = {
        "agent_id": "demo-agent",
        "base_url": base_url,
        "client_id": "key_demo",
        "client_secret": "ags_demo",
        "max_retries": 0,
        "governance_timeout_s": 2.0,
        "approval_poll_interval_s": 0.001,
        "approval_timeout_s": 5.0,
    }
    values.update(overrides)
    return TracengentOptions(**values)  # type: ignore[arg-type]


@pytest.fixture
def platform() -> FakePlatform:
    """A scripted platform (token endpoint answered by default)."""
    return FakePlatform()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Runs a test once against the blocking API and once against the coroutine API."""
    return str(request.param)


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


def track(*clients: PlatformClient | AsyncPlatformClient | DelegatedSession) -> None:
    """Register platform clients for `close_platform_clients`."""
    _OPEN_CLIENTS.extend(clients)


def authorizer_for(
    options: TracengentOptions,
    tracer: Tracer,
    transport: httpx.MockTransport | None,
) -> Authorizer:
    """An Authorizer whose platform clients use `transport` (None: the real network)."""
    platform = PlatformClient(options, transport=transport)
    async_platform = AsyncPlatformClient(options, transport=transport)
    track(platform, async_platform)
    return Authorizer(options, platform=platform, async_platform=async_platform, tracer=tracer)


async def either(mode: str, sync: Callable[[], T], coroutine: Callable[[], Awaitable[T]]) -> T:
    """Call the blocking or the coroutine variant of one operation, by `mode`."""
    if mode == "sync":
        return sync()
    return await coroutine()
