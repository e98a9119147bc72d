"""A platform answering a redirect (an http base_url in front of an https-only platform, a moved
host): platform calls follow none, so the answer is a rejection; its reason must say it was a
redirect, where to (without the target's query), and which setting to change, not that the
platform refused a 4xx.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry.exporter.tracengent import TracengentSpanExporter
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._stats import DropReason
from opentelemetry.exporter.tracengent.errors import PlatformRejectedError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient
from tests.support.chaos import EVENTS_PATH, Answer, ChaosServer, sequence

EVENT: JsonObject = {"agentId": "chaos-agent", "type": "action", "name": "a", "status": "success"}


def _options(url: str) -> TracengentOptions:
    return TracengentOptions(
        agent_id="chaos-agent", base_url=url, ingest_key="agk_chaos", request_timeout_s=2.0
    )


def _redirect(status: int, location: str) -> Answer:
    return Answer(status, b"", headers=(("Location", location),))


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirected_batch_says_where_the_platform_is(chaos: ChaosServer, status: int) -> None:
    """The reason names the redirect and the base URL it points at; the target's query (which
    may hold a signature) is not shown."""
    target = "https://platform.example.com/v1/ingest/events?sig=s3cr3t"
    chaos.on(EVENTS_PATH, sequence(then=_redirect(status, target)))
    platform = PlatformClient(_options(chaos.url))
    try:
        result = platform.post_events([EVENT])
    finally:
        platform.close()
    assert (result.delivered, result.rejected, result.status_code) == (0, 1, status)
    assert len(chaos.to(EVENTS_PATH)) == 1  # not retried
    reason = result.reason or ""
    assert f"rejected: {status}" in reason
    assert "redirect to https://platform.example.com/v1/ingest/events" in reason
    assert "base_url / TRACENGENT_URL" in reason
    assert "https://platform.example.com" in reason.split("base_url / TRACENGENT_URL")[1]
    assert "s3cr3t" not in reason


def test_a_relative_redirect_is_resolved_against_the_url_tried(chaos: ChaosServer) -> None:
    """`Location: /platform/v1/ingest/events` names a path on the same host: the reason shows
    the whole address and the base URL it implies."""
    chaos.on(EVENTS_PATH, sequence(then=_redirect(308, "/platform/v1/ingest/events")))
    platform = PlatformClient(_options(chaos.url))
    try:
        reason = platform.post_events([EVENT]).reason or ""
    finally:
        platform.close()
    assert f"redirect to {chaos.url}/platform/v1/ingest/events" in reason
    assert f"{chaos.url}/platform" in reason.split("base_url / TRACENGENT_URL")[1]


def test_a_redirected_governance_call_denies_with_the_same_reason(chaos: ChaosServer) -> None:
    """A governance call is not made elsewhere either: it fails (a deny upstream) with a
    reason naming the redirect."""
    chaos.on("/v1/authorize", sequence(then=_redirect(301, "https://platform.example.com/")))
    platform = PlatformClient(_options(chaos.url))
    try:
        with pytest.raises(PlatformRejectedError) as raised:
            platform.authorize({"permission": "payments:refund"})
    finally:
        platform.close()
    assert raised.value.status_code == 301
    assert "redirect to https://platform.example.com/" in str(raised.value)


def test_the_drop_warning_of_a_redirect_does_not_call_it_a_4xx(
    chaos: ChaosServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The first `rejected` drop is logged with its cause: for a redirect, not 'a 4xx'."""
    chaos.on(EVENTS_PATH, sequence(then=_redirect(301, "https://platform.example.com/")))
    exporter = TracengentSpanExporter(_options(chaos.url))
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with (
        caplog.at_level(logging.WARNING, logger="tracengent.export"),
        tracer.start_as_current_span("a", attributes={A.EVENT_TYPE: "action"}),
    ):
        pass
    provider.shutdown()
    assert exporter.stats.dropped(DropReason.REJECTED) == 1
    warnings = [r.getMessage() for r in caplog.records if "(rejected)" in r.getMessage()]
    assert len(warnings) == 1
    assert "a 4xx, not retried" not in warnings[0]
    assert "redirect to https://platform.example.com/" in warnings[0]
