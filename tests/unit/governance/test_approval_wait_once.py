"""A wait with no time left (`timeout_s=0`) asks once; when that one poll fails, the timeout
deny says so instead of reading as though the approval were merely still pending."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from .conftest import authorizer_for, either, make_options
from .fakes import FakePlatform

APPROVAL_PATH = "/v1/approvals/apr_1"


async def test_a_failed_only_poll_is_named_in_the_timeout(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    platform = FakePlatform().on(APPROVAL_PATH, httpx.Response(500, json={"error": "boom"}))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:refund", "apr_1", timeout_s=0),
        lambda: authorizer.wait_for_approval_async("payments:refund", "apr_1", timeout_s=0),
    )
    assert (decision.allowed, decision.status) == (False, "denied")
    assert decision.reason.startswith("approval timed out after 0 s (the last poll failed: ")
    assert "500" in decision.reason
    assert len(platform.calls(APPROVAL_PATH)) == 1


async def test_a_poll_answered_after_a_failure_clears_it(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Failed, then pending: the timeout is a plain one (the platform did answer)."""
    platform = FakePlatform().on(
        APPROVAL_PATH,
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(200, json={"status": "pending"}),
    )
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval(
            "payments:refund", "apr_1", timeout_s=0.3, poll_interval_s=0.01
        ),
        lambda: authorizer.wait_for_approval_async(
            "payments:refund", "apr_1", timeout_s=0.3, poll_interval_s=0.01
        ),
    )
    assert decision.reason == "approval timed out after 0.3 s"
    assert len(platform.calls(APPROVAL_PATH)) >= 2
