"""An approval settles only the permission it was asked for (review 3).

`wait_for_approval("hotels:book", "apr_1")` where `apr_1` held a `payments:refund` decision came
back as an allow for `hotels:book`: a person approving a refund granted a booking. An approval
this authorizer knows is now waited for under its own permission only; another permission is
denied unpolled. (An id the authorizer never saw is still polled as before.)
"""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from .conftest import authorizer_for, either, make_options
from .fakes import FakePlatform, decision


async def test_an_approval_of_another_permission_is_a_deny(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    platform.on("/v1/authorize", decision("pending_approval", approvalId="apr_1"))
    platform.on("/v1/approvals/apr_1", httpx.Response(200, json={"status": "approved"}))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    await either(
        mode,
        lambda: authorizer.authorize("payments:refund", {"amount": 800}),
        lambda: authorizer.authorize_async("payments:refund", {"amount": 800}),
    )
    other = await either(
        mode,
        lambda: authorizer.wait_for_approval("hotels:book", "apr_1"),
        lambda: authorizer.wait_for_approval_async("hotels:book", "apr_1"),
    )
    assert not other.allowed
    assert "payments:refund" in other.reason
    assert not [r for r in platform.requests if r.url.path == "/v1/approvals/apr_1"]
    same = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:refund", "apr_1"),
        lambda: authorizer.wait_for_approval_async("payments:refund", "apr_1"),
    )
    assert same.allowed
