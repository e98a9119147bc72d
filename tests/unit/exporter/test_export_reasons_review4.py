"""`export()` without a deadline (OTel's `BatchSpanProcessor`): what the platform client's own
per-call deadline cuts off is an outage outlasting the retries, never a shutdown timeout."""

from __future__ import annotations

import threading

import httpx
from opentelemetry.sdk.trace.export import SpanExportResult

from opentelemetry.exporter.tracengent import DropReason, TracengentSpanExporter
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient

from .conftest import SpanMaker


def test_a_retry_after_past_the_call_deadline_is_not_a_shutdown_timeout(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """A 503 asking for 20 s (under the 30 s cap, past the 10 s call deadline) ends the call:
    with no shutdown anywhere, its events are `retries_exhausted`."""
    options.request_timeout_s = 10.0
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(503, headers={"Retry-After": "20"})

    stop = threading.Event()
    client = PlatformClient(
        options, transport=httpx.MockTransport(answer), stop_event=stop, sleep=lambda s: False
    )
    exporter = TracengentSpanExporter(options, platform=client, stop_event=stop)
    spans = [make_span(f"a{i}", {A.EVENT_TYPE: "action"}) for i in range(2)]
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(requests) == 1
    assert exporter.stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 0
    assert exporter.stats.dropped(DropReason.RETRIES_EXHAUSTED) == 2


def test_an_unreachable_platform_whose_address_says_disabled_is_not_a_disabled_agent(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """The failure's text names the address tried; a host called `disabled...` does not make an
    outage a disabled agent: only the token endpoint's 401 is `agent_disabled`."""
    options.base_url = "http://disabled.platform.invalid"
    options.max_retries = 0

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    stop = threading.Event()
    client = PlatformClient(
        options, transport=httpx.MockTransport(unreachable), stop_event=stop, sleep=lambda s: False
    )
    exporter = TracengentSpanExporter(options, platform=client, stop_event=stop)
    assert exporter.export([make_span("a", {A.EVENT_TYPE: "action"})]) is SpanExportResult.FAILURE
    assert exporter.stats.dropped(DropReason.AGENT_DISABLED) == 0
    assert exporter.stats.dropped(DropReason.RETRIES_EXHAUSTED) == 1
