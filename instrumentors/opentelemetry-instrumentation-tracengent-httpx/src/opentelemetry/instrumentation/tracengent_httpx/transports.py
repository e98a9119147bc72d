"""Transports that gate the requests of one client, wrapping any inner transport."""

from __future__ import annotations

import httpx

from opentelemetry.instrumentation.tracengent_httpx._flow import send_gated, send_gated_async
from opentelemetry.instrumentation.tracengent_httpx.gate import EgressGate

__all__ = ["AsyncGatedTransport", "GatedTransport"]


class GatedTransport(httpx.BaseTransport):
    """An `httpx.BaseTransport` that asks `gate` before each request reaches `inner`.

    Args:
        inner: the transport that sends what the gate approved.
        gate: decides which requests are checked and what is sent.

    `handle_request` blocks while the gate decides; the gate's exception (a deny) propagates and
    nothing reaches `inner`. A request made while OTel instrumentation is suppressed is checked all
    the same (any library may suppress it); only the Tracengent SDK's own platform calls pass
    unchecked (see `_flow.must_check`).
    """

    def __init__(self, inner: httpx.BaseTransport, gate: EgressGate) -> None:
        self._inner = inner
        self._gate = gate

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check `request` with the gate, then send the approved request through `inner`."""
        return send_gated(self._gate, request, self._inner.handle_request)

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


class AsyncGatedTransport(httpx.AsyncBaseTransport):
    """The `httpx.AsyncBaseTransport` twin of `GatedTransport` (awaits `gate.check_async`)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, gate: EgressGate) -> None:
        self._inner = inner
        self._gate = gate

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check `request` with the gate, then send the approved request through `inner`."""
        return await send_gated_async(self._gate, request, self._inner.handle_async_request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
