"""The exporter over the real `PlatformClient`, its HTTP answered by `httpx.MockTransport`."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Callable

import httpx
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from opentelemetry.exporter.tracengent import DropReason, TracengentSpanExporter
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient

from .conftest import SpanMaker

TRACE = "trc_" + "d" * 48
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests (bodies decoded) and answers by path."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[tuple[str, JsonValue]] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw = request.content
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        body: JsonValue = None
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw)
        self.requests.append((request.url.path, body))
        if self._answer is not None:
            return self._answer(request)
        return httpx.Response(202, json={"accepted": True})


def platform_exporter(
    handler: Handler, options: TracengentOptions
) -> tuple[TracengentSpanExporter, threading.Event]:
    """An exporter over a real PlatformClient whose backoff never really sleeps."""
    stop = threading.Event()
    client = PlatformClient(
        options,
        transport=httpx.MockTransport(handler),
        stop_event=stop,
        sleep=lambda seconds: False,
    )
    exporter = TracengentSpanExporter(options, platform=client, stop_event=stop)
    return exporter, stop


def test_events_then_trace_close_reach_their_endpoints(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """The events batch goes to /v1/ingest/events, then the close to /v1/ingest/traces."""
    recorder = Recorder()
    exporter, _ = platform_exporter(recorder, options)
    spans = [
        make_span("step", {A.EVENT_TYPE: "action", A.TRACE_ID: TRACE, A.INPUT: '"x"' * 400}),
        make_span(
            "root",
            {
                A.GEN_AI_OPERATION_NAME: "invoke_agent",
                A.TRACE_ID: TRACE,
                A.TRACE_ROOT_REQUEST: "do it",
            },
        ),
    ]
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    paths = [path for path, _ in recorder.requests]
    assert paths == ["/v1/ingest/events", "/v1/ingest/traces"]
    events = recorder.requests[0][1]
    assert isinstance(events, list)
    assert isinstance(events[0], dict)
    assert (events[0]["name"], events[0]["traceId"]) == ("step", TRACE)
    close = recorder.requests[1][1]
    assert isinstance(close, dict)
    assert (close["op"], close["status"], close["rootRequest"]) == ("Close", "completed", "do it")
    assert (exporter.stats.delivered, exporter.stats.traces_closed) == (1, 1)


def test_a_permanent_4xx_is_counted_rejected(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """A 400 answer is not retried and its events are counted `rejected`."""
    recorder = Recorder(lambda request: httpx.Response(400, json={"error": "bad"}))
    exporter, _ = platform_exporter(recorder, options)
    spans = [make_span(f"a{i}", {A.EVENT_TYPE: "action"}) for i in range(3)]
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(recorder.requests) == 1
    assert exporter.stats.dropped(DropReason.REJECTED) == 3


def test_persistent_5xx_is_counted_retries_exhausted(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """503 on every attempt: retried max_retries times, then counted `retries_exhausted`."""
    options.max_retries = 2
    recorder = Recorder(lambda request: httpx.Response(503))
    exporter, _ = platform_exporter(recorder, options)
    exporter.export([make_span("a", {A.EVENT_TYPE: "action"})])
    assert len(recorder.requests) == 3
    assert exporter.stats.dropped(DropReason.RETRIES_EXHAUSTED) == 1


def test_a_disabled_agent_is_counted_agent_disabled(make_span: SpanMaker) -> None:
    """A 401 from the token endpoint disables the agent: its events are `agent_disabled`."""
    options = TracengentOptions(agent_id="a", client_id="key_a", client_secret="ags_a")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth/token":
            return httpx.Response(401, json={"error": "disabled"})
        return httpx.Response(202)

    exporter, _ = platform_exporter(Recorder(answer), options)
    exporter.export([make_span("a", {A.EVENT_TYPE: "action"})])
    exporter.export([make_span("b", {A.EVENT_TYPE: "action"})])
    assert exporter.stats.dropped(DropReason.AGENT_DISABLED) == 2


def test_a_404_from_the_token_endpoint_is_counted_rejected(
    make_span: SpanMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """A token endpoint answering 404 (a wrong base_url path) reached the platform and is not
    retried: its events are counted `rejected`, and the log keeps the base_url hint."""
    options = TracengentOptions(
        agent_id="a", client_id="key_a", client_secret="ags_a", base_url="http://localhost:8080/v1"
    )
    recorder = Recorder(lambda request: httpx.Response(404))
    exporter, _ = platform_exporter(recorder, options)
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        exporter.export([make_span("a", {A.EVENT_TYPE: "action"})])
    assert [path for path, _ in recorder.requests] == ["/v1/v1/oauth/token"]
    assert exporter.stats.dropped(DropReason.REJECTED) == 1
    assert exporter.stats.dropped(DropReason.RETRIES_EXHAUSTED) == 0
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "could not be reached" not in logged
    assert "retries exhausted" not in logged
    assert "base_url / TRACENGENT_URL" in logged


def test_backoff_interrupted_by_shutdown_counts_shutdown_timeout(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """When the stop event is set, a retrying batch ends and is counted `shutdown_timeout`."""
    exporter, stop = platform_exporter(Recorder(lambda request: httpx.Response(503)), options)
    stop.set()
    exporter.export([make_span("a", {A.EVENT_TYPE: "action"})])
    assert exporter.stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 1


@pytest.mark.parametrize("count", [1, 150])
def test_default_platform_client_is_built_from_the_transport(
    make_span: SpanMaker, options: TracengentOptions, count: int
) -> None:
    """Without a platform, the exporter builds its own client over `transport` and closes it."""
    recorder = Recorder()
    exporter = TracengentSpanExporter(options, transport=httpx.MockTransport(recorder))
    exporter.export([make_span(f"a{i}", {A.EVENT_TYPE: "action"}) for i in range(count)])
    exporter.shutdown()
    bodies = [body for _, body in recorder.requests]
    assert sum(len(body) for body in bodies if isinstance(body, list)) == count
    assert exporter.stats.delivered == count
