"""Retry, backoff, Retry-After, deadlines and transport failures of the wire layer (sync and async)."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest
from opentelemetry.context import get_value
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from opentelemetry.exporter.tracengent._platform_calls import PLATFORM_CALL_KEY
from opentelemetry.exporter.tracengent.errors import PlatformError, PlatformUnavailableError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import DeliveryResult
from opentelemetry.exporter.tracengent.wire import AuthDecision

from .conftest import (
    ALLOW,
    AUTHORIZE_PATH,
    EVENT,
    EVENTS_PATH,
    WALL_EPOCH_S,
    Harness,
    HarnessFactory,
    Script,
)

ACCEPTED = httpx.Response(202, json={"accepted": 1})


async def test_503_then_success_is_retried_after_the_first_backoff(
    script: Script, harness: HarnessFactory
) -> None:
    """A 503 is retried after 0.2 s and the batch is then delivered."""
    script.on(EVENTS_PATH, httpx.Response(503), ACCEPTED)
    h = harness()
    result = await h.call("post_events", [EVENT])
    assert result == DeliveryResult(1, 0, 0, None, 202)
    assert h.sleeps == [0.2]
    assert len(script.to(EVENTS_PATH)) == 2


async def test_retry_after_seconds_is_waited_exactly(
    script: Script, harness: HarnessFactory
) -> None:
    """A 429 with `Retry-After: 3` is retried after 3 s, not the 0.2 s backoff."""
    script.on(EVENTS_PATH, httpx.Response(429, headers={"Retry-After": "3"}), ACCEPTED)
    h = harness()
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert result.delivered == 1
    assert h.sleeps == [3.0]


async def test_retry_after_http_date_is_waited_until(
    script: Script, harness: HarnessFactory
) -> None:
    """A 429 with an HTTP-date `Retry-After` 5 s after the wall clock waits 5 s."""
    when = datetime.fromtimestamp(WALL_EPOCH_S + 5, tz=timezone.utc)
    retry = httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    script.on(AUTHORIZE_PATH, retry, httpx.Response(200, json=ALLOW))
    h = harness()
    decision = await h.call("authorize", {"permission": "payments:refund"}, deadline=h.clock() + 30)
    assert isinstance(decision, AuthDecision)
    assert decision.allowed
    assert h.sleeps == [5.0]


async def test_retry_after_beyond_the_cap_ends_the_call(
    script: Script, harness: HarnessFactory
) -> None:
    """A `Retry-After` of 120 s is over the 30 s cap: the call fails instead of retrying early."""
    script.on(EVENTS_PATH, httpx.Response(503, headers={"Retry-After": "120"}))
    h = harness()
    result = await h.call("post_events", [EVENT], deadline=h.clock() + 600)
    assert isinstance(result, DeliveryResult)
    assert (result.failed, result.status_code) == (1, 503)
    assert "cap" in (result.reason or "")
    assert h.sleeps == []


async def test_retries_exhausted_after_max_retries_with_doubling_backoff(
    script: Script, harness: HarnessFactory
) -> None:
    """An always-503 platform gets 1 + max_retries requests, 0.2/0.4/0.8 s apart, then fails."""
    script.on(EVENTS_PATH, httpx.Response(503))
    h = harness()
    result = await h.call("post_events", [EVENT, EVENT])
    assert result == DeliveryResult(0, 0, 2, "retries exhausted: 503", 503)
    assert h.sleeps == pytest.approx([0.2, 0.4, 0.8])
    assert len(script.to(EVENTS_PATH)) == 4


async def test_html_502_page_is_retried_then_decision_parsed(
    script: Script, harness: HarnessFactory
) -> None:
    """A proxy's HTML 502 page is a retryable failure, not a malformed decision."""
    page = httpx.Response(
        502, headers={"Content-Type": "text/html"}, text="<html>Bad Gateway</html>"
    )
    script.on(AUTHORIZE_PATH, page, httpx.Response(200, json=ALLOW))
    h = harness()
    decision = await h.call("authorize", {"permission": "payments:refund"})
    assert isinstance(decision, AuthDecision)
    assert decision.decision_id == "dec_1"


async def test_governance_raises_unavailable_after_retries(
    script: Script, harness: HarnessFactory
) -> None:
    """An authorize answered 502 every time raises `PlatformUnavailableError` with the status."""
    script.on(AUTHORIZE_PATH, httpx.Response(502, text="<html>Bad Gateway</html>"))
    h = harness()
    with pytest.raises(PlatformUnavailableError) as caught:
        await h.call("authorize", {"permission": "payments:refund"})
    assert caught.value.status_code == 502


async def test_400_is_rejected_once_and_logged_once(
    script: Script, harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A 400 is a permanent rejection: not retried, counted as rejected, warned about once."""
    script.on(EVENTS_PATH, httpx.Response(400, json={"error": "bad event"}))
    h = harness()
    with caplog.at_level(logging.DEBUG, logger="tracengent.transport"):
        first = await h.call("post_events", [EVENT])
        second = await h.call("post_events", [EVENT])
    assert isinstance(first, DeliveryResult)
    assert (first.rejected, first.failed, first.status_code) == (1, 0, 400)
    assert (first.reason or "").startswith("rejected: 400")
    assert second == first
    assert len(script.to(EVENTS_PATH)) == 2
    assert h.sleeps == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "tracengent.transport"


async def test_read_timeout_is_retried(script: Script, harness: HarnessFactory) -> None:
    """A read timeout is a transport error: retried, then delivered."""
    script.on(EVENTS_PATH, httpx.ReadTimeout("timed out"), ACCEPTED)
    h = harness()
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert result.delivered == 1
    assert h.sleeps == [0.2]


async def test_connection_refused_fails_without_raising_into_telemetry(mode: str) -> None:
    """A real closed loopback port: telemetry reports failure, governance raises unavailable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = TracengentOptions(
        agent_id="billing-agent", ingest_key="agk_test", base_url=f"http://127.0.0.1:{port}"
    )
    h = Harness(mode, None, options)
    try:
        result = await h.call("post_events", [EVENT])
        assert isinstance(result, DeliveryResult)
        assert result.failed == 1
        assert "ConnectError" in (result.reason or "")
        assert len(h.sleeps) == options.max_retries
        with pytest.raises(PlatformUnavailableError):
            await h.call("authorize", {"permission": "payments:refund"})
    finally:
        await h.close()


async def test_a_wait_past_the_deadline_ends_the_call(
    script: Script, harness: HarnessFactory
) -> None:
    """With 0.5 s left, the 0.4 s second backoff would pass the deadline: the call stops."""
    script.on(EVENTS_PATH, httpx.Response(503))
    h = harness()
    result = await h.call("post_events", [EVENT], deadline=h.clock() + 0.5)
    assert isinstance(result, DeliveryResult)
    assert result.failed == 1
    assert "deadline" in (result.reason or "")
    assert h.sleeps == [0.2]


async def test_each_request_timeout_is_bounded_by_the_deadline(
    script: Script, harness: HarnessFactory
) -> None:
    """The httpx timeout of a request is the time left when it is below `request_timeout_s`."""
    script.on(EVENTS_PATH, ACCEPTED)
    h = harness()
    await h.call("post_events", [EVENT], deadline=h.clock() + 2.5)
    timeout = script.to(EVENTS_PATH)[0].extensions["timeout"]
    assert timeout["read"] == pytest.approx(2.5)


async def test_stop_event_ends_backoff_at_once(script: Script, harness: HarnessFactory) -> None:
    """When shutdown has begun, a retryable failure is not waited on: the call ends."""
    script.on(EVENTS_PATH, httpx.Response(503))
    stop = threading.Event()
    stop.set()
    h = harness(stop_event=stop)
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert "shutting down" in (result.reason or "")
    assert h.sleeps == []
    assert len(script.to(EVENTS_PATH)) == 1


async def test_a_broken_transport_never_raises_from_post(
    script: Script, harness: HarnessFactory
) -> None:
    """A non-httpx exception in the transport is a failed delivery, and for governance a
    `PlatformError` that is not `PlatformUnavailableError` (an SDK failure is no outage)."""
    script.on(EVENTS_PATH, RuntimeError("boom"))
    script.on(AUTHORIZE_PATH, RuntimeError("boom"))
    h = harness()
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert result.failed == 1
    assert "boom" in (result.reason or "")
    with pytest.raises(PlatformError) as caught:
        await h.call("authorize", {"permission": "payments:refund"})
    assert not isinstance(caught.value, PlatformUnavailableError)


async def test_platform_calls_run_with_instrumentation_suppressed(
    script: Script, harness: HarnessFactory
) -> None:
    """Every platform request, the token fetch included, runs under suppress_instrumentation
    and marked as the SDK's own (egress gates let only those through)."""
    seen: list[tuple[bool, object]] = []

    def answer(status: int, body: object) -> httpx.Response:
        seen.append((is_instrumentation_enabled(), get_value(PLATFORM_CALL_KEY)))
        return httpx.Response(status, json=body)

    script.on("/v1/oauth/token", lambda _: answer(200, {"access_token": "a.b.c"}))
    script.on(AUTHORIZE_PATH, lambda _: answer(200, ALLOW))
    h = harness()
    await h.call("authorize", {"permission": "payments:refund"})
    assert seen == [(False, True), (False, True)]
    assert is_instrumentation_enabled()
    assert get_value(PLATFORM_CALL_KEY) is None
