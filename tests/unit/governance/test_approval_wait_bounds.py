"""A wait's own `timeout_s` / `poll_interval_s` that cannot bound it deny at once, sync and async.

A negative poll interval made the blocking wait raise `ValueError` out of `time.sleep` and the
coroutine one poll the platform in a busy loop; a NaN timeout never ended either wait.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tracengent._governance.tools import ToolGate

from .conftest import authorizer_for, either, governance_spans, make_options, track
from .fakes import FakePlatform

APPROVAL_PATH = "/v1/approvals/apr_1"

BAD_BOUNDS = [
    pytest.param({"poll_interval_s": -1.0}, id="negative-interval"),
    pytest.param({"poll_interval_s": 0.0}, id="zero-interval"),
    pytest.param({"poll_interval_s": float("nan")}, id="nan-interval"),
    pytest.param({"timeout_s": float("nan")}, id="nan-timeout"),
    pytest.param({"timeout_s": float("inf")}, id="endless-timeout"),
    pytest.param({"timeout_s": -1.0}, id="negative-timeout"),
    pytest.param({"timeout_s": "5"}, id="text-timeout"),
    pytest.param({"poll_interval_s": True}, id="bool-interval"),
]


def _pending_platform() -> FakePlatform:
    return FakePlatform().on(APPROVAL_PATH, httpx.Response(200, json={"status": "pending"}))


@pytest.mark.parametrize("bounds", BAD_BOUNDS)
async def test_tool_gate_wait_with_unusable_bounds_denies_unpolled(
    mode: str, bounds: dict[str, object], spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """`ToolGate.wait_for_approval(_async)` raises `ToolDeniedException` (sdk_error), polls
    nothing, and records the deny on its approval span."""
    tracer, exporter = spans
    platform = _pending_platform()
    options = make_options(approval_timeout_s=0.2)
    transport = httpx.MockTransport(platform.handle)
    sync_platform = PlatformClient(options, transport=transport)
    async_platform = AsyncPlatformClient(options, transport=transport)
    track(sync_platform, async_platform)
    gate = ToolGate(options, platform=sync_platform, async_platform=async_platform, tracer=tracer)

    with pytest.raises(ToolDeniedException) as raised:
        await either(
            mode,
            lambda: gate.wait_for_approval("apr_1", **bounds),  # type: ignore[arg-type]
            lambda: gate.wait_for_approval_async("apr_1", **bounds),  # type: ignore[arg-type]
        )

    assert raised.value.outcome == "sdk_error"
    assert "invalid approval wait" in raised.value.reason
    assert platform.calls(APPROVAL_PATH) == []
    (span,) = governance_spans(exporter, A.GovernanceKinds.APPROVAL_WAIT)
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_STATUS] == "denied"


@pytest.mark.parametrize("bounds", BAD_BOUNDS)
async def test_authorizer_wait_with_unusable_bounds_denies_unpolled(
    mode: str, bounds: dict[str, object], spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """`Authorizer.wait_for_approval(_async)` returns a deny naming the bound and never polls."""
    tracer, _ = spans
    platform = _pending_platform()
    authorizer = authorizer_for(
        make_options(approval_timeout_s=0.2), tracer, httpx.MockTransport(platform.handle)
    )

    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:refund", "apr_1", **bounds),  # type: ignore[arg-type]
        lambda: authorizer.wait_for_approval_async("payments:refund", "apr_1", **bounds),  # type: ignore[arg-type]
    )

    assert not decision.allowed
    assert decision.status == "denied"
    assert decision.approval_id == "apr_1"
    assert decision.reason.startswith("invalid approval wait")
    assert platform.calls(APPROVAL_PATH) == []


async def test_usable_bounds_of_its_own_still_poll(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A wait's own finite bounds (an int timeout included) are used: approved → an allow."""
    tracer, _ = spans
    platform = FakePlatform().on(APPROVAL_PATH, httpx.Response(200, json={"status": "approved"}))
    authorizer = authorizer_for(make_options(), tracer, httpx.MockTransport(platform.handle))

    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval(
            "payments:refund", "apr_1", timeout_s=5, poll_interval_s=0.01
        ),
        lambda: authorizer.wait_for_approval_async(
            "payments:refund", "apr_1", timeout_s=5, poll_interval_s=0.01
        ),
    )

    assert decision.allowed
    assert len(platform.calls(APPROVAL_PATH)) == 1
