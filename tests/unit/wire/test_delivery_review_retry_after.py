"""A `Retry-After` binds the client, not only the call that received it (sync and async).

The platform's `Retry-After` sets a not-before time every later call of the same client respects,
however long it is: one call waits for it at most 30 s and never past its deadline (it fails
unsent instead).
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import PlatformUnavailableError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import DeliveryResult

from .conftest import (
    ALLOW,
    AUTHORIZE_PATH,
    EVENT,
    EVENTS_PATH,
    HarnessFactory,
    Script,
)

ACCEPTED = httpx.Response(202, json={"accepted": 1})


def ingest_key_options(**overrides: object) -> TracengentOptions:
    """Valid options with the legacy ingest key (no token endpoint)."""
    values: dict[str, object] = {"agent_id": "billing-agent", "ingest_key": "agk_test"}
    values.update(overrides)
    return TracengentOptions(**values)  # type: ignore[arg-type]


def retry_after(status: int, seconds: int) -> httpx.Response:
    """An answer asking for no request during `seconds`."""
    return httpx.Response(status, headers={"Retry-After": str(seconds)})


async def test_a_long_retry_after_holds_back_the_next_calls_until_it_passes(
    script: Script, harness: HarnessFactory
) -> None:
    """After `Retry-After: 120` no request goes out for 120 s; the first one after is sent."""
    script.on(EVENTS_PATH, retry_after(503, 120), ACCEPTED)
    h = harness(ingest_key_options())
    first = await h.call("post_events", [EVENT], deadline=h.clock() + 600)
    assert isinstance(first, DeliveryResult)
    assert first.failed == 1
    h.clock.now += 60
    held = await h.call("post_events", [EVENT], deadline=h.clock() + 600)
    assert isinstance(held, DeliveryResult)
    assert (held.failed, held.status_code) == (1, 503)
    assert "Retry-After" in (held.reason or "")
    assert len(script.to(EVENTS_PATH)) == 1
    assert h.sleeps == []
    h.clock.now += 60
    assert await h.call("post_events", [EVENT]) == DeliveryResult(1, 0, 0, None, 202)
    assert len(script.to(EVENTS_PATH)) == 2


async def test_another_call_waits_out_a_retry_after_before_sending(
    script: Script, harness: HarnessFactory
) -> None:
    """A call made while an earlier call's `Retry-After: 3` runs waits 3 s, then delivers."""
    script.on(EVENTS_PATH, retry_after(429, 3), ACCEPTED)
    h = harness(ingest_key_options(max_retries=0))
    first = await h.call("post_events", [EVENT])
    assert isinstance(first, DeliveryResult)
    assert (first.failed, first.status_code) == (1, 429)
    assert h.sleeps == []
    second = await h.call("post_events", [EVENT])
    assert second == DeliveryResult(1, 0, 0, None, 202)
    assert h.sleeps == [3.0]


async def test_a_governance_call_that_cannot_wait_for_a_retry_after_fails_unsent(
    script: Script, harness: HarnessFactory
) -> None:
    """An authorize whose deadline comes before the platform's not-before time is not sent."""
    script.on(EVENTS_PATH, retry_after(503, 20))
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    h = harness(ingest_key_options(max_retries=0))
    await h.call("post_events", [EVENT])
    with pytest.raises(PlatformUnavailableError) as caught:
        await h.call("authorize", {"permission": "payments:refund"}, deadline=h.clock() + 5)
    assert caught.value.status_code == 503
    assert script.to(AUTHORIZE_PATH) == []
    assert h.sleeps == []
