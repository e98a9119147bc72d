"""A 307/308 redirect keeps the method and body: its request is authorized like the first hop.

httpx builds the redirect's request around the first hop's body stream without reading it, so
the gate must read it (not `.content`, which raises RequestNotRead there).
"""

from __future__ import annotations

import json

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW, allow_redacting

from .egress_support import World, scripted_governor, send

FIRST = "https://api.example.com/v1/refunds"
SECOND = "https://api.example.com/v2/refunds"


def _redirecting(status: int) -> World:
    return World(routes={"/v1/refunds": httpx.Response(status, headers={"Location": SECOND})})


@pytest.mark.parametrize("status", [307, 308])
async def test_same_host_redirect_with_a_body_is_authorized_and_sent(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], status: int
) -> None:
    """Both hops are authorized with the JSON body and both reach the server."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=["api.example.com"])
    world = _redirecting(status)
    response = await send(
        mode, gate, world, "POST", FIRST, json={"amount": 10}, follow_redirects=True
    )
    assert response.status_code == 200
    assert [(r.method, str(r.url)) for r in world.received] == [("POST", FIRST), ("POST", SECOND)]
    assert world.bodies == [b'{"amount":10}', b'{"amount":10}']
    assert [(p["path"], p["body"]) for p in platform.requests] == [
        ("/v1/refunds", {"amount": 10}),
        ("/v2/refunds", {"amount": 10}),
    ]


@pytest.mark.parametrize("status", [307, 308])
async def test_redirected_body_stays_redacted(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], status: int
) -> None:
    """The redirect resends the redacted body, and its Content-Length matches it."""
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = _redirecting(status)
    await send(
        mode, gate, world, "POST", FIRST, json={"amount": 10, "card": "4242"}, follow_redirects=True
    )
    assert len(world.received) == 2
    for request in world.received:
        assert json.loads(request.content) == {"amount": 10, "card": "***REDACTED***"}
        assert request.headers["content-length"] == str(len(request.content))
    assert len(platform.requests) == 2
