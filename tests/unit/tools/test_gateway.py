"""governed_client / GatewayTransport: every request of the client is governed before it leaves."""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.options import TracengentOptions
from tests.unit.tools.stubs import (
    ALLOW,
    DENY,
    Answer,
    AsyncScriptedPlatform,
    ScriptedPlatform,
    SpanRecorder,
    allow_redacting,
)
from tracengent._gateway import (
    AsyncGatewayTransport,
    GatewayTransport,
    governed_async_client,
    governed_client,
)
from tracengent._governance.egress import EgressGovernor


class StandInClient:
    """What governed_client needs of a TracengentClient: `egress_gate(*, govern_all)`."""

    def __init__(self, answer: Answer) -> None:
        self.platform = ScriptedPlatform(answer)
        self.govern_all_asked: list[bool] = []

    def egress_gate(self, *, govern_all: bool) -> EgressGovernor:
        self.govern_all_asked.append(govern_all)
        return EgressGovernor(
            # No governed hosts: only govern_all can make a request governed here.
            TracengentOptions(agent_id="a", ingest_key="k"),
            platform=self.platform,
            async_platform=AsyncScriptedPlatform(self.platform),
            tracer=SpanRecorder().tracer,
            govern_all=govern_all,
        )


class Inner:
    """Recording inner transports (sync and async) that answer 200."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append((request.read(), request.headers.get("content-length")))
        return httpx.Response(200, json={"ok": True})

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)


def test_governed_client_governs_every_host() -> None:
    """A governed client asks for a govern-all gate and authorizes a request to any host."""
    stand_in, inner = StandInClient(dict(ALLOW)), Inner()
    with governed_client(stand_in, inner=httpx.MockTransport(inner.handle)) as client:
        assert client.get("http://not-in-any-list.test/x").status_code == 200
    assert stand_in.govern_all_asked == [True]
    assert stand_in.platform.requests[0]["host"] == "not-in-any-list.test"


def test_denied_request_never_reaches_inner() -> None:
    """A denied request raises ToolDeniedException and the inner transport sees nothing."""
    stand_in, inner = StandInClient(dict(DENY)), Inner()
    with (
        governed_client(stand_in, inner=httpx.MockTransport(inner.handle)) as client,
        pytest.raises(ToolDeniedException),
    ):
        client.post("http://tool.test/v1/refunds", json={"card": "4242"})
    assert inner.received == []


def test_redacted_bytes_reach_inner_with_their_length() -> None:
    """The inner transport receives the redacted body and a Content-Length that matches it."""
    stand_in, inner = StandInClient(allow_redacting("$.card")), Inner()
    with governed_client(stand_in, inner=httpx.MockTransport(inner.handle)) as client:
        client.post("http://tool.test/v1/refunds", json={"amount": 5, "card": "4242"})
    assert inner.received == [(b'{"amount":5}', "12")]


async def test_governed_async_client_redacts_and_denies() -> None:
    """The async governed client applies redactions on allow and sends nothing on deny."""
    inner = Inner()
    allowing = governed_async_client(
        StandInClient(allow_redacting("$.card", "mask")),
        inner=httpx.MockTransport(inner.handle_async),
    )
    async with allowing as client:
        await client.post("http://tool.test/pay", json={"card": "4242"})
    denying = governed_async_client(
        StandInClient(dict(DENY)), inner=httpx.MockTransport(inner.handle_async)
    )
    async with denying as client:
        with pytest.raises(ToolDeniedException):
            await client.post("http://tool.test/pay", json={"card": "4242"})
    assert inner.received == [(b'{"card":"***REDACTED***"}', "25")]


@pytest.mark.parametrize("kwarg", ["transport", "mounts", "proxy"])
def test_kwargs_that_bypass_the_gate_are_refused(kwarg: str) -> None:
    """transport, mounts and proxy would route around the gate, so they are a TypeError."""
    with pytest.raises(TypeError, match=kwarg):
        governed_client(StandInClient(dict(ALLOW)), **{kwarg: None})


def test_gateway_transport_uses_a_gate_as_is() -> None:
    """Given an EgressGate (not a client), GatewayTransport uses it with its own host rules."""
    platform = ScriptedPlatform(dict(DENY))
    gate = EgressGovernor(
        TracengentOptions(agent_id="a", ingest_key="k", governed_hosts=["api.example.com"]),
        platform=platform,
        async_platform=AsyncScriptedPlatform(platform),
        tracer=SpanRecorder().tracer,
    )
    inner = Inner()
    transport = GatewayTransport(gate, inner=httpx.MockTransport(inner.handle))
    with httpx.Client(transport=transport) as client:
        assert client.get("http://free.test/").status_code == 200
        with pytest.raises(ToolDeniedException):
            client.get("https://api.example.com/v1/refunds")
    assert len(inner.received) == 1


@pytest.mark.parametrize("transport_class", [GatewayTransport, AsyncGatewayTransport])
def test_gateway_transport_rejects_other_objects(transport_class: type) -> None:
    """Anything that is neither a TracengentClient nor an EgressGate is a TypeError."""
    with pytest.raises(TypeError, match="EgressGate"):
        transport_class(object())
