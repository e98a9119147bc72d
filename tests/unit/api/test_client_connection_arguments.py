"""`TracengentClient(options, transport=, http=, async_transport=)` refuses the wrong kind of
connection at construction, saying what to pass, rather than dropping every event later.

An `httpx.AsyncClient` given as `http` (an async application's own client) cannot make the sync
calls (every event dropped after its retries, every governed call denied, an `AttributeError`
the only reason given), nor can a sync-only transport given as `async_transport` make the async
ones, nor an async-only transport given as `transport` the telemetry the blocking client sends.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.unit.traces.conftest import platform_options
from tracengent import TracengentClient, TracengentConfigError


def _reply(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json={"accepted": 1})


def test_an_async_http_client_is_refused(no_global_provider: None) -> None:
    """`http=httpx.AsyncClient()`: a config error naming `http` and `async_transport`."""
    http = httpx.AsyncClient()
    try:
        with pytest.raises(TracengentConfigError, match=r"http must be an httpx\.Client"):
            TracengentClient(platform_options(), http=http)  # type: ignore[arg-type]
    finally:
        asyncio.run(http.aclose())


def test_a_sync_only_async_transport_is_refused(no_global_provider: None) -> None:
    """`async_transport=httpx.HTTPTransport()`: a config error naming `transport`."""
    with (
        httpx.HTTPTransport() as transport,
        pytest.raises(TracengentConfigError, match=r"async_transport must be"),
    ):
        TracengentClient(platform_options(), async_transport=transport)  # type: ignore[arg-type]


def test_an_async_only_transport_is_refused(no_global_provider: None) -> None:
    """`transport=httpx.AsyncHTTPTransport()`: the blocking telemetry client cannot send
    through it (every event would be dropped); a config error naming `async_transport`."""

    async def refused() -> None:
        async with httpx.AsyncHTTPTransport() as transport:
            with pytest.raises(TracengentConfigError, match=r"transport must be .*async_transport"):
                TracengentClient(platform_options(), transport=transport)  # type: ignore[arg-type]

    asyncio.run(refused())


def test_the_right_kinds_are_accepted(no_global_provider: None) -> None:
    """A mock transport (both kinds), a sync client and an async transport are accepted."""
    mock = httpx.MockTransport(_reply)
    with httpx.Client(transport=mock, base_url="http://platform.test") as http:
        client = TracengentClient(
            platform_options(),
            transport=mock,
            http=http,
            async_transport=mock,
        )
        with client.begin_trace("t") as trace:
            trace.step("s")
        assert client.close(timeout=10)
        assert client.dropped_count == 0
