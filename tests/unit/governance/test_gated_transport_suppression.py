"""`GatedTransport` / `AsyncGatedTransport` gate a request made under OTel's suppression too.

Their docstring said such requests pass unchecked; the flow deliberately ignores suppression
(any library may set it), and only the SDK's own platform calls pass.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from opentelemetry.exporter.tracengent._platform_calls import platform_call
from opentelemetry.instrumentation.tracengent_httpx import AsyncGatedTransport, GatedTransport


class Refused(Exception):
    """The stub gate's deny."""


class RefusingGate:
    """Governs every request and refuses each one it is asked about."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def is_governed(self, request: httpx.Request) -> bool:
        return True

    def check(self, request: httpx.Request) -> httpx.Request:
        self.checked.append(str(request.url))
        raise Refused(str(request.url))

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        return self.check(request)


def _sent_to(sent: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200)

    return httpx.MockTransport(handle)


def test_a_suppressed_request_is_still_gated() -> None:
    """Under `suppress_instrumentation` the blocking transport asks the gate; nothing is sent."""
    gate, sent = RefusingGate(), list[str]()
    transport = GatedTransport(_sent_to(sent), gate)
    with (
        suppress_instrumentation(),
        httpx.Client(transport=transport) as client,
        pytest.raises(Refused),
    ):
        client.get("https://tool.test/a")
    assert gate.checked == ["https://tool.test/a"]
    assert sent == []


async def test_a_suppressed_async_request_is_still_gated() -> None:
    """The coroutine transport likewise; only a platform call of the SDK's own passes."""
    gate, sent = RefusingGate(), list[str]()
    transport = AsyncGatedTransport(_sent_to(sent), gate)
    async with httpx.AsyncClient(transport=transport) as client:
        with suppress_instrumentation(), pytest.raises(Refused):
            await client.get("https://tool.test/a")
        with platform_call():
            assert (await client.get("https://tool.test/b")).status_code == 200
    assert gate.checked == ["https://tool.test/a"]
    assert sent == ["https://tool.test/b"]
