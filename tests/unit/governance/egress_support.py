"""Egress helpers for governance unit tests: a governor over the scripted platform and one request
sent through the gated transports (sync or async), recording what reached the world."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.instrumentation.tracengent_httpx import AsyncGatedTransport, GatedTransport
from tests.unit.tools.stubs import AsyncScriptedPlatform, ScriptedPlatform
from tracengent._governance.egress import EgressGovernor

from .conftest import either


@dataclass
class World:
    """The servers behind the gate: answer a request by its path (`routes`, else 200) and keep
    every request received."""

    routes: dict[str, httpx.Response] = field(default_factory=dict)
    received: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler (reads the body, as a server would)."""
        request.read()
        self.received.append(request)
        reply = self.routes.get(request.url.path, httpx.Response(200))
        return httpx.Response(reply.status_code, headers=reply.headers)

    @property
    def bodies(self) -> list[bytes]:
        """The bytes of every body received, in order."""
        return [request.content for request in self.received]


def scripted_governor(
    answer: JsonValue | Exception,
    tracer: Tracer,
    *,
    hosts: list[str] | None = None,
    scrub_patterns: list[str] | None = None,
) -> tuple[EgressGovernor, ScriptedPlatform]:
    """A governor of `hosts` (default every host) answered by `answer`, and its platform."""
    platform = ScriptedPlatform(answer)
    options = TracengentOptions(
        agent_id="agent",
        ingest_key="agk_x",
        governed_hosts=hosts or [],
        scrub_patterns=scrub_patterns or [],
    )
    governor = EgressGovernor(
        options,
        platform=platform,
        async_platform=AsyncScriptedPlatform(platform),
        tracer=tracer,
        govern_all=hosts is None,
    )
    return governor, platform


def _send_sync(
    gate: EgressGovernor, world: World, method: str, url: str, kwargs: dict[str, object]
) -> httpx.Response:
    with httpx.Client(transport=GatedTransport(httpx.MockTransport(world.handle), gate)) as http:
        return http.request(method, url, **kwargs)  # type: ignore[arg-type]


async def _send_async(
    gate: EgressGovernor, world: World, method: str, url: str, kwargs: dict[str, object]
) -> httpx.Response:
    transport = AsyncGatedTransport(httpx.MockTransport(world.handle), gate)
    async with httpx.AsyncClient(transport=transport) as http:
        return await http.request(method, url, **kwargs)  # type: ignore[arg-type]


async def send(
    mode: str, gate: EgressGovernor, world: World, method: str, url: str, **kwargs: object
) -> httpx.Response:
    """Send one request through the sync or the async gated transport (httpx keyword arguments:
    `content`, `json`, `headers`, `params`, `follow_redirects`)."""
    return await either(
        mode,
        lambda: _send_sync(gate, world, method, url, kwargs),
        lambda: _send_async(gate, world, method, url, kwargs),
    )
