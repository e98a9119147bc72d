"""The one request flow shared by the patched httpx transports and `GatedTransport`.

Everything here is I/O-free except the `send` callable the thin shells pass in. The flow never
catches what `send` raises: the application's own exception reaches it untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Final

import httpx
from opentelemetry.context import get_value

from opentelemetry.instrumentation.tracengent_httpx.gate import EgressGate

PLATFORM_CALL_KEY: Final = "tracengent-platform-call"
"""The OTel context key the Tracengent SDK sets (to True) around its own platform calls; the
exporter package spells the same key (`opentelemetry.exporter.tracengent._platform_calls`)."""

# The approved request while it is handed to the transport below the gate: a `GatedTransport`
# whose inner transport is a patched `HTTPTransport` must not authorize that request twice. Only
# that request: one the inner transport makes of its own meanwhile (a token refresh) is gated.
_APPROVED: ContextVar[httpx.Request | None] = ContextVar("tracengent_httpx_approved", default=None)


def must_check(gate: EgressGate | None, request: httpx.Request) -> bool:
    """Whether `request` goes through `gate` before it is sent.

    Not when there is no gate, when this very request is already past a gate, or when it is one of
    the Tracengent SDK's own platform calls (`PLATFORM_CALL_KEY` in the OTel context: gating
    them would recurse). OTel's suppression keys are deliberately ignored: any library may
    suppress instrumentation (against duplicate spans, or its own traffic), and that must not
    let a governed request leave unchecked.
    """
    return (
        gate is not None
        and _APPROVED.get() is not request
        and get_value(PLATFORM_CALL_KEY) is not True
        and gate.is_governed(request)
    )


def send_gated(
    gate: EgressGate | None,
    request: httpx.Request,
    send: Callable[[httpx.Request], httpx.Response],
) -> httpx.Response:
    """Check `request` with `gate` when it must be, then send what the gate returned."""
    if not must_check(gate, request):
        return send(request)
    assert gate is not None  # narrowed by must_check
    approved = gate.check(request)
    # Set and reset by hand, not with a generator context manager: this runs per request.
    inside = _APPROVED.set(approved)
    try:
        return send(approved)
    finally:
        _APPROVED.reset(inside)


async def send_gated_async(
    gate: EgressGate | None,
    request: httpx.Request,
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
) -> httpx.Response:
    """The coroutine twin of `send_gated`."""
    if not must_check(gate, request):
        return await send(request)
    assert gate is not None  # narrowed by must_check
    approved = await gate.check_async(request)
    inside = _APPROVED.set(approved)
    try:
        return await send(approved)
    finally:
        _APPROVED.reset(inside)
