"""Review 4: the request target httpcore sends is the one the platform is told.

httpcore sends `request.extensions["target"]`, when set, as the request line instead of the URL's
path and query (`OPTIONS *`, absolute-form). The gate told the platform the URL's path: a GET of
`/v1/flights` (allowed, a search) with `extensions={"target": b"/v1/admin"}` reached `/v1/admin`.
A target that is not the URL's own is now denied unsent (`path_ambiguous`).
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.instrumentation.tracengent_httpx import AsyncGatedTransport, GatedTransport
from tests.unit.tools.stubs import ALLOW
from tracengent._governance.egress import EgressGovernor

from .conftest import either
from .egress_support import World, scripted_governor

URL = "https://api.example.com/v1/flights?from=LIS"


async def _sent(mode: str, gate: EgressGovernor, world: World, target: str | bytes) -> None:
    request = httpx.Request("GET", URL, extensions={"target": target})
    transport = httpx.MockTransport(world.handle)

    def sync() -> None:
        with httpx.Client(transport=GatedTransport(transport, gate)) as http:
            http.send(request)

    async def coroutine() -> None:
        async with httpx.AsyncClient(transport=AsyncGatedTransport(transport, gate)) as http:
            await http.send(request)

    await either(mode, sync, coroutine)


@pytest.mark.parametrize(
    "target", [b"/v1/admin", "/v1/admin", b"/v1/flights?from=LIS&to=admin", b"*"]
)
async def test_another_request_target_is_denied_unsent(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], target: str | bytes
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=["api.example.com"])
    world = World()
    with pytest.raises(ToolDeniedException) as denied:
        await _sent(mode, gate, world, target)
    assert denied.value.outcome == "path_ambiguous"
    assert platform.requests == []
    assert world.received == []


@pytest.mark.parametrize("target", [b"/v1/flights?from=LIS", "/v1/flights?from=LIS"])
async def test_the_urls_own_target_is_authorized(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], target: str | bytes
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=["api.example.com"])
    world = World()
    await _sent(mode, gate, world, target)
    assert platform.requests[0]["path"] == "/v1/flights"
    assert len(world.received) == 1
