"""An approval wait that the platform throttles (429) waits on, within its own timeout.

A 429 is the platform answering, and asking for a pause: the polls it holds back (not sent
before its `Retry-After`) used to count as failing polls, so a `Retry-After` longer than one
poll's `governance_timeout_s` ended a 300 s wait with a deny after three poll intervals.
"""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from .conftest import authorizer_for, either, make_options
from .fakes import FakePlatform

APPROVAL_PATH = "/v1/approvals/apr_1"


def _throttled(status: str) -> FakePlatform:
    return FakePlatform().on(
        APPROVAL_PATH,
        httpx.Response(429, headers={"Retry-After": "1"}, json={"error": "slow down"}),
        httpx.Response(200, json={"status": status}),
    )


async def test_a_throttled_wait_waits_out_retry_after_and_is_approved(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Held-back polls are neither sent nor counted as failures: the poll after the pause reads
    the approval."""
    tracer, _ = spans
    platform = _throttled("approved")
    options = make_options(governance_timeout_s=0.2, approval_timeout_s=30.0)
    authorizer = authorizer_for(options, tracer, httpx.MockTransport(platform.handle))

    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("p:x", "apr_1", poll_interval_s=0.01),
        lambda: authorizer.wait_for_approval_async("p:x", "apr_1", poll_interval_s=0.01),
    )

    assert decision.allowed, decision.reason
    assert len(platform.calls(APPROVAL_PATH)) == 2


async def test_a_platform_that_keeps_throttling_ends_the_wait_at_its_timeout(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Throttled to the end, the wait denies as timed out (fail closed), not as unreadable."""
    tracer, _ = spans
    platform = FakePlatform().on(
        APPROVAL_PATH, httpx.Response(429, headers={"Retry-After": "1"}, json={})
    )
    options = make_options(governance_timeout_s=0.2)
    authorizer = authorizer_for(options, tracer, httpx.MockTransport(platform.handle))

    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("p:x", "apr_1", timeout_s=0.3, poll_interval_s=0.01),
        lambda: authorizer.wait_for_approval_async(
            "p:x", "apr_1", timeout_s=0.3, poll_interval_s=0.01
        ),
    )

    assert not decision.allowed
    assert decision.reason.startswith("approval timed out")
    assert len(platform.calls(APPROVAL_PATH)) == 1
