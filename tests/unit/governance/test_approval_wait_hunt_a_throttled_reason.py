"""Hunt A: a wait that timed out while the platform throttled its polls says so.

A 429 is no failing poll (the wait goes on), but its timeout deny said only "approval timed out
after 0 s": for `timeout_s=0` (check once), or a wait throttled to its end, that reads as an
approval still pending, when the platform never said. The reason now names the throttled poll,
as it names a failed one; it still starts "approval timed out" (a tool wait's outcome stays
`approval_timeout`), and a poll answered since clears it.
"""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from .conftest import authorizer_for, either, make_options
from .fakes import FakePlatform

APPROVAL_PATH = "/v1/approvals/apr_1"
THROTTLED = httpx.Response(429, json={"error": "slow down"})


async def test_a_throttled_check_once_names_the_429(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    platform = FakePlatform().on(APPROVAL_PATH, THROTTLED)
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("p:x", "apr_1", timeout_s=0),
        lambda: authorizer.wait_for_approval_async("p:x", "apr_1", timeout_s=0),
    )
    assert not decision.allowed
    assert decision.reason.startswith("approval timed out after 0 s (the last poll failed: ")
    assert "429" in decision.reason


async def test_a_pending_answer_after_a_429_is_no_failure(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    platform = FakePlatform().on(
        APPROVAL_PATH, THROTTLED, httpx.Response(200, json={"status": "pending"})
    )
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("p:x", "apr_1", timeout_s=0.2, poll_interval_s=0.001),
        lambda: authorizer.wait_for_approval_async(
            "p:x", "apr_1", timeout_s=0.2, poll_interval_s=0.001
        ),
    )
    assert not decision.allowed
    assert decision.reason == "approval timed out after 0.2 s"
