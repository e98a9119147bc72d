"""Review 4: the gate reads the body the transport sends, not a stale copy of it.

httpx keeps the bytes of an in-memory body twice: in `request.stream` (what a transport sends) and
in `request.content` (what `read()` returns, filled once when the request is built). A request
event hook or an `httpx.Auth` flow that replaces `request.stream` (a signing hook rewriting the
body) leaves `.content` as it was: the gate must decide on, and redact, the stream.
"""

from __future__ import annotations

import json

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.instrumentation.tracengent_httpx import AsyncGatedTransport, GatedTransport
from tests.unit.tools.stubs import allow_redacting
from tracengent._governance.egress import EgressGovernor

from .conftest import either
from .egress_support import scripted_governor

URL = "https://api.example.com/v1/refunds"
REWRITTEN = b'{"amount":5000,"card":"4242 4242 4242 4242"}'


def _rewrite(request: httpx.Request) -> None:
    """A request hook that replaces the body by assigning `request.stream`."""
    request.stream = httpx.ByteStream(REWRITTEN)
    request.headers["Content-Length"] = str(len(REWRITTEN))


async def _async_rewrite(request: httpx.Request) -> None:
    _rewrite(request)


class Wire:
    """The server: records the bytes a real transport would send (the request's stream)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.ByteStream)
        self.bodies.append(b"".join(request.stream))
        return httpx.Response(200)


def _post_sync(gate: EgressGovernor, wire: Wire) -> None:
    transport = GatedTransport(httpx.MockTransport(wire.handle), gate)
    with httpx.Client(transport=transport, event_hooks={"request": [_rewrite]}) as http:
        http.post(URL, json={"amount": 5})


async def _post_async(gate: EgressGovernor, wire: Wire) -> None:
    transport = AsyncGatedTransport(httpx.MockTransport(wire.handle), gate)
    hooks = {"request": [_async_rewrite]}
    async with httpx.AsyncClient(transport=transport, event_hooks=hooks) as http:
        await http.post(URL, json={"amount": 5})


async def test_a_body_replaced_by_a_hook_is_the_one_authorized_and_redacted(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    wire = Wire()
    await either(mode, lambda: _post_sync(gate, wire), lambda: _post_async(gate, wire))
    assert platform.requests[0]["body"] == json.loads(REWRITTEN)
    (sent,) = wire.bodies
    assert json.loads(sent) == {"amount": 5000, "card": "***REDACTED***"}
